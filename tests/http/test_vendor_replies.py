"""Replies never misread, tokens refreshed when the vendor names them, credentials never
redirected: each vendor client against a loopback server answering what the docs never show."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.support.scripted_http import ScriptedServer
from vendors import errors, surprises
from vendors.http import new_session
from vendors.obzvonilka import ObzvonilkaClient
from vendors.pozvonim import CallRequest, Payment, PozvonimClient, PozvonimCredentials
from vendors.ringostat import RingostatClient, RingostatCredentials
from vendors.salesscriptprompter import NewField, SalesScriptPrompterClient

KEY = "known-key-5f1e"


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


@pytest.fixture
def surprise_log():
    seen: list[tuple[str, str, str]] = []
    surprises.install(lambda vendor, what, why: seen.append((vendor, what, why)))
    yield seen
    surprises.install(surprises._log_only)


def pozvonim(server) -> PozvonimClient:
    return PozvonimClient(PozvonimCredentials(uid="7", api_key=SecretStr(KEY)), base_url=server.url,
                          session=new_session())


def test_unexpected_2xx_shape_is_success_with_the_raw_json_for_every_vendor(server, surprise_log):
    # Given 2xx answers in shapes none of the clients expects
    odd = {"id": 9, "status": "ok"}
    server.answers.update({
        "/auth/token": (200, {"token": "tok-1"}, {}),
        "/sites/5/call": (202, odd, {}),
        "/campaign": (200, {"ok": 1}, {}),
        "/api/contact_bases/1/contacts.json": (201, {"contact": {"id": 3}}, {}),
        "/field/list": (200, {"fields": [{"code": "c"}]}, {}),
    })
    ringostat = RingostatClient(RingostatCredentials(auth_key=SecretStr(KEY), project_id="1"), base_url=server.url,
                                session=new_session())
    ringostat_path = server.answers.pop("/campaign")
    from vendors.ringostat import CAMPAIGN_ROWS_PATH
    server.answers[CAMPAIGN_ROWS_PATH] = ringostat_path
    obzvonilka = ObzvonilkaClient(SecretStr(KEY), base_url=server.url, session=new_session())
    ssp = SalesScriptPrompterClient(SecretStr(KEY), base_url=server.url, session=new_session())
    from vendors.obzvonilka import ContactFields
    # When each client sends an operation the vendor then applied
    replies = {
        "pozvonim": pozvonim(server).call(5, CallRequest(phone="79990001122")),
        "ringostat": ringostat.add_campaign_row(1, "380930000000"),
        "obzvonilka": obzvonilka.create_contact(1, ContactFields(name="A", phone1="380930000001")),
        "salesscriptprompter": ssp.list_fields(),
    }
    # Then each result is the vendor's JSON as sent, and each surprise was reported by key names only
    assert replies == {"pozvonim": odd, "ringostat": {"ok": 1}, "obzvonilka": {"contact": {"id": 3}},
                       "salesscriptprompter": {"fields": [{"code": "c"}]}}
    assert sorted(vendor for vendor, _, _ in surprise_log) == sorted(replies)
    assert "keys seen: id, status" in dict((v, why) for v, _, why in surprise_log)["pozvonim"]


def test_a_refusal_in_the_body_is_still_a_refusal(server):
    server.answers["/field/create"] = (200, {"result": False, "errors": ["exists"]}, {})
    ssp = SalesScriptPrompterClient(SecretStr(KEY), base_url=server.url, session=new_session())
    with pytest.raises(errors.VendorRejected, match="exists"):
        ssp.create_field(NewField(code="c", name="C", type="string"))


def test_token_reply_without_token_names_the_keys_never_the_values(server):
    server.answers["/auth/token"] = (200, {"access_token": "value-never-shown", "expired_at": "x"}, {})
    with pytest.raises(errors.VendorRejected) as caught:
        pozvonim(server).server_time()
    assert "keys seen: access_token, expired_at" in str(caught.value)
    assert "value-never-shown" not in str(caught.value)


@pytest.mark.parametrize("status, code", [(401, "AUTH-TOKEN-EXPIRED"), (403, "GEN-FORBIDDEN"),
                                          (400, "AUTH-TOKEN-INVALID")])
def test_pozvonim_token_refreshed_on_401_403_and_codes_naming_the_token(server, status, code):
    # Given a vendor that refuses the first token with that status and code, then accepts a new one
    server.answers["/auth/token"] = [(200, {"token": "tok-old"}, {}), (200, {"token": "tok-new"}, {})]
    server.answers["/server/time/now"] = [(status, {"error": {"code": code, "http_code": status, "message": "no"}}, {}),
                                          (200, {"time": "2030-01-01 10:00:00"}, {})]
    # When an operation is sent
    assert pozvonim(server).server_time().time.year == 2030
    # Then a new token was fetched once and the operation sent again with it
    assert [r["path"] for r in server.requests] == ["/auth/token", "/server/time/now", "/auth/token",
                                                    "/server/time/now"]


@pytest.mark.parametrize("redirect", [302, 307])
def test_credential_headers_never_follow_a_redirect_to_another_host(server, redirect):
    # Given a vendor URL that redirects to another host (localhost is not 127.0.0.1 to requests)
    elsewhere = ScriptedServer("127.0.0.1")
    elsewhere_url = elsewhere.url.replace("127.0.0.1", "localhost")
    try:
        elsewhere.answers["/landing"] = (200, {"result": True}, {})
        for path in ("/campaign", "/field/create"):
            server.answers[path] = (redirect, {}, {"Location": f"{elsewhere_url}/landing"})
        from vendors.ringostat import CAMPAIGN_ROWS_PATH
        server.answers[CAMPAIGN_ROWS_PATH] = server.answers["/campaign"]
        ringostat = RingostatClient(RingostatCredentials(auth_key=SecretStr(KEY), project_id="77"),
                                    base_url=server.url, session=new_session())
        ssp = SalesScriptPrompterClient(SecretStr(KEY), base_url=server.url, session=new_session())
        # When the clients follow it
        ringostat.add_campaign_row(1, "380930000000")
        ssp.create_field(NewField(code="c", name="C", type="string"))
        # Then the other host got the requests, without any credential header
        assert len(elsewhere.requests) == 2
        for request in elsewhere.requests:
            names = {name.lower() for name in request["headers"]}
            assert not names & {"auth-key", "x-project-id", "key", "x-api-key"}, request["headers"]
            assert KEY not in str(request)
        # And the vendor's own host did get them
        assert {"Auth-key", "x-project-id"} <= set(server.requests[0]["headers"])
    finally:
        elsewhere.close()


def test_a_site_change_sends_only_the_fields_given(server):
    from urllib.parse import parse_qsl

    from vendors.pozvonim import SiteChange

    server.answers["/auth/token"] = (200, {"token": "tok"}, {})
    server.answers["/sites/4"] = (200, {"id": 4, "url": "https://b.example"}, {})
    pozvonim(server).update_site(4, SiteChange(site={"url": "https://b.example"}, managers=[{"phone": "+79990001122"}]))
    sent = dict(parse_qsl(server.requests[-1]["body"]))
    assert set(sent) == {"site[url]", "managers[0][phone]", "uid", "sign"}


def test_pozvonim_methods_table_is_the_sandbox_s_and_a_setting_sends_everything_by_post(server):
    from sandbox.pozvonim.routes import METHODS as SERVED
    from vendors.pozvonim.methods import METHODS

    assert sorted(METHODS.values()) == sorted((verb, path) for verb, path, _, _ in SERVED)
    server.answers["/auth/token"] = (200, {"token": "tok"}, {})
    server.answers["/sites"] = (200, [], {})
    server.answers["/sites/4"] = (204, b"", {})
    everything_post = PozvonimClient(PozvonimCredentials(uid="7", api_key=SecretStr(KEY)), base_url=server.url,
                                     session=new_session(), all_post=True)
    everything_post.list_sites(), everything_post.delete_site(4)
    pozvonim(server).list_sites()
    assert [(r["method"], r["path"]) for r in server.requests if r["path"] != "/auth/token"] == [
        ("POST", "/sites"), ("POST", "/sites/4"), ("GET", "/sites")]


def test_a_token_that_cannot_be_had_means_the_operation_was_not_sent(server):
    # A 5xx from auth/token is not an unknown outcome of the operation: it never went out
    server.answers["/auth/token"] = (502, {"error": {"code": "GEN-SERVER-ERROR", "http_code": 502, "message": "x"}}, {})
    with pytest.raises(errors.VendorConnectionError, match="not sent"):
        pozvonim(server).pay_contributor(3, Payment(amount=1))
    assert [r["path"] for r in server.requests] == ["/auth/token"]
