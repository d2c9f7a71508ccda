"""SandboxControl: a small requests client for the /_sandbox/ endpoints."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_S = 10.0


class SandboxControl:
    def __init__(self, url: str, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, f"{self.url}/_sandbox/{path}", timeout=self.timeout_s, **kwargs)
        if not response.ok:
            # Surface the sandbox's own message (e.g. why a config was refused).
            raise RuntimeError(f"sandbox {method} {path}: HTTP {response.status_code} {response.text}")
        return response.json()

    def health(self) -> bool:
        return bool(self._call("GET", "health").get("ok"))

    def stats(self) -> dict[str, Any]:
        """{"requests", "accepted", "status_counts": {"200": n, ...}, "hangs", "duplicates"}"""
        return self._call("GET", "stats")

    def rows(
        self,
        project: str | int | None = None,
        campaign: int | None = None,
        vendor: str = "ringostat",
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Accepted rows, oldest first; for Ringostat
        {"project", "campaign_id", "phone_number", "fio", "t", "arrived_t"}: "arrived_t" when the
        request arrived, "t" when it was applied (after any latency). Other vendors' filters go in **filters."""
        filters.update(project=project, campaign=campaign)
        params = {key: str(value) for key, value in filters.items() if value is not None}
        return self._call("GET", f"{vendor}/rows", params=params)["rows"]

    def config(self) -> dict[str, Any]:
        return self._call("GET", "config")

    def configure(self, **cfg: Any) -> dict[str, Any]:
        """Merge a partial config, e.g. configure(error_rate=0.1, rate_limits={"123": {"rate_per_s": 5}});
        returns the full config with keys masked."""
        return self._call("POST", "config", json=cfg)

    def reset(self) -> None:
        self._call("POST", "reset")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
