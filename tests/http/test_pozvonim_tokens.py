"""Pozvonim token caching: the refresh rules, and the Redis store shared by workers."""

from __future__ import annotations

import threading

import pytest
from pydantic import SecretStr

from sandbox import start_sandbox
from sandbox.pozvonim import DEFAULT_API_KEY, PozvonimControl
from vendors.http import new_session
from vendors.pozvonim import MemoryTokenStore, PozvonimClient, PozvonimCredentials, Token, TokenProvider
from vendors.pozvonim import TokenStoreBusy
from workers.runtime.vendor_clients import build_client
from workers.redis.keys import Keys
from workers.settings import PozvonimSettings, Settings, get_settings
from workers.runtime.tokens import EGRESS_IP_ENV, THRASH_FETCHES_PER_HOUR, FetchLog, RedisTokenStore, egress_ip, token_store


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def __call__(self) -> float:
        return self.now_s


def provider(clock: Clock, store=None, ttl_s: float = 100, margin_s: float = 10):
    fetched: list[str] = []

    def fetch() -> str:
        fetched.append(f"t{len(fetched) + 1}")
        return fetched[-1]

    return TokenProvider(store or MemoryTokenStore(clock), fetch, ttl_s=ttl_s, refresh_margin_s=margin_s,
                         clock=clock), fetched


# --- the rules, on a fake clock


def test_a_token_is_reused_until_the_refresh_margin():
    clock = Clock()
    tokens, fetched = provider(clock)
    assert [tokens.token(), tokens.token()] == ["t1", "t1"]
    clock.now_s += 89  # 11 s of life left: more than the 10 s margin
    assert tokens.token() == "t1"
    clock.now_s += 2  # now within the margin
    assert tokens.token() == "t2" and fetched == ["t1", "t2"]


def test_refresh_after_a_refusal_takes_a_newer_token_if_someone_fetched_one():
    clock = Clock()
    store = MemoryTokenStore(clock)
    tokens, fetched = provider(clock, store)
    store.set(Token("newer", clock.now_s + 100), ttl_s=100)
    assert tokens.refresh(rejected="older") == "newer" and fetched == []
    assert tokens.refresh(rejected="newer") == "t1" and store.get().value == "t1"


class BusyStore(MemoryTokenStore):
    def lock(self):
        raise TokenStoreBusy("held elsewhere", vendor="pozvonim")


def test_a_stuck_early_refresh_falls_back_to_the_still_valid_token():
    clock = Clock()
    store = BusyStore(clock)
    tokens, fetched = provider(clock, store)
    store.set(Token("old", clock.now_s + 5), ttl_s=5)  # inside the 10 s margin, not yet expired
    assert tokens.token() == "old" and fetched == []
    clock.now_s += 6
    with pytest.raises(TokenStoreBusy):
        tokens.token()


def test_a_margin_as_long_as_the_token_is_refused():
    with pytest.raises(ValueError):
        provider(Clock(), ttl_s=10, margin_s=10)


# --- the Redis store


def test_redis_store_round_trip_with_ttl(r, key_prefix):
    store = RedisTokenStore(r, Keys(key_prefix).pozvonim_token("default", "10.0.0.7"))
    assert store.key == f"{key_prefix}pozvonim:token:default:10.0.0.7"
    assert store.get() is None
    store.set(Token("abc", 1234.5), ttl_s=60)
    assert store.get() == Token("abc", 1234.5)
    assert 0 < r.pttl(store.key) <= 60_000
    r.set(store.key, b"not json")
    assert store.get() is None  # unreadable: treated as absent, so a fetch repairs it


def test_a_lock_held_elsewhere_makes_the_caller_retry_later(r, key_prefix):
    store = RedisTokenStore(r, f"{key_prefix}pozvonim:token:x:y", lock_wait_s=0.2)
    held = r.lock(f"{store.key}:lock", timeout=5)
    assert held.acquire()
    try:
        with pytest.raises(TokenStoreBusy):
            with store.lock():
                pass
    finally:
        held.release()


def test_egress_ip_from_env_or_from_the_route(monkeypatch):
    monkeypatch.delenv(EGRESS_IP_ENV, raising=False)
    assert egress_ip("http://127.0.0.1:1/pozvonim/v2u") == "127.0.0.1"
    monkeypatch.setenv(EGRESS_IP_ENV, "203.0.113.9")
    assert egress_ip("https://api.pozvonim.com/v2u") == "203.0.113.9"


# --- workers sharing one token through Redis, against the sandbox


@pytest.fixture(scope="module")
def sandbox():
    with start_sandbox() as s:
        yield s


@pytest.fixture
def control(sandbox):
    c = PozvonimControl(sandbox.url)
    sandbox.control.reset()
    sandbox.control.configure(latency_ms=0)
    c.reset()
    yield c
    c.close()


def worker_client(sandbox, store) -> PozvonimClient:
    creds = PozvonimCredentials(uid="1001", api_key=SecretStr(DEFAULT_API_KEY))
    return PozvonimClient(creds, base_url=f"{sandbox.url}/pozvonim/v2u", session=new_session(), token_store=store)


def test_two_workers_starting_together_request_one_token(sandbox, control, r, key_prefix):
    # Given two workers with their own sessions, one Redis key, and a slow vendor
    key = f"{key_prefix}pozvonim:token:default:127.0.0.1"
    clients = [worker_client(sandbox, RedisTokenStore(r, key)) for _ in range(2)]
    sandbox.control.configure(latency_ms=300)
    start, answers = threading.Barrier(2), []

    def work(c: PozvonimClient) -> None:
        start.wait()
        answers.append(c.get_profile().id)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    # When both need a token at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Then the vendor saw one token request, and both calls succeeded with it
    assert answers == [1001, 1001]
    assert len(control.rows(kind="token")) == 1


