"""SalesScriptPrompter API v2 models: replies, and the parameters checked before a request.

Contract: ../shared/vendor-docs/salesscriptprompter-api-v2.txt. Keys and auth tokens are
SecretStr: masked whenever a model is dumped (task results, logs).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

FieldType = Literal["string", "number", "date", "boolean", "in"]


class KeyCheck(BaseModel):
    """user/check: the vendor echoes the key back; it stays masked in results and logs."""

    key: SecretStr
    user_id: int


class User(BaseModel):
    id: int
    role: str
    login: str
    #: what user/auth needs; masked whenever the model is dumped (task results, logs)
    auth_token: SecretStr


class Script(BaseModel):
    id: int
    name: str
    published: bool  # the doc sends 0/1


class CustomField(BaseModel):
    id: int
    code: str
    account_id: int
    name: str
    type: FieldType
    type_data: str = ""


class ResultReply(BaseModel):
    """`{result: true}`; `result: false` never gets here, it is raised as VendorRejected.
    Other fields the vendor adds are kept: the result shows all it said."""

    model_config = ConfigDict(extra="allow")

    result: bool = True


class AuthRedirect(BaseModel):
    """What user/auth answered, without following it: normally 302 to the main page."""

    status: int
    #: absolute URL the vendor redirects to; None when it answered without a redirect
    location: str | None = None
    #: whether the answer set a cookie, i.e. the browser would now be logged in
    session_started: bool = False


class NewField(BaseModel):
    """field/create parameters."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(min_length=1, max_length=255, pattern=r"^\S+$")
    name: str = Field(min_length=1, max_length=255)
    type: FieldType
    type_data: str | None = Field(default=None, description="choice options, e.g. 'М, Ж'; for type `in`")

    @model_validator(mode="after")
    def _choices_for_in(self) -> NewField:
        if self.type == "in" and not (self.type_data or "").strip():
            raise ValueError("type_data (the choices) is required for a field of type `in`")
        return self


class FieldChange(BaseModel):
    """field/update parameters: the code names the field, the rest is what changes."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(min_length=1, max_length=255, pattern=r"^\S+$")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    type: FieldType | None = None
    type_data: str | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> FieldChange:
        if self.name is None and self.type is None and self.type_data is None:
            raise ValueError("nothing to change: give name, type or type_data")
        return self


class CallRecord(BaseModel):
    """call/attach-record parameters: the call (id from a webhook) and its audio URL."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(gt=0)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
