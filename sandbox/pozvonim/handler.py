"""One pipeline for every signed operation, in the order sandbox/vendor.py sets for all vendors:

    auth (token, IP, sign) -> `arrive`: admit (rate limit, 5xx), then latency -> the operation -> respond

An operation is a plain function of a `Ctx` returning an `Answer`, or raising ApiError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..state import STATE, SandboxState
from ..vendor import arrive
from .auth import authenticate, read_params
from .query import Nested
from .store import Account, PozvonimState, pozvonim_state
from .wire import ERROR_BODIES, Answer, ApiError, error_reply, invalid, new_row, respond

Operation = Callable[["Ctx"], Answer]


@dataclass
class Ctx:
    request: web.Request
    ps: PozvonimState
    account: Account
    params: Nested

    @property
    def tz(self) -> str:
        return self.account.timezone

    def path_id(self, name: str = "id") -> int:
        value = self.request.match_info[name]
        if not value.isdigit():
            raise invalid(f"{name} must be a number")
        return int(value)

    def row(self, kind: str, **fields: Any) -> dict[str, Any]:
        return new_row(kind, self.account.uid, **fields)



def signed(operation: Operation) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        state: SandboxState = request.app[STATE]
        ps = pozvonim_state(state)
        try:
            params = await read_params(request)
            caller: str | web.Response = authenticate(ps, params, request.remote or "")  # the uid
        except ApiError as exc:
            caller = error_reply(state, exc)
        refused = await arrive(state, caller, ERROR_BODIES)
        if refused is not None:
            return refused
        params = {key: value for key, value in params.items() if key not in ("uid", "sign")}
        try:
            answer = operation(Ctx(request, ps, ps.account(caller), params))
        except ApiError as exc:
            return error_reply(state, exc)
        return await respond(state, answer)

    handle.__name__ = operation.__name__
    return handle
