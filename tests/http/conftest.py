"""Fixtures shared by the HTTP tests."""

from __future__ import annotations

import pytest
import urllib3

from tests.support.raw_http import RawServer


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


@pytest.fixture
def no_urllib3(monkeypatch) -> None:
    """Every call in the test goes over the lean transport: one through urllib3 fails the test."""
    def refused(*args, **kwargs):
        raise AssertionError("the call went through urllib3")
    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", refused)


@pytest.fixture
def serve():
    """RawServer(handle) for the test, closed after it."""
    servers: list[RawServer] = []
    yield lambda handle: servers.append(RawServer(handle)) or servers[-1]
    for server in servers:
        server.close()
