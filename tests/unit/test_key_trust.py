"""An account's key is trusted for a while after the vendor took a send with it, and not after a refusal."""

from __future__ import annotations

from tasks.key_trust import KeyTrust, key_trust


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_trusted_for_ttl_after_an_accepted_send_and_until_a_refusal():
    clock = Clock()
    key = KeyTrust(ttl_s=60, clock=clock)
    assert not key.trusted()  # nothing seen yet
    key.accepted()
    clock.now += 59
    assert key.trusted()
    clock.now += 2
    assert not key.trusted()  # the vendor took nothing for a minute
    key.accepted()
    key.refused()
    assert not key.trusted()


def test_each_account_of_each_vendor_has_one_record_in_the_process():
    assert key_trust("ringostat", "a") is key_trust("ringostat", "a")
    assert key_trust("ringostat", "a") is not key_trust("ringostat", "b")
    assert key_trust("ringostat", "a") is not key_trust("pozvonim", "a")


def test_a_send_started_before_a_refusal_and_answered_after_it_vouches_for_nothing():
    clock = Clock()
    key = KeyTrust(ttl_s=60, clock=clock)
    started = clock.now  # a send goes out with the key, then the vendor revokes it
    clock.now += 1
    key.refused()  # another send meets a 401
    clock.now += 1
    key.accepted(started)  # the first send's answer (taken) is collected only now
    assert not key.trusted()
    key.accepted()  # a send that started after the refusal was taken: the key was fixed
    assert key.trusted()
