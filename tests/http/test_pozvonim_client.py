"""The Pozvonim client over real HTTP to the sandbox: every operation, tokens, errors."""

from __future__ import annotations

import http.client
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from pydantic import SecretStr

from sandbox import start_sandbox
from sandbox.pozvonim import DEFAULT_API_KEY, PozvonimControl
from vendors import errors
from vendors.http import new_session
from vendors.pozvonim import (
    CallRequest, CallsFilter, ContributorCallsFilter, DelayedCallRequest, Manager, MemoryTokenStore,
    NewContributor, NewContributorWithSite, Payment, PaymentSource, PozvonimClient, PozvonimCredentials,
    SiteConfig, SiteSettings, Token,
)
from vendors.pozvonim.signing import request_sign, signed_query
from workers.dev.devstack import free_port

DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
CONFIG = SiteConfig(site=SiteSettings(url="https://пример.рф/каталог", auto_payment=True),
                    managers=[Manager(phone="+79990001122", name="Іван")])


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox("--rate", "2002=2/1") as s:
        yield s


@pytest.fixture(scope="module")
def control(sandbox):
    c = PozvonimControl(sandbox.url)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def clean(sandbox, control):
    sandbox.control.reset()
    sandbox.control.configure(error_rate=0, hang_rate=0, latency_ms=0)
    control.reset()
    control.configure(accounts={"1001": DEFAULT_API_KEY, "2002": "key-2002"}, token_ttl_s=4 * 3600)


def client(sandbox, *, uid="1001", key=DEFAULT_API_KEY, store=None, session=None, base_url=None, **kwargs):
    return PozvonimClient(PozvonimCredentials(uid=uid, api_key=SecretStr(key)),
                          base_url=base_url or f"{sandbox.url}/pozvonim/v2u", session=session or new_session(),
                          token_store=store or MemoryTokenStore(), timeout_s=(1.0, 3.0), **kwargs)


def in_future(hours: float = 1) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=hours)


def test_one_token_serves_many_signed_requests(sandbox, control):
    c = client(sandbox)
    for _ in range(3):
        assert DATETIME.match(c.server_time().model_dump(mode="json")["time"])
    assert [row["ip"] for row in control.rows(kind="token")] == ["127.0.0.1"]


def test_sites_crud_round_trip(sandbox, control):
    c = client(sandbox)
    # Given a new site
    site = c.create_site(CONFIG)
    assert (site.url, site.site["auto_payment"]) == ("https://пример.рф/каталог", True)
    assert site.managers == [{"phone": "+79990001122", "name": "Іван"}]
    assert site.widget["schelude"]["sunday"] == {"from": 9, "to": 18, "enable": True}  # the doc's defaults
    assert DATETIME.match(site.model_dump(mode="json")["created_at"])
    # When it is read, listed, updated
    assert c.get_site(site.id).id == site.id
    assert [s.id for s in c.list_sites(ids=[site.id])] == [site.id]
    updated = c.update_site(site.id, CONFIG.model_copy(update={"site": SiteSettings(url="https://b.example")}))
    # (an update changes the parameters it sends; auto_payment was not sent, so it stays)
    assert updated.url == "https://b.example" and updated.site["auto_payment"] is True
    # Then deleting answers 204 and the site is gone
    assert c.delete_site(site.id).deleted is True
    with pytest.raises(errors.ValidationError) as info:
        c.get_site(site.id)
    assert info.value.status == 404 and info.value.body["error"]["code"] == "GEN-NOT-FOUND"
    assert [row["kind"] for row in control.rows(site=site.id)] == ["site.create", "site.update", "site.delete"]


def test_calls_now_and_delayed_are_recorded_and_listed(sandbox, control):
    c = client(sandbox)
    site = c.create_site(CONFIG)
    now = c.call(site.id, CallRequest(phone="79990002233", region=3, source_call="https://пример.рф/"))
    when = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=3)))
    later = c.delayed_call(site.id, DelayedCallRequest(phone="+79990004455", delayed=when))
    assert (now.status_id, now.manager, later.status_id) == (1, "+79990001122", 2)
    assert later.delayed_at == datetime(2031, 5, 6, 7, 8, 9)  # DATETIME, in the profile's zone (Moscow)
    rows = control.rows(site=site.id)
    assert [(r["kind"], r["phone"], r["delayed"]) for r in rows if r["kind"].startswith("call")] == [
        ("call.now", "79990002233", None), ("call.delayed", "+79990004455", "2031-05-06T07:08:09+03:00")]
    # Filters: by status and client; ids win over every other filter
    assert [x.id for x in c.list_calls(CallsFilter(status_ids=[2]))] == [later.id]
    assert [x.id for x in c.list_calls(CallsFilter(client="7 999 000 22 33"))] == [now.id]
    assert [x.id for x in c.list_calls(CallsFilter(ids=[now.id], status_ids=[2]))] == [now.id]
    assert c.list_calls(CallsFilter(end_at=datetime(2015, 10, 2, 17, 58, 43))) == []
    assert c.get_call(later.id).phone == "+79990004455"


