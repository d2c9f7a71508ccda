"""Settings: env prefix and nesting, an optional TOML file under the env, secrets kept secret."""

from __future__ import annotations

import pytest

from workers.settings import Settings, UnknownAccount, vendor_account


def test_file_adds_to_env_and_env_wins(tmp_path, monkeypatch):
    path = tmp_path / "telequeue.toml"
    path.write_text('key_prefix = "from-file:"\nchunk_size = 50\n\n'
                    '[ringostat.accounts.acme]\nauth_key = "k-file"\nproject_id = "9"\nrate_per_s = 7\n')
    monkeypatch.setenv("TELEQUEUE_SETTINGS_FILE", str(path))
    monkeypatch.setenv("TELEQUEUE_KEY_PREFIX", "from-env:")
    settings = Settings()
    assert (settings.key_prefix, settings.chunk_size) == ("from-env:", 50)
    acme = vendor_account("ringostat", "acme", settings)
    assert (acme.project_id, acme.rate_per_s) == ("9", 7)
    assert "k-file" not in repr(settings)  # SecretStr: never printed


def test_nested_env_accounts(monkeypatch):
    monkeypatch.delenv("TELEQUEUE_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("TELEQUEUE_POZVONIM__ACCOUNTS__EU__UID", "77")
    monkeypatch.setenv("TELEQUEUE_POZVONIM__ACCOUNTS__EU__API_KEY", "secret")
    settings = Settings()
    assert vendor_account("pozvonim", "eu", settings).uid == "77"
    with pytest.raises(UnknownAccount, match="no pozvonim account 'nope' configured"):
        vendor_account("pozvonim", "nope", settings)


def test_a_missing_settings_file_is_an_error(monkeypatch):
    monkeypatch.setenv("TELEQUEUE_SETTINGS_FILE", "/no/such/telequeue.toml")
    with pytest.raises(FileNotFoundError, match="no such file"):
        Settings()


def test_a_dead_after_time_too_close_to_the_beat_is_refused(monkeypatch):
    # Two missed beats must not make a live worker look dead
    monkeypatch.setenv("TELEQUEUE_HEARTBEAT_INTERVAL_S", "5")
    monkeypatch.setenv("TELEQUEUE_WORKER_DEAD_AFTER_S", "10")
    with pytest.raises(ValueError, match="worker_dead_after_s must be at least 3 x heartbeat_interval_s"):
        Settings()
