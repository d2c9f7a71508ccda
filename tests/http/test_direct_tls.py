"""https over the lean transport (vendors.direct) is verified as over urllib3: against the CA
bundle requests uses (certifi), with the hostname checked; an unverified session goes through
urllib3."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3

from vendors import direct, errors
from vendors.deadline_adapter import DeadlineAdapter
from vendors.http import VendorHttp, new_session

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "16")
        self.end_headers()
        self.wfile.write(b'{"result": true}')

    def log_message(self, *args) -> None:
        pass


def serve_tls(where, *subject_alt_name: str) -> tuple[ThreadingHTTPServer, str]:
    """An https server on a self-signed certificate for CN=localhost (and `-addext` the given
    subjectAltName, if any); the server and the certificate's path."""
    cert, key = where / "cert.pem", where / "key.pem"
    extensions = ["-addext", subject_alt_name[0]] if subject_alt_name else []
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", *extensions],
                   check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, str(cert)


@pytest.fixture(scope="module")
def tls_vendor(tmp_path_factory):
    """(port, certificate): an https server whose self-signed certificate names only localhost."""
    server, cert = serve_tls(tmp_path_factory.mktemp("tls"), "subjectAltName=DNS:localhost")
    yield server.server_address[1], cert
    server.shutdown()


@pytest.fixture(scope="module")
def cn_only_vendor(tmp_path_factory):
    """(port, certificate): a self-signed certificate naming localhost in its common name only."""
    server, cert = serve_tls(tmp_path_factory.mktemp("tls-cn"))
    yield server.server_address[1], cert
    server.shutdown()


@pytest.fixture
def trusting(monkeypatch, tls_vendor):
    """requests' CA bundle replaced by the test server's certificate."""
    monkeypatch.setattr(direct, "DEFAULT_CA_BUNDLE_PATH", tls_vendor[1])
    direct._tls_context.cache_clear()
    yield
    direct._tls_context.cache_clear()


def get(url: str, session=None):
    return VendorHttp("test", base_url=url, session=session or new_session(base_url=url), headers={}).request("GET", "/")


def test_the_default_verification_is_requests_ca_bundle_with_the_hostname_checked():
    context = direct._tls_context(True)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) > 50  # certifi's roots, not an empty store


def test_a_certificate_no_ca_vouches_for_fails_as_over_urllib3(tls_vendor, urllib3_calls):
    port, _ = tls_vendor
    with pytest.raises(errors.OutcomeUnknown, match="CERTIFICATE_VERIFY_FAILED") as lean:
        get(f"https://localhost:{port}")
    assert urllib3_calls == []
    # urllib3's path ends the same way (requests.exceptions.SSLError, classed by vendors.http)
    session = new_session(base_url=f"https://localhost:{port}")
    session.mount("https://", DeadlineAdapter(max_retries=0))
    with pytest.raises(errors.OutcomeUnknown, match="CERTIFICATE_VERIFY_FAILED") as via_urllib3:
        get(f"https://localhost:{port}", session)
    assert type(lean.value.__cause__) is type(via_urllib3.value.__cause__)


def test_a_trusted_certificate_serves_its_own_host_only(tls_vendor, trusting, urllib3_calls):
    port, _ = tls_vendor
    assert get(f"https://localhost:{port}").json() == {"result": True}
    with pytest.raises(errors.OutcomeUnknown, match="match|mismatch"):
        get(f"https://127.0.0.1:{port}")  # the certificate names localhost only
    assert urllib3_calls == []


def test_a_session_not_verifying_goes_through_urllib3(tls_vendor, urllib3_calls):
    port, _ = tls_vendor
    session = new_session(base_url=f"https://localhost:{port}")
    session.verify = False
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        assert get(f"https://localhost:{port}", session).json() == {"result": True}
    assert urllib3_calls == ["/"]


def test_a_certificate_naming_the_host_in_its_common_name_only_fails_as_over_urllib3(cn_only_vendor, monkeypatch,
                                                                                      urllib3_calls):
    # Given a CA bundle that trusts the certificate, which has no subjectAltName
    port, cert = cn_only_vendor
    monkeypatch.setattr(direct, "DEFAULT_CA_BUNDLE_PATH", cert)
    direct._tls_context.cache_clear()
    try:
        # When it is called over the lean transport, then the hostname does not match, as over urllib3
        with pytest.raises(errors.OutcomeUnknown, match="CERTIFICATE_VERIFY_FAILED|match") as lean:
            get(f"https://localhost:{port}")
        assert urllib3_calls == []
        session = new_session(base_url=f"https://localhost:{port}")
        session.verify = cert
        session.mount("https://", DeadlineAdapter(max_retries=0))
        with pytest.raises(errors.OutcomeUnknown, match="CERTIFICATE_VERIFY_FAILED|match") as via_urllib3:
            get(f"https://localhost:{port}", session)
        assert type(lean.value.__cause__) is type(via_urllib3.value.__cause__)
    finally:
        direct._tls_context.cache_clear()


def test_the_context_is_urllib3s_never_checking_the_common_name():
    context = direct._tls_context(True)
    assert context.hostname_checks_common_name is False
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("content", [b"", b"not a certificate\n"])
def test_a_ca_bundle_that_is_not_one_fails_the_call_as_a_vendor_error_through_urllib3(tls_vendor, tmp_path, content,
                                                                                      urllib3_calls):
    port, _ = tls_vendor
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(content)
    session = new_session(base_url=f"https://localhost:{port}")
    session.verify = str(bundle)
    for _ in range(2):  # the second call finds the answer cached, and ends the same way
        with pytest.raises(errors.OutcomeUnknown, match="SSL|certificate|crl"):
            get(f"https://localhost:{port}", session)
    assert urllib3_calls == ["/", "/"]
    assert direct._tls_context.cache_info().currsize >= 1 and direct._tls_context(str(bundle)) is None