def test_a_delayed_call_in_the_past_is_refused(sandbox):
    c = client(sandbox)
    site = c.create_site(CONFIG)
    with pytest.raises(errors.ValidationError) as info:
        c.delayed_call(site.id, DelayedCallRequest(phone="79990002233", delayed=in_future(-1)))
    assert info.value.status == 400 and "future" in str(info.value)


def test_widgets_and_server_time(sandbox):
    c = client(sandbox)
    site = c.create_site(CONFIG)
    assert [(w.id, w.site_id) for w in c.list_widgets(sites_ids=[site.id])] == [(site.widget_id, site.id)]
    assert c.get_widget(site.widget_id).settings["algoritms"]["onreturn"] == {"enable": False}
    assert c.server_time().timezone == "Europe/Moscow"


def test_profile_update_keeps_the_key_and_changes_the_zone(sandbox, control):
    c = client(sandbox)
    assert (c.get_profile().timezone, c.get_profile().api_enable) == ("Europe/Moscow", True)
    assert c.update_profile("Asia/Vladivostok", True).timezone == "Asia/Vladivostok"
    assert c.server_time().timezone == "Asia/Vladivostok"
    # the key sent was the client's own: a new token still comes with it
    control.expire_tokens()
    assert c.get_profile().timezone == "Asia/Vladivostok"
    assert all("api_key" not in row for row in control.rows(kind="profile.update"))


def test_studio_contributors_their_sites_calls_and_payments(sandbox, control):
    c = client(sandbox)
    alice = c.create_contributor(NewContributor(email="alice@example.com", password="secret-1"))
    both = c.create_contributor_with_site(NewContributorWithSite(email="bob@example.com", password="secret-2",
                                                                 config=CONFIG))
    assert both.site.contributor_id == both.contributor.id
    assert {x.email for x in c.list_contributors()} == {"alice@example.com", "bob@example.com"}
    # Alice's sites: create, list, get, update, delete
    site = c.create_contributor_site(alice.id, CONFIG)
    assert [s.id for s in c.list_contributor_sites(alice.id)] == [site.id]
    assert c.get_contributor_site(alice.id, site.id).contributor_id == alice.id
    assert c.update_contributor_site(alice.id, site.id, CONFIG).id == site.id
    with pytest.raises(errors.ValidationError):  # not Bob's site
        c.get_contributor_site(both.contributor.id, site.id)
    # Her calls
    call = c.call(site.id, CallRequest(phone="79990006677"))
    assert [x.id for x in c.list_contributor_calls(alice.id, ContributorCallsFilter(sites_ids=[site.id]))] == [call.id]
    assert c.get_contributor_call(alice.id, call.id).contributor_id == alice.id
    assert c.list_calls() == []  # the studio's own calls exclude contributors'
    assert c.get_contributor(alice.id).sites[0].id == site.id
    assert c.delete_contributor_site(alice.id, site.id).deleted
    # Payments, by the method and by its alias
    paid = c.pay_contributor(alice.id, Payment(amount="100.50"))
    alias = c.pay_contributor_alias(alice.id, Payment(type=PaymentSource.PARTNER, amount=10))
    assert (paid.balance, alias.balance) == (99899.5, 4990)
    assert str(c.get_contributor(alice.id).balance) == "110.5"
    assert [r["via"] for r in control.rows(kind="payment")] == [
        "payments/contributors/:id", "contributors/:id/payments"]
    with pytest.raises(errors.ValidationError) as info:
        c.pay_contributor(alice.id, Payment(amount="1000000"))
    assert info.value.status == 402
    assert all("password" not in row for row in control.rows())


