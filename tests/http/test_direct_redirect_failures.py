"""A call whose vendor answered with a redirect reached the vendor: when the redirect's target
cannot be connected to, the outcome is unknown, never "nothing sent" (which a caller may re-send
blindly), over the lean transport (vendors.direct) and over urllib3 alike."""

from __future__ import annotations

import socket

import pytest

from tests.support.raw_http import RawServer
from vendors import errors
from vendors.deadline_adapter import DeadlineAdapter
from vendors.http import VendorHttp, new_session


def refused_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        return f"http://127.0.0.1:{closed.getsockname()[1]}/elsewhere"


def redirecting_to(location: str, status: int) -> RawServer:
    answer = f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()

    def handle(conn, server):
        while server.read_request(conn) is not None:
            conn.sendall(answer)
    return RawServer(handle)


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("transport", ["direct", "urllib3"])
def test_a_redirect_whose_target_refuses_is_an_unknown_outcome(transport, status, urllib3_calls):
    # Given a vendor that answers a POST with a redirect to a port nobody listens on
    server = redirecting_to(refused_url(), status)
    try:
        session = new_session(base_url=server.url)
        if transport == "urllib3":
            session.mount("http://", DeadlineAdapter(max_retries=0))
        http = VendorHttp("test", base_url=server.url, session=session, headers={}, timeout_s=(1.0, 1.0, 5.0))
        # When the call is made, then it reached the vendor: its outcome is unknown, it is not "nothing sent"
        with pytest.raises(errors.OutcomeUnknown, match="redirected, then connection failed") as failed:
            http.send("POST", "/rows", json={"a": 1})
        assert not isinstance(failed.value, errors.VendorConnectionError)
        assert len(server.received) == 1
        assert bool(urllib3_calls) == (transport == "urllib3")
    finally:
        server.close()


def test_a_refused_first_hop_is_still_nothing_sent(urllib3_calls):
    http = VendorHttp("test", base_url=refused_url(), session=new_session(), headers={})
    with pytest.raises(errors.VendorConnectionError, match="connection failed") as failed:
        http.send("POST", "/rows", json={"a": 1})
    assert "redirected" not in str(failed.value)
