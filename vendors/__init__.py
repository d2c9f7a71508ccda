"""Plain HTTP clients of the vendor APIs (no Celery here)."""

from vendors import errors
from vendors.ringostat import RingostatClient, RingostatCredentials

__all__ = ["RingostatClient", "RingostatCredentials", "errors"]
