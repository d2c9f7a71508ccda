"""Fixtures shared by the HTTP tests."""

from __future__ import annotations

import pytest
import urllib3


@pytest.fixture
def urllib3_calls(monkeypatch) -> list[str]:
    """The URLs urllib3's pools were asked to open during the test: which calls left the lean
    transport (vendors/direct.py) for urllib3."""
    calls: list[str] = []
    urlopen = urllib3.connectionpool.HTTPConnectionPool.urlopen

    def counted(pool, method, url, *args, **kwargs):
        calls.append(url)
        return urlopen(pool, method, url, *args, **kwargs)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", counted)
    return calls
