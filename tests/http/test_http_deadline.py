"""One HTTP call ends by its total deadline, whatever the vendor trickles; 5xx and 503 are classed."""

from __future__ import annotations

import time

import pytest

from sandbox import start_sandbox
from vendors import deadline, errors
from vendors.http import new_session, send


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox() as s:
        yield s


def timed_call(url: str, **kwargs) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        send(new_session(), "test", "GET", url, **kwargs)
    except errors.VendorError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize("part", ["body", "head"])
def test_a_vendor_trickling_a_byte_a_second_is_cut_at_the_total_deadline(sandbox, part):
    # Given a vendor that answers one byte a second, well inside the 3 s read timeout (per gap)
    url = f"{sandbox.url}/_sandbox/trickle?bytes=20&interval_s=1&head={int(part == 'head')}"
    # When one call with a total of 1.5 s is made
    took_s, error = timed_call(url, timeout_s=(1.0, 3.0, 1.5))
    # Then it ends at the deadline as a timeout (the request was sent: an unknown outcome), not 20 s later
    assert isinstance(error, errors.VendorTimeout), error
    assert 1.4 <= took_s < 2.5
    assert "within 1.5 s" in str(error)


def test_an_outer_deadline_bounds_every_call_inside_it(sandbox):
    # Given a send budget of 1 s around a call whose own total is 10 s
    url = f"{sandbox.url}/_sandbox/trickle?bytes=20&interval_s=0.5"
    with deadline.within(1.0):
        took_s, error = timed_call(url, timeout_s=(1.0, 3.0, 10.0))
        # Then the call ends at the outer deadline, and a call started after it sends nothing
        assert isinstance(error, errors.VendorTimeout) and 0.9 <= took_s < 2.0
        _, late = timed_call(f"{sandbox.url}/_sandbox/health")
    assert isinstance(late, errors.VendorConnectionError) and "nothing was sent" in str(late)


def test_a_quick_answer_is_read_whole_under_a_deadline(sandbox):
    took_s, error = timed_call(f"{sandbox.url}/_sandbox/trickle?bytes=5&interval_s=0.01", timeout_s=(1.0, 1.0, 5.0))
    assert error is None and took_s < 1.0


class Answer:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code, self.headers, self.reason, self.text = status, headers or {}, "x", "x"

    def json(self):
        return {"message": "x"}


@pytest.mark.parametrize("status, headers, expected", [
    (502, {}, errors.VendorServerError),
    (504, {}, errors.VendorServerError),
    (500, {}, errors.VendorServerError),
    (503, {}, errors.VendorServerError),
    (503, {"Retry-After": "7"}, errors.VendorUnavailable),
    (429, {"Retry-After": "2"}, errors.RateLimited),
    (408, {}, errors.VendorNotProcessed),
])
def test_statuses_are_classed_by_whether_the_vendor_may_have_applied_the_request(status, headers, expected):
    from vendors.http import raise_for_status

    with pytest.raises(errors.VendorError) as info:
        raise_for_status(Answer(status, headers), "test")
    assert type(info.value) is expected
    # 5xx without a promise that nothing was applied: sending again is a possible duplicate
    assert isinstance(info.value, errors.OutcomeUnknown) == (expected is errors.VendorServerError)
    if expected is errors.VendorUnavailable:
        assert info.value.retry_after_s == 7.0


@pytest.fixture
def recorder():
    """A local HTTP server that records the path of every request it receives."""
    import http.server
    import threading

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_request_past_its_time_to_start_sends_nothing_and_the_next_one_goes(recorder):
    url, seen = recorder
    session = new_session()
    send(session, "test", "GET", f"{url}/warm")  # the connection is open: only the request is left to go
    # When a send's first request is made after the time it had to start by
    with deadline.start_by(time.monotonic() - 0.001):
        with pytest.raises(deadline.StartPassed):
            send(session, "test", "GET", f"{url}/late")
        # Then not a byte of it reached the vendor, and the send's next request is not bound by it
        send(session, "test", "GET", f"{url}/second")
    # And a first request made in time goes
    with deadline.start_by(time.monotonic() + 5):
        send(session, "test", "GET", f"{url}/in-time")
    assert seen == ["/warm", "/second", "/in-time"]
