"""Obzvonilka's resources as the doc lists their attributes.

Answers (`ContactBase`, `Contact`, `User`) keep fields the doc does not list (extra="allow")
and take numbers where strings are documented: the vendor calls some fields internal and
may change them. What we send (`ContactFields`) is strict: an unknown field is a bug here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: digits, optionally after a `+`: what the doc's example sends ("987654321")
Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{5,15}$")]
Text = Annotated[str, Field(max_length=255)]
LongText = Annotated[str, Field(max_length=4000)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class ContactBase(_Answer):
    id: int
    name: str | None = None
    remark: str | None = None
    deleted: bool = False
    select_from_last: bool | None = None
    auto_open_window_params: Any = None
    parser_name: str | None = None
    parser_settings: Any = None
    use_predictive_call: Any = None


class User(_Answer):
    id: int
    name: str | None = None
    email: str | None = None
    account_enabled: bool | None = None
    admin: bool | None = None


class _ContactAttributes(BaseModel):
    """The writable attributes of a contact; phone1..10 each with its remark."""

    name: str | None = None
    address_string: str | None = None
    description: str | None = None
    email: str | None = None
    external_code: str | None = None
    www: str | None = None
    phone1: str | None = None
    phone2: str | None = None
    phone3: str | None = None
    phone4: str | None = None
    phone5: str | None = None
    phone6: str | None = None
    phone7: str | None = None
    phone8: str | None = None
    phone9: str | None = None
    phone10: str | None = None
    phone_remark1: str | None = None
    phone_remark2: str | None = None
    phone_remark3: str | None = None
    phone_remark4: str | None = None
    phone_remark5: str | None = None
    phone_remark6: str | None = None
    phone_remark7: str | None = None
    phone_remark8: str | None = None
    phone_remark9: str | None = None
    phone_remark10: str | None = None


class Contact(_Answer, _ContactAttributes):
    id: int


class ContactFields(_ContactAttributes):
    """What to write: fields left None are not sent (so PATCH leaves them as they are)."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    address_string: LongText | None = None
    description: LongText | None = None
    email: Text | None = None
    external_code: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    www: Text | None = None
    phone1: Phone | None = None
    phone2: Phone | None = None
    phone3: Phone | None = None
    phone4: Phone | None = None
    phone5: Phone | None = None
    phone6: Phone | None = None
    phone7: Phone | None = None
    phone8: Phone | None = None
    phone9: Phone | None = None
    phone10: Phone | None = None

    def form(self) -> dict[str, str]:
        """The doc's form fields: {"contact[name]": ..., "contact[phone1]": ...}."""
        return {f"contact[{name}]": value for name, value in self.model_dump(exclude_none=True).items()}


__all__ = ["Contact", "ContactBase", "ContactFields", "User"]