def test_after_a_refusal_one_worker_refreshes_for_all(sandbox, control, r, key_prefix):
    key = f"{key_prefix}pozvonim:token:default:127.0.0.1"
    first, second = (worker_client(sandbox, RedisTokenStore(r, key)) for _ in range(2))
    first.server_time()
    control.expire_tokens()
    # When one worker meets the refusal, it refreshes the shared token
    second.server_time()
    # Then the other one uses the new token without a refusal or a fetch of its own
    first.server_time()
    assert len(control.rows(kind="token")) == 2
    assert sandbox.control.stats()["status_counts"]["401"] == 1


def test_the_worker_builder_shares_one_token_per_account_by_default(sandbox, control, r, key_prefix, monkeypatch):
    monkeypatch.setenv("TELEQUEUE_KEY_PREFIX", key_prefix)
    monkeypatch.delenv(EGRESS_IP_ENV, raising=False)
    monkeypatch.delenv("TELEQUEUE_POZVONIM__TOKEN_SCOPE", raising=False)
    get_settings.cache_clear()
    try:
        settings = Settings(pozvonim=PozvonimSettings(base_url=f"{sandbox.url}/pozvonim/v2u"))
        assert settings.pozvonim.token_scope == "account"
        pozvonim = build_client(settings, "pozvonim", "default", new_session(), r)
        assert pozvonim.get_profile().id == 1001
        egress = Settings(pozvonim=PozvonimSettings(base_url=f"{sandbox.url}/pozvonim/v2u", token_scope="egress"))
        assert build_client(egress, "pozvonim", "default", new_session(), r).get_profile().id == 1001
    finally:
        get_settings.cache_clear()
    # one key per account by default; per account and egress IP when asked for
    assert r.exists(f"{key_prefix}pozvonim:token:default")
    assert r.exists(f"{key_prefix}pozvonim:token:default:127.0.0.1")
    # and each fetch was counted
    assert r.hget(f"{key_prefix}pozvonim:token_fetches", "default") == b"2"


# --- scopes and the fetch count


def test_token_scope_decides_the_key(r, key_prefix, monkeypatch):
    keys = Keys(key_prefix)
    monkeypatch.setenv(EGRESS_IP_ENV, "203.0.113.9")
    assert token_store(r, keys, "eu", scope="account", base_url="https://x").key == f"{key_prefix}pozvonim:token:eu"
    assert token_store(r, keys, "eu", scope="egress", base_url="https://x").key == \
        f"{key_prefix}pozvonim:token:eu:203.0.113.9"
    with pytest.raises(ValueError, match="account' or 'egress"):
        token_store(r, keys, "eu", scope="node", base_url="https://x")


def test_more_than_a_few_fetches_an_hour_warn_and_name_the_fix(r, key_prefix, caplog):
    # Given an account whose token is fetched again and again (workers revoking each other's)
    clock = Clock()
    fetches = FetchLog(r, Keys(key_prefix), "default", clock=clock)
    other_address = FetchLog(r, Keys(key_prefix), "default", egress="198.51.100.1", clock=clock)
    caplog.set_level("WARNING", logger="workers.runtime.tokens")
    # When it is fetched THRASH_FETCHES_PER_HOUR times within the hour: healthy enough, no warning
    counts = []
    for _ in range(THRASH_FETCHES_PER_HOUR):
        clock.now_s += 60
        counts.append(fetches.record())
    assert counts == [1, 2, 3, 4] and not caplog.records
    other_address.record()  # another address's token is another token: not counted with these
    # Then one more within the hour warns, naming the setting that fixes it
    clock.now_s += 60
    assert fetches.record() == THRASH_FETCHES_PER_HOUR + 1
    (warning,) = caplog.records
    assert "fetched 5 tokens in the last hour" in warning.getMessage()
    assert "TELEQUEUE_POZVONIM__TOKEN_SCOPE=egress" in warning.getMessage()
    # And fetches older than an hour no longer count
    clock.now_s += 3600
    assert fetches.record() == 1
    assert r.hget(f"{key_prefix}pozvonim:token_fetches", "default") == b"7"


def test_a_thrashing_egress_token_names_the_account_scope(r, key_prefix, caplog):
    fetches = FetchLog(r, Keys(key_prefix), "thrash", egress="10.0.0.7")
    caplog.set_level("WARNING", logger="workers.runtime.tokens")
    for _ in range(THRASH_FETCHES_PER_HOUR + 1):
        fetches.record()
    (warning,) = caplog.records
    assert "on egress 10.0.0.7" in warning.getMessage()
    assert "TELEQUEUE_POZVONIM__TOKEN_SCOPE=account" in warning.getMessage()
    assert EGRESS_IP_ENV in warning.getMessage()


def test_a_fetch_through_the_store_is_counted(r, key_prefix):
    keys = Keys(key_prefix)
    store = token_store(r, keys, "default", scope="account", base_url="https://x")
    tokens, fetched = provider(Clock(), store)
    tokens.token()
    tokens.token()  # cached: no fetch
    tokens.refresh(rejected="t1")
    assert fetched == ["t1", "t2"]
    assert r.zcard(keys.pozvonim_token_fetches("default")) == 2
