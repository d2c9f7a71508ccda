"""SalesScriptPrompter tasks: every operation of API v2, one task each.

Results are the client's models as JSON. Secrets stay out of them: user/check's echoed
key and user/list's auth tokens come out masked, and user.auth takes a user id only (the
worker looks the token up with user/list, two requests on one limiter slot).
"""

from __future__ import annotations

from pydantic import Field

from tasks import reconcile
from tasks.operations import OperationPayload, operation
from vendors.salesscriptprompter import FieldChange, NewField

PREFIX = "salesscriptprompter"


class AccountPayload(OperationPayload):
    """Only the account alias: the operation takes no parameters."""


class UserAuthPayload(OperationPayload):
    """Authorize a user (user/auth) by id; the result is the redirect, not followed."""

    user_id: int = Field(gt=0)


class AttachRecordPayload(OperationPayload):
    """Attach a conversation record's URL to a call (call id from the vendor's webhooks)."""

    call_id: int = Field(gt=0)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)


class FieldCreatePayload(OperationPayload, NewField):
    """Create a custom field; `type_data` holds the choices of a field of type `in`."""


class FieldUpdatePayload(OperationPayload, FieldChange):
    """Change a custom field, found by its code; give at least one of name, type, type_data."""


class FieldDeletePayload(OperationPayload):
    """Delete a custom field by its code."""

    code: str = Field(min_length=1, max_length=255)


def _without_account(payload: OperationPayload) -> dict:
    return payload.model_dump(exclude={"account"})


check_key = operation(f"{PREFIX}.user.check", AccountPayload, lambda c, p: c.check_key(),
                      doc="Check the account's API key (user/check); the echoed key is masked.", idempotent=True)
list_users = operation(f"{PREFIX}.user.list", AccountPayload, lambda c, p: c.list_users(),
                       doc="List users with roles (user/list); auth tokens are masked.", idempotent=True)
authorize_user = operation(f"{PREFIX}.user.auth", UserAuthPayload, lambda c, p: c.authorize_user(p.user_id),
                           idempotent=True)
list_scripts = operation(f"{PREFIX}.script.list", AccountPayload, lambda c, p: c.list_scripts(),
                         doc="List scripts with their published flag (script/list).", idempotent=True)
attach_record = operation(f"{PREFIX}.call.attach_record", AttachRecordPayload,
                          lambda c, p: c.attach_call_record(p.call_id, p.url), idempotent=True)
list_fields = operation(f"{PREFIX}.field.list", AccountPayload, lambda c, p: c.list_fields(),
                        doc="List custom fields (field/list).", idempotent=True)
create_field = operation(f"{PREFIX}.field.create", FieldCreatePayload,
                         lambda c, p: c.create_field(NewField(**_without_account(p))),
                         idempotent=False, reconcile=reconcile.SSP_FIELD)
update_field = operation(f"{PREFIX}.field.update", FieldUpdatePayload,
                         lambda c, p: c.update_field(FieldChange(**_without_account(p))), idempotent=True)
delete_field = operation(f"{PREFIX}.field.delete", FieldDeletePayload, lambda c, p: c.delete_field(p.code),
                         idempotent=True)
