"""Settings from env (`TELEQUEUE_`, nested with `__`) and an optional TOML file; env wins.

Credentials live here and only here: tasks carry an account alias, workers resolve it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from tasks.retry import RetryPolicy
from workers.redis.url import canonical, masked

SANDBOX_URL = "http://127.0.0.1:18080"
SETTINGS_FILE_ENV = "TELEQUEUE_SETTINGS_FILE"


class AccountLimits(BaseModel):
    """The global limit of one vendor account, shared by every worker on every host."""

    rate_per_s: float = Field(default=10.0, gt=0)
    burst: int = Field(default=1, ge=1)


class VendorSettings(BaseModel):
    """What every vendor has: where it is, how long we wait for it, and its accounts."""

    base_url: str
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0
    #: the whole of one call, connecting to the last byte of the answer (read_timeout_s is per gap)
    total_timeout_s: float = Field(default=15.0, gt=0)
    accounts: dict[str, AccountLimits]


class RingostatAccount(AccountLimits):
    auth_key: SecretStr = SecretStr("sandbox-ringostat-key")
    project_id: str = "123"


class RingostatSettings(VendorSettings):
    base_url: str = f"{SANDBOX_URL}/ringostat"
    accounts: dict[str, RingostatAccount] = Field(default_factory=lambda: {"default": RingostatAccount()})


class PozvonimAccount(AccountLimits):
    uid: str = "1001"
    api_key: SecretStr = SecretStr("sandbox-pozvonim-key")


class PozvonimSettings(VendorSettings):
    base_url: str = f"{SANDBOX_URL}/pozvonim/v2u"
    accounts: dict[str, PozvonimAccount] = Field(default_factory=lambda: {"default": PozvonimAccount()})
    #: a cached token is refreshed this long before the vendor's 4 h expiry
    token_refresh_margin_s: float = 600.0
    #: send every method by POST, as the doc's text says, instead of vendors/pozvonim/methods.py's verbs
    all_post: bool = False
    #: one token per account ("account": every worker leaves through one egress address, e.g. a
    #: NAT) or per account and egress IP ("egress": workers with their own public addresses);
    #: see workers/runtime/tokens.py
    token_scope: Literal["account", "egress"] = "account"


class ObzvonilkaAccount(AccountLimits):
    api_key: SecretStr = SecretStr("sandbox-obzvonilka-key")


class ObzvonilkaSettings(VendorSettings):
    base_url: str = f"{SANDBOX_URL}/obzvonilka"
    accounts: dict[str, ObzvonilkaAccount] = Field(default_factory=lambda: {"default": ObzvonilkaAccount()})


class SalesScriptPrompterAccount(AccountLimits):
    key: SecretStr = SecretStr("sandbox-ssp-key")


class SalesScriptPrompterSettings(VendorSettings):
    base_url: str = f"{SANDBOX_URL}/salesscriptprompter/integration/apiv2"
    accounts: dict[str, SalesScriptPrompterAccount] = Field(
        default_factory=lambda: {"default": SalesScriptPrompterAccount()})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELEQUEUE_", env_nested_delimiter="__", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None  # defaults to redis_url
    key_prefix: str = "tq:"
    #: prefix of the broker's own Redis keys (kombu `global_keyprefix`): lets apps share one Redis
    broker_key_prefix: str = ""
    #: kombu's own last-resort redelivery of an unacked message whose index nobody refreshed this
    #: long; live workers refresh theirs every beat and take over dead ones' after
    #: worker_dead_after_s. Keep it above the longest chunk (see README, "Recovery").
    visibility_timeout_s: int = 300
    #: extra kombu Redis transport options, e.g. {"unacked_restore_interval": 1}
    broker_transport_options: dict = Field(default_factory=dict)
    chunk_size: int = Field(default=100, ge=1, le=10_000)
    default_region: str = "UA"
    #: how long a claimed row stays claimed: longer than one vendor call can take.
    row_lease_s: float = 30.0
    #: a limiter wait longer than this defers the rows instead of holding the worker.
    max_limiter_wait_s: float = 5.0
    #: how often each worker process beats: liveness record, its messages refreshed, dead ones' taken over
    heartbeat_interval_s: float = Field(default=2.0, gt=0)
    #: a worker not seen this long is dead: its unacked chunks go back to their queues
    worker_dead_after_s: float = Field(default=15.0, gt=0)
    #: a chunk stops between rows after this and hands its remaining rows on in a new message
    chunk_time_budget_s: float = Field(default=60.0, gt=0)
    #: rows of one chunk sent at once, each in a sender thread (1: one after another); for
    #: vendors far away (README, "Pool size and rows in flight")
    rows_in_flight: int = Field(default=8, ge=1, le=64)
    #: when set, the worker touches this file every beat, even while Redis is down (liveness probe)
    heartbeat_file: str = ""
    #: a finished job's keys (counters, ledger, rejects) expire this long after it ends
    job_ttl_s: int = 14 * 24 * 3600
    #: a bearer token Prometheus may scrape Flower's /metrics with instead of Flower's own login
    flower_metrics_token: SecretStr = SecretStr("")
    #: the largest CSV Flower's /api/jobs accepts (streamed to a temporary file, never held in memory)
    flower_upload_max_bytes: int = Field(default=2 * 1024**3, ge=1)
    #: how long the CLI, the client and the workers wait out an unreachable Redis (restart,
    #: failover) before giving up; the broker's publish retries last about as long
    redis_outage_s: float = Field(default=60.0, ge=0)
    #: a load whose producer stopped renewing its lease this long ago is ended as aborted;
    #: keep it above redis_outage_s, so a producer that rides out an outage keeps its load
    producer_lease_s: float = Field(default=90.0, gt=0)
    #: with a `sentinel://host:26379;sentinel://host2:26379/0` redis_url or broker_url: the
    #: name the Sentinels monitor the master under
    redis_sentinel_master: str = "mymaster"
    #: `TELEQUEUE_RETRY__*`: the one retry policy (tasks/retry.py) of single operations and chunks.
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    #: how long the record of a non-idempotent single operation (sent, result) is kept
    once_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    #: how long a secret passed by reference (a contributor's password) waits for its task
    secret_ttl_s: int = Field(default=24 * 3600, ge=60)
    ringostat: RingostatSettings = Field(default_factory=RingostatSettings)
    pozvonim: PozvonimSettings = Field(default_factory=PozvonimSettings)
    obzvonilka: ObzvonilkaSettings = Field(default_factory=ObzvonilkaSettings)
    salesscriptprompter: SalesScriptPrompterSettings = Field(default_factory=SalesScriptPrompterSettings)

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _password_in_userinfo(cls, url: str | None) -> str | None:
        return canonical(url) if url else url  # the form Celery, kombu and our outputs all mask

    def __repr_args__(self):
        # repr(settings) and str(settings) show Redis URLs without their password
        for name, value in super().__repr_args__():
            yield name, masked(value) if name in ("redis_url", "broker_url") else value

    @model_validator(mode="after")
    def _beats_before_death(self) -> "Settings":
        # Two missed beats must not make a live worker look dead (one may be slow or lost).
        if self.worker_dead_after_s < 3 * self.heartbeat_interval_s:
            raise ValueError("worker_dead_after_s must be at least 3 x heartbeat_interval_s "
                             f"({self.worker_dead_after_s} < 3 x {self.heartbeat_interval_s})")
        return self

    def vendor(self, name: str) -> VendorSettings:
        try:
            return getattr(self, name)
        except AttributeError:
            raise ValueError(f"unknown vendor {name!r}") from None

    @property
    def broker(self) -> str:
        return self.broker_url or self.redis_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, file_secret_settings]
        path = os.environ.get(SETTINGS_FILE_ENV)
        if path:
            if not Path(path).is_file():  # a typo must not silently fall back to the sandbox defaults
                raise FileNotFoundError(f"{SETTINGS_FILE_ENV}={path}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class UnknownAccount(KeyError):
    """A task named an account alias that this worker has no credentials for."""


def vendor_account(vendor: str, name: str, settings: Settings | None = None):
    """The account's credentials and limits; UnknownAccount names the ones configured."""
    accounts = (settings or get_settings()).vendor(vendor).accounts
    try:
        return accounts[name]
    except KeyError:
        known = ", ".join(sorted(accounts)) or "none"
        raise UnknownAccount(f"no {vendor} account {name!r} configured (known: {known})") from None


def ringostat_account(name: str, settings: Settings | None = None) -> RingostatAccount:
    return vendor_account("ringostat", name, settings)