def test_wrong_api_key_is_a_permanent_auth_error_without_the_key(sandbox, control):
    with pytest.raises(errors.AuthError) as info:
        client(sandbox, key="wrong-key-123").server_time()
    assert info.value.status == 403 and info.value.body["error"]["code"] == "AUTH-KEY-INVALID"
    assert "wrong-key-123" not in str(info.value) and control.rows(kind="token") == []


def test_refused_token_is_refreshed_once_and_the_request_retried(sandbox, control):
    c = client(sandbox)
    c.server_time()
    control.expire_tokens()
    # When the next request meets an expired token, the client fetches a new one and retries
    assert c.get_profile().api_enable is True
    assert len(control.rows(kind="token")) == 2
    assert sandbox.control.stats()["status_counts"]["401"] == 1


def test_a_second_refusal_is_an_auth_error(sandbox, control):
    control.configure(token_ttl_s=1e-6)  # every token is dead on arrival
    with pytest.raises(errors.AuthError) as info:
        client(sandbox).server_time()
    assert info.value.status == 401 and info.value.body["error"]["code"] == "AUTH-TOKEN-EXPIRED"
    assert len(control.rows(kind="token")) == 2  # the first, and exactly one refresh


def test_token_is_refreshed_before_it_expires(sandbox, control):
    # Given tokens living 2 s, refreshed 1.5 s ahead
    control.configure(token_ttl_s=2)
    c = client(sandbox, token_ttl_s=2, refresh_margin_s=1.5)
    c.server_time()
    time.sleep(0.7)
    # When the next request comes within the margin, then a new token is used without any refusal
    c.server_time()
    assert len(control.rows(kind="token")) == 2
    assert "401" not in sandbox.control.stats()["status_counts"]


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, source_ip: str) -> None:
        self._source_ip = source_ip
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


def test_a_token_is_bound_to_the_ip_that_asked_for_it(sandbox, control):
    # Given a token fetched from 127.0.0.1
    store = MemoryTokenStore()
    client(sandbox, store=store).server_time()
    token = store.get().value
    # Then the same signed request from 127.0.0.2 is refused
    params = {"uid": "1001"}
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, source_address=("127.0.0.2", 0), timeout=5)
    conn.request("GET", f"/pozvonim/v2u/profile?{signed_query(params)}&sign={request_sign(token, params)}")
    answer = conn.getresponse()
    assert (answer.status, json.loads(answer.read())["error"]["code"]) == (401, "AUTH-TOKEN-IP")
    conn.close()
    # And a client on 127.0.0.2 handed that token recovers by fetching its own
    session = new_session()
    session.mount("http://", SourceAddressAdapter("127.0.0.2"))
    other = MemoryTokenStore()
    other.set(Token(token, time.time() + 3600), ttl_s=3600)
    assert client(sandbox, store=other, session=session).get_profile().id == 1001
    assert [row["ip"] for row in control.rows(kind="token")] == ["127.0.0.1", "127.0.0.2"]


def test_429_and_5xx_map_to_transient_errors_in_the_docs_format(sandbox, control):
    c = client(sandbox, uid="2002", key="key-2002")  # limited to 2/s: the token request takes the slot
    with pytest.raises(errors.RateLimited) as info:
        for _ in range(3):
            c.server_time()
    assert info.value.retry_after_s >= 1 and info.value.body["error"]["http_code"] == 429
    with_token = client(sandbox)
    with_token.server_time()  # (a 5xx at auth/token means the operation was not sent: a connection error)
    sandbox.control.configure(error_rate=1.0)
    with pytest.raises(errors.VendorServerError) as info:
        with_token.get_profile()
    assert info.value.body["error"]["code"] == "GEN-SERVER-ERROR"
    assert str(info.value).startswith("pozvonim HTTP 5") and "GEN-SERVER-ERROR" in str(info.value)


def test_unknown_method_answers_in_the_docs_error_format(sandbox):
    answer = requests.post(f"{sandbox.url}/pozvonim/v2u/calls", timeout=5)
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "GEN-METHOD-NOT-FOUND", "http_code": 404,
                                       "message": "no method POST /calls"}}


def test_no_vendor_listening_is_a_connection_error_without_the_token_sign(sandbox):
    c = client(sandbox, base_url=f"http://127.0.0.1:{free_port()}/pozvonim/v2u")
    with pytest.raises(errors.VendorConnectionError) as info:
        c.server_time()
    assert "sign" not in str(info.value) and info.value.__cause__ is None
