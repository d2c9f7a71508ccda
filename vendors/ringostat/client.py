"""Ringostat client: Power Dialer campaign rows (one number per request)."""

from __future__ import annotations

from typing import Any

import requests

from vendors import errors
from vendors.http import DEFAULT_TIMEOUT_S, VendorHttp, body_of
from vendors.surprises import unexpected

from .models import CampaignRow, ResultReply, RingostatCredentials

VENDOR = "ringostat"
CAMPAIGN_ROWS_PATH = "/power-dialer/campaigns/campaign-rows"


def ringostat_headers(credentials: RingostatCredentials) -> dict[str, str]:
    """The headers of every Ringostat call (Power Dialer and minicrm alike)."""
    return {
        "Auth-key": credentials.auth_key.get_secret_value(),
        "x-project-id": str(credentials.project_id),
        "Content-Type": "application/json",
    }


class RingostatClient:
    """Plain HTTP over a caller-owned session; no retries here (the task layer decides)."""

    def __init__(
        self,
        credentials: RingostatCredentials,
        *,
        base_url: str,
        session: requests.Session,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._http = VendorHttp(VENDOR, base_url=base_url, session=session, headers=ringostat_headers(credentials),
                                timeout_s=timeout_s)

    def add_campaign_row(self, campaign_id: int, phone_number: str, fio: str = "") -> ResultReply:
        """Add one number to a Power Dialer campaign."""
        row = CampaignRow(campaign_id=campaign_id, phone_number=phone_number, fio=fio)
        return self._post(CAMPAIGN_ROWS_PATH, row.model_dump(by_alias=True))

    def _post(self, path: str, payload: dict[str, Any]) -> ResultReply:
        response = self._http.request("POST", path, json=payload)
        body = body_of(response)
        if isinstance(body, dict) and body.get("result") is False:
            raise errors.VendorRejected(
                f"result is false: {str(body)[:200]}", vendor=VENDOR, status=response.status_code, body=body,
            )
        if not isinstance(body, dict) or body.get("result") is not True:
            return unexpected(VENDOR, path, "expected {\"result\": true}", body)  # a 2xx: applied
        return ResultReply.model_validate(body)
