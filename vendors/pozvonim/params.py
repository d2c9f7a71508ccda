"""The base of every Pozvonim request model, and the value formats the doc fixes.

Field names are the doc's parameter names. Optional parameters left as None are not sent,
and the vendor applies its own default. Flags are `bool` and go out as 1/0 (what PHP's
http_build_query makes of true/false, and what the doc's parameter tables show).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr

#: "2015-10-02 17:58:43": the doc's DATETIME, in the profile's time zone
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PHONE_PATTERN = r"^\+?\d{10,15}$"


def datetime_param(value: datetime) -> str:
    return value.strftime(DATETIME_FORMAT)


#: hidden from repr and logs, but kept in JSON: a task message must carry the real value
Password = Annotated[SecretStr, Field(min_length=6),
                     PlainSerializer(lambda secret: secret.get_secret_value(), return_type=str, when_used="json")]


class Params(BaseModel):
    """A request model: unknown fields are typos, not data."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    def params(self) -> dict[str, Any]:
        """The request parameters (None left out), ready for signing.build_query."""
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)
