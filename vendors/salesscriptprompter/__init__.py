"""SalesScriptPrompter API v2 (../shared/vendor-docs/salesscriptprompter-api-v2.txt): users,
scripts, call records, custom fields.

    client.py   SalesScriptPrompterClient
    models.py   replies, and the parameters checked before a request
"""

from .client import SECRET_REPLIES, VENDOR, SalesScriptPrompterClient
from .models import AuthRedirect, CallRecord, CustomField, FieldChange, FieldType, KeyCheck, NewField, ResultReply
from .models import Script, User

__all__ = [
    "SECRET_REPLIES", "VENDOR",
    "AuthRedirect", "CallRecord", "CustomField", "FieldChange", "FieldType", "KeyCheck", "NewField", "ResultReply",
    "SalesScriptPrompterClient", "Script", "User",
]
