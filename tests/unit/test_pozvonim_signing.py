"""Pozvonim signatures against md5 inputs written out by hand from the doc's rules.

Token:    md5(api_key . uid)
Request:  md5(token . http_build_query(ksort(params))), PHP urlencode (RFC 1738: space '+',
          all but A-Za-z0-9-_. as %XX), brackets of nested names encoded, ksort shallow.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sandbox.pozvonim.query import expected_sign, pairs_of, parse_php
from vendors.pozvonim import (
    Blacklists, CallsFilter, DaySchedule, DelayedCallRequest, Manager, Payment, Schedule, SiteConfig, SiteSettings,
    Widget,
)
from vendors.pozvonim.signing import php_urlencode, request_sign, signed_query, token_sign


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def test_token_sign_is_md5_of_api_key_then_uid():
    assert token_sign("sandbox-pozvonim-key", "1001") == md5("sandbox-pozvonim-key1001")


def test_the_docs_php_example():
    # Given the doc's $input = ['uid' => 1, 'site_id' => 1, 'widget_id' => 52] and a token
    params = {"uid": 1, "site_id": 1, "widget_id": 52}
    # Then ksort + http_build_query gives this string, signed after the token
    assert signed_query(params) == "site_id=1&uid=1&widget_id=52"
    assert request_sign("0f1e2d3c", params) == md5("0f1e2d3csite_id=1&uid=1&widget_id=52")


def test_nested_names_are_flattened_with_encoded_brackets_and_only_top_level_sorted():
    params = {
        "widget": {"schelude": {"monday": {"to": 18, "from": 9, "enable": True}}},
        "uid": "1001",
        "site": {"url": "https://example.com/"},
        "managers": [{"phone": "+79990001122"}, {"phone": "+79990003344", "region": 2}],
    }
    expected_input = (
        "tok"
        "managers%5B0%5D%5Bphone%5D=%2B79990001122"
        "&managers%5B1%5D%5Bphone%5D=%2B79990003344&managers%5B1%5D%5Bregion%5D=2"
        "&site%5Burl%5D=https%3A%2F%2Fexample.com%2F"
        "&uid=1001"
        # PHP's ksort is shallow: `to` stays before `from`, as given
        "&widget%5Bschelude%5D%5Bmonday%5D%5Bto%5D=18&widget%5Bschelude%5D%5Bmonday%5D%5Bfrom%5D=9"
        "&widget%5Bschelude%5D%5Bmonday%5D%5Benable%5D=1"
    )
    assert request_sign("tok", params) == md5(expected_input)


def test_non_ascii_spaces_tilde_and_newlines_are_php_urlencoded():
    params = {"uid": "1001", "managers": [{"phone": "+79990001122", "name": "Иван Петров"}],
              "blacklists": {"ip": "1.1.1.1\n2.2.2.2", "url": "~a*b"}}
    expected_input = (
        "tok"
        "blacklists%5Bip%5D=1.1.1.1%0A2.2.2.2&blacklists%5Burl%5D=%7Ea%2Ab"
        "&managers%5B0%5D%5Bphone%5D=%2B79990001122"
        "&managers%5B0%5D%5Bname%5D=%D0%98%D0%B2%D0%B0%D0%BD+%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2"
        "&uid=1001"
    )
    assert request_sign("tok", params) == md5(expected_input)
    assert php_urlencode("a b~-_.") == "a+b%7E-_."


def test_booleans_are_1_0_none_and_empty_arrays_left_out_empty_strings_kept():
    params = {"uid": "1", "a": True, "b": False, "c": None, "d": [], "e": ""}
    assert signed_query(params) == "a=1&b=0&e=&uid=1"


def test_site_config_carries_the_docs_required_defaults_in_field_order():
    config = SiteConfig(
        site=SiteSettings(url="https://пример.рф", auto_payment=True),
        managers=[Manager(phone="+79990001122")],
        widget=Widget(schelude=Schedule(sunday=DaySchedule(enable=False))),
        blacklists=Blacklists(ip=["1.1.1.1"]),
    )
    query = signed_query({**config.params(), "uid": "1001"})
    assert query.startswith(
        "blacklists%5Bip%5D=1.1.1.1&blacklists%5Burl%5D=&blacklists%5Bphone%5D=&blacklists%5Breferer%5D="
        "&managers%5B0%5D%5Bphone%5D=%2B79990001122"
        "&site%5Burl%5D=https%3A%2F%2F%D0%BF%D1%80%D0%B8%D0%BC%D0%B5%D1%80.%D1%80%D1%84&site%5Bauto_payment%5D=1"
        "&uid=1001"
        "&widget%5Bschelude%5D%5Bmonday%5D%5Bfrom%5D=9&widget%5Bschelude%5D%5Bmonday%5D%5Bto%5D=18"
        "&widget%5Bschelude%5D%5Bmonday%5D%5Benable%5D=1"
    )
    assert "&widget%5Bschelude%5D%5Bsunday%5D%5Benable%5D=0&" in query
    assert query.endswith("&widget%5Balgoritms%5D%5Bonreturn%5D%5Benable%5D=0")


def test_delayed_is_iso_8601_and_periods_are_datetime():
    moscow = timezone(timedelta(hours=3))
    delayed = DelayedCallRequest(phone="79990001122", delayed=datetime(2030, 1, 2, 10, 0, tzinfo=moscow))
    assert signed_query(delayed.params()) == "delayed=2030-01-02T10%3A00%3A00%2B03%3A00&phone=79990001122"
    period = CallsFilter(start_at=datetime(2015, 10, 2, 17, 58, 43), ids=[7, 9])
    assert signed_query(period.params()) == "ids%5B0%5D=7&ids%5B1%5D=9&start_at=2015-10-02+17%3A58%3A43"
    assert signed_query(Payment(amount="100.50").params()) == "amount=100.50&type=1"


def test_the_sandbox_rebuilds_the_same_string_from_the_wire():
    # Given what the client sends: the signed query plus sign, in signing order
    params = {"uid": "1001", "site": {"url": "https://пример.рф/a b"}, "managers": [{"name": "Ёж ~"}]}
    wire = f"{signed_query(params)}&sign={request_sign('tok', params)}"
    # When the sandbox parses it as PHP would and re-encodes it on its own
    parsed = parse_php(pairs_of(wire))
    # Then its expected sign is the client's
    assert expected_sign("tok", parsed) == parsed["sign"] == request_sign("tok", params)
