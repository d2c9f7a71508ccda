"""Send a chunk of job rows through the ledger and the account's limiter, in batches: one
request per batch, and row by row is a batch of one.

Vendor-agnostic: a vendor's chunk task supplies `send(row)` (or `send_batch(rows)` for a vendor
that takes a list); this module decides what a failure means for the rows (the failure ladder,
ChunkRunner._attempt). Rows are never sent once the ledger holds an outcome for them.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import pydantic

from vendors import deadline
from vendors.errors import (AuthError, OutcomeUnknown, PermanentVendorError, RateLimited, TransientVendorError,
                            VendorError)
from vendors.validation import describe

from tasks.inflight import InFlight
from tasks.key_trust import KeyTrust
from tasks.retry import MAX_THROTTLES_PER_ROW, RetryPolicy
from tasks.runtime import Ledger, Limiter

#: the chunk ran past its time budget: its remaining rows go on in a new message (see follow_up)
OUT_OF_TIME = "out of time"
#: what a claim or a limiter wait answers when the chunk must stop sending
STOPS = ("paused", "cancelled", "gone", OUT_OF_TIME)
#: what _attempt answers when the claimed rows are to be sent again (after a 429 or a transient error)
AGAIN = "again"
#: what _attempt answers when the vendor took the rows: the caller marks them delivered, many at once
SENT = "sent"
#: what _attempt answers when the send's first request would have left too long after its slot
#: (vendors.deadline.start_by): nothing was sent, the rows are still claimed
LATE = "late"
#: while the limiter refuses (its schedule is full further than max_wait_s ahead), the chunk
#: asks again at least this often, so a pause, cancel or the budget is noticed within seconds
RECHECK_S = 2.0
#: a send that waited this long for its slot looks at the job first: a pause meanwhile stops it
LONG_WAIT_S = 1.0
#: a free place in flight waits at most this long for more sends to end, so that the next group
#: (one limiter and one ledger call, whatever its size) is larger; far below a vendor's latency
GROUP_LINGER_S = 0.005
#: a group whose first slot is booked further ahead than this waits for the account's limit
BOOKED_AHEAD_S = 0.01


@dataclass(frozen=True, slots=True)
class JobRow:
    """One row of a job: its line, its fields by name, and its form in the chunk message."""

    line: int
    fields: dict
    wire: list


@dataclass
class ChunkOutcome:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    #: rows still pending after this run's attempts, with the last error they met
    deferred: list[JobRow] = field(default_factory=list)
    last_error: str = ""
    #: rows not attempted because the job was paused (or cancelled) meanwhile, or the time ran out
    stopped: list[JobRow] = field(default_factory=list)
    stop_reason: str = ""


@dataclass
class Tries:
    """What one batch has met in this run: transient failures cost an attempt, 429s do not."""

    attempts: int = 0
    throttles: int = 0


@dataclass
class Flight:
    """What became of one batch sent in flight: its verdict, and what it met on the way."""

    verdict: str
    rows: list[JobRow]
    outcome: ChunkOutcome
    busy: list[JobRow]


def unfinished(ledger: Ledger, rows: list[JobRow], outcome: ChunkOutcome) -> list[JobRow]:
    """The rows still without an outcome: a redelivered or retried chunk skips finished rows
    in one round trip, without spending limiter slots on them."""
    finished = ledger.finished_lines([row.line for row in rows])
    outcome.skipped = len(finished)
    return [row for row in rows if row.line not in finished]


def lease_wait_s(ledger: Ledger, busy: list[JobRow], lease_s: float) -> float:
    """Until the leases on rows another copy holds run out, not a whole lease from now: a row a
    killed worker held is taken over as soon as its lease ends."""
    return min(lease_s, ledger.lease_left_s([row.line for row in busy]) + 0.05)


def one_by_one(send: Callable[[JobRow], object]) -> Callable[[list[JobRow]], object]:
    """A row's send as the send of a batch of one."""
    def send_batch(rows: list[JobRow]) -> object:
        (row,) = rows
        return send(row)
    return send_batch


class Budget:
    """A chunk's time budget: past it, the chunk sends no further row (nor retry) and hands the
    rest on. It is checked before each send (or group of sends in flight) and in limiter waits,
    so a chunk runs at most budget_s + max(lease_s, the limiter's max wait + one row's send):
    the visibility timeout is a safe multiple of that."""

    def __init__(self, budget_s: float = math.inf, clock: Callable[[], float] = time.monotonic) -> None:
        self._budget_s = budget_s
        self._clock = clock
        self._deadline = math.inf

    def start(self) -> None:
        self._deadline = self._clock() + self._budget_s

    def spent(self) -> bool:
        return self._clock() >= self._deadline

    def stop_or(self, ledger: Ledger) -> Callable[[], bool]:
        """What a limiter wait asks: stop when the job stops or the time is up."""
        return lambda: self.spent() or ledger.stopped()


class ChunkRunner:
    """Send a chunk's rows in batches of `batch_size` rows, one request per batch; the default,
    a batch of one, sends row by row (`send(row)`), a vendor that takes a list gets
    `send_batch(rows)`.

    The ledger stays per row: every row of a batch is claimed before its request and all of
    them are marked delivered (or failed, with the vendor's reason) after it. A batch is
    retried whole, leaving out rows that meanwhile finished or are held by another worker.
    A send takes `slots_per_send` limiter slots (a row's send that makes several requests
    reserves them all before its rows are claimed; a batch is one request, since the vendor
    limits requests, not rows); every send ends within `send_budget_s`. `warm()` readies a
    sender thread for its sends (the vendor client a new thread builds) before its slot comes:
    a sender that gets to its slot late gives it up, so its slot's time is for sending.

    Up to `in_flight` batches are sent at once (tasks.inflight), once the chunk's first send
    ended without a stop (a refused key pauses the job after one 401), or from the start when
    the vendor took the account's `key` lately (tasks.key_trust). The runner takes them in
    groups: one limiter call reserves the group's slots, each with its own due time, one
    ledger call claims its rows (their leases cover the wait for the last slot too) and marks
    delivered the rows the vendor took since the last group, and each batch waits in its
    sender for its own slot; when no group goes within GROUP_LINGER_S (none left, or none
    with room while the limit books slots ahead), the rows of sends that end within
    GROUP_LINGER_S of each other are marked delivered together: no mark is held longer. A group goes once half the
    places in flight are free, or GROUP_LINGER_S after the first fell free: sends that end one
    at a time would otherwise cost those Redis calls per row. A pause, cancel or the budget stops the next
    group; the sends already in flight end first (none waits longer than the limiter's
    max_wait_s for its slot), and whatever was not sent goes on as before.
    """

    def __init__(self, *, ledger: Ledger, limiter: Limiter, retry: RetryPolicy, lease_s: float,
                 send: Callable[[JobRow], object] | None = None,
                 send_batch: Callable[[list[JobRow]], object] | None = None, batch_size: int = 1,
                 slots_per_send: int = 1, sleep: Callable[[float], None] = time.sleep,
                 send_budget_s: float | None = None, budget: Budget | None = None, in_flight: int = 1,
                 key: KeyTrust | None = None, warm: Callable[[], object] | None = None) -> None:
        if (send is None) == (send_batch is None):
            raise ValueError("give either send (one row) or send_batch (a list of rows)")
        if batch_size < 1 or (send is not None and batch_size != 1):
            raise ValueError("batch_size must be at least 1, and 1 with send (one row)")
        self._ledger = ledger
        self._limiter = limiter
        self._retry = retry
        self._lease_s = lease_s
        self._send_batch = send_batch or one_by_one(send)
        self._batch_size = batch_size
        self._slots_per_send = slots_per_send
        self._sleep = sleep
        self._send_budget_s = send_budget_s
        self._budget = budget or Budget()
        self._in_flight = in_flight
        self._key = key or KeyTrust()  # never trusted: every chunk's first send goes alone
        self._warm = warm

    def run(self, rows: list[JobRow]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        self._budget.start()
        rows = unfinished(self._ledger, rows, outcome)
        busy: list[JobRow] = []  # held by another copy: tried again after its lease (_wait_for_busy)
        verdict, unsent = self._send_all(rows, outcome, busy)
        if verdict in STOPS:
            # Busy rows go with the rest: this message may be their only carrier (a parked or
            # handed-on copy of a row another worker finishes is skipped by the ledger).
            held = {row.line for row in busy}
            outcome.stopped = [row for row in unsent if row.line not in held] + busy
            outcome.stop_reason = verdict
            return outcome
        self._wait_for_busy(busy, outcome)
        return outcome

    def _wait_for_busy(self, busy: list[JobRow], outcome: ChunkOutcome) -> None:
        """Rows another worker holds: wait out one lease, then take over the ones still held by
        a dead worker. Rows a live worker keeps holding are left to it: its message is unacked.
        Out of time, they go on with the rest: this message may be the only one that has them."""
        if not busy:
            return
        if self._budget.spent():
            outcome.stopped.extend(busy)
            outcome.stop_reason = OUT_OF_TIME
            return
        self._sleep(lease_wait_s(self._ledger, busy, self._lease_s))
        still_held: list[JobRow] = []  # by a live worker: its own message sends them
        verdict, unsent = self._send_all(busy, outcome, still_held)
        if verdict in STOPS:
            held = {row.line for row in still_held}
            outcome.stopped.extend(row for row in unsent if row.line not in held)
            outcome.stop_reason = verdict

    def _send_all(self, rows: list[JobRow], outcome: ChunkOutcome, busy: list[JobRow]) -> tuple[str, list[JobRow]]:
        """Send the rows' batches, up to `in_flight` at once, until done or a stop; the stop
        verdict ('' when none) and the rows not sent because of it, in their order."""
        batches = deque(rows[start:start + self._batch_size] for start in range(0, len(rows), self._batch_size))
        # The first send goes alone unless the vendor took this account's key lately (tasks.key_trust):
        # a key the vendor refuses then meets one 401 per chunk (which pauses the job), not in_flight of them.
        sends = _Sends(batches, InFlight(self._in_flight), width=self._in_flight if self._key.trusted() else 1)
        try:
            self._drive(sends, outcome, busy)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to tell
                self._settle(sends, outcome, busy)
            raise
        self._mark_delivered(sends.sent, outcome)
        if sends.error is not None:
            raise sends.error
        sends.unsent.update(row.line for batch in sends.pending for row in batch)
        return sends.stop, [row for row in rows if row.line in sends.unsent]

    def _settle(self, sends: _Sends, outcome: ChunkOutcome, busy: list[JobRow]) -> None:
        """After an error (a limiter or ledger call failed): the rows the vendor took are marked
        before it leaves, those held first, then those of the sends still in flight as they end
        (each within its own deadline). Unmarked, they would be sent again once their leases ran out."""
        self._mark_delivered(sends.sent, outcome)
        while sends.flights.running:
            self._collect(sends, None, outcome, busy)
        self._mark_delivered(sends.sent, outcome)

    def _drive(self, sends: _Sends, outcome: ChunkOutcome, busy: list[JobRow]) -> None:
        """Launch groups and collect the sends that end, until none is left in flight or to launch."""
        while sends.going():
            wait_s = sends.linger_s()
            if wait_s == 0:
                wait_s = self._launch_next(sends, outcome, busy)
                if wait_s == 0:
                    continue
            # Wake for the delivered marks held, whatever holds the next group back (draining,
            # or no room while the limit books slots ahead): a row the vendor took is not left
            # unmarked (a killed worker would send it again) longer than GROUP_LINGER_S.
            self._collect(sends, _sooner(wait_s, sends.marks_due_s()), outcome, busy)

    def _launch_next(self, sends: _Sends, outcome: ChunkOutcome, busy: list[JobRow]) -> float | None:
        """Launch the next group, carrying the delivered marks of the sends that ended. 0 to go
        round at once (nothing is in flight to wait for, or that group had nothing to send);
        else how long to wait for sends in flight to end (None: until one does)."""
        running = sends.flights.running
        sends.stop, refused_s = self._launch(sends, outcome, busy)
        self._mark_delivered(sends.sent, outcome)  # when no claim carried them (a refusal, a stop)
        launched = sends.flights.running > running
        if launched:
            sends.freed_at = None
        if not sends.flights.running:
            if refused_s:  # the limiter refused and nothing is in flight: wait here
                self._sleep(refused_s)
            return 0
        if not launched and sends.may_launch() and refused_s is None:
            return 0  # every row of that group was done or held by another copy: the next group
        return refused_s

    def _collect(self, sends: _Sends, wait_s: float | None, outcome: ChunkOutcome, busy: list[JobRow]) -> None:
        """Take in the sends that end within wait_s (None: until one does)."""
        for future in sends.flights.ended(wait_s):
            if sends.freed_at is None:
                sends.freed_at = time.monotonic()
            try:
                flight = future.result()
            except Exception as exc:  # a bug or a surprise in a send: the others end first
                sends.error = sends.error or exc
                continue
            _merge(outcome, busy, flight)
            if flight.verdict not in STOPS:
                sends.width = self._in_flight
            if flight.verdict == SENT:
                sends.hold(flight.rows)
            elif flight.verdict in STOPS:
                sends.stop = sends.stop or flight.verdict
                sends.unsent.update(row.line for row in flight.rows)
        if sends.marks_due_s() == 0 and sends.linger_s() != 0:
            # No launch due now to carry them: those of sends that end within GROUP_LINGER_S
            # of each other (as the chunk drains, or while no group has room) go in one call
            self._mark_delivered(sends.sent, outcome)

    def _mark_delivered(self, sent: list[JobRow], outcome: ChunkOutcome) -> None:
        if sent:
            self._ledger.delivered_many([row.line for row in sent])
            outcome.delivered += len(sent)
            sent.clear()

    def _launch(self, sends: _Sends, outcome: ChunkOutcome, busy: list[JobRow]) -> tuple[str, float | None]:
        """Reserve the slots of the batches that fit in flight and claim their rows, one call each,
        and send them in flight. (stop, None) when the chunk must stop; ('', seconds) when the
        limiter refused, to ask again after that; ('', None) once sent (or nothing was left to send)."""
        if self._budget.spent():
            return OUT_OF_TIME, None
        pending, flights = sends.pending, sends.flights
        group = [pending.popleft() for _ in range(min(sends.room(), len(pending)))]
        reservation = self._limiter.reserve(len(group) * self._slots_per_send)
        if not reservation.granted:
            pending.extendleft(reversed(group))
            if self._budget.spent():
                return OUT_OF_TIME, None
            stop = _stop_verdict(self._ledger)
            return stop, None if stop else min(reservation.wait_s * 0.9, RECHECK_S)
        sends.booked_ahead = reservation.wait_s > BOOKED_AHEAD_S
        # the group's claims carry the delivered marks of the sends that ended (one round trip)
        claims = self._ledger.claim_many([row.line for batch in group for row in batch],
                                         extra_lease_s=reservation.last_s, delivered=[row.line for row in sends.sent])
        outcome.delivered += len(sends.sent)
        sends.sent.clear()
        if claims.stop is not None:
            pending.extendleft(reversed(group))
            return claims.stop.value, None
        for index, batch in enumerate(group):
            claimed = [row for row in batch if claims.verdicts[row.line].may_send]
            outcome.skipped += sum(claims.verdicts[row.line] == "done" for row in batch)
            busy.extend(row for row in batch if claims.verdicts[row.line] == "busy")
            if claimed:  # the slots of a batch with no row to send are left unused: the price
                due = reservation.due[index * self._slots_per_send:(index + 1) * self._slots_per_send]
                flights.submit(self._fly, claimed, due)
        return "", None

    def _fly(self, claimed: list[JobRow], due: tuple[float, ...]) -> Flight:
        """One batch in flight, in its sender: wait for its slot, send, and on AGAIN go on with
        retries (each of them takes its own slot and claims, as a row always did)."""
        outcome, busy, tries = ChunkOutcome(), [], Tries()
        if self._warm is not None:
            try:
                self._warm()  # a new sender thread sets up its client now, not in its slot's time
            except Exception:  # noqa: BLE001 - the send builds it again and meets the error where it is handled
                pass
        verdict, rows = self._first_send(claimed, due, outcome, tries), claimed
        if verdict == AGAIN:
            verdict, rows = self._send_with_retries(claimed, outcome, busy, tries)
        return Flight(verdict, rows, outcome, busy)

    def _first_send(self, claimed: list[JobRow], due: tuple[float, ...], outcome: ChunkOutcome, tries: Tries) -> str:
        """Send with the slots and claims _launch got: a 429 (or, after a long wait, a pause)
        that came while this send waited for its slot gives the rows back instead, to go on with
        a new slot; so does a slot this sender got to too late (limiter.late) or whose
        request it made too slowly (LATE), unless a new one comes while the rows' leases still
        cover it and the send (_late_slot)."""
        first_due, retaken = due[0], False
        while True:
            wait_s = due[0] - time.monotonic()
            if wait_s > 0:
                time.sleep(wait_s)
            stop = _stop_verdict(self._ledger) if wait_s >= LONG_WAIT_S else ""
            if stop:
                break
            if not self._limiter.late(due[0]):
                if wait_s > 0 and self._limiter.quiet():
                    break
                self._limiter.keep_reserved(due[1:])
                verdict = self._attempt(claimed, outcome, tries, due=due[0])
                if verdict != LATE:
                    return verdict
            # Late for the slot, waking or making the request: a new slot with the claims kept,
            # once (its reserve counts the late one); a sender late for that one too gives its
            # rows back, to go on as a retry.
            if retaken:
                self._limiter.missed(due[0])  # called for its count: no reserve follows here
                break
            due, retaken = self._late_slot(time.monotonic() - first_due), True
            if not due:
                break
        self._release(claimed, unknown_outcome=False)
        return stop or AGAIN

    def _late_slot(self, late_s: float) -> tuple[float, ...]:
        """A new slot for a send `late_s` past its first slot, when the rows' claims still
        cover the wait for it and the send: their leases run lease_s past that first slot
        (_launch's extra_lease_s), so at least lease_s - late_s is left. The rows then keep
        their claims: no release, and no claim again in _send_with_retries, two Redis calls
        fewer per row in a worker too busy to wake its senders on time. () when there is none
        (the schedule is full for max_wait_s: _send_with_retries waits for one) or the wait
        would outlast the leases. The reserve counts the slot given up late (limiter stats' missed)."""
        reservation = self._limiter.reserve(self._slots_per_send, missed=1)
        if not reservation.granted:
            return ()
        send_s = self._send_budget_s if self._send_budget_s is not None else self._lease_s / 2
        # half of what the lease keeps beyond the send, the rest for the outcome's round trips
        if late_s + reservation.wait_s > (self._lease_s - send_s) / 2:
            return ()  # that slot goes unused: a rare stall, not worth a way to hand it back
        return reservation.due

    def _send_with_retries(self, rows: list[JobRow], outcome: ChunkOutcome, busy: list[JobRow],
                           tries: Tries) -> tuple[str, list[JobRow]]:
        """Send one batch up to the in-task attempt budget; return what became of it (sent,
        failed, deferred, empty: no row left to send, or one of STOPS) and its rows then."""
        while True:
            stop = self._wait_for_slot()
            if stop:
                return stop, rows
            claimed, stop = self._claim_all(rows, outcome, busy)
            if stop or not claimed:
                return stop or "empty", rows
            verdict = self._attempt(claimed, outcome, tries)
            if verdict != AGAIN:
                return verdict, claimed
            rows = claimed

    def _wait_for_slot(self) -> str:
        """'' once the send's limiter slots are reserved; the stop verdict if the chunk must stop.
        A long wait (a 429's Retry-After) still notices a pause, cancel or the budget within seconds."""
        while True:
            if self._budget.spent():
                return OUT_OF_TIME
            if self._limiter.acquire(should_stop=self._budget.stop_or(self._ledger), slots=self._slots_per_send):
                return ""
            if self._budget.spent():
                return OUT_OF_TIME
            stop = _stop_verdict(self._ledger)
            if stop:
                return stop
            # resumed since the limiter looked: the send still needs its slot

    def _claim_all(self, rows: list[JobRow], outcome: ChunkOutcome, busy: list[JobRow]) -> tuple[list[JobRow], str]:
        """Claim every row that may be sent; on a pause or cancel, give back what was claimed."""
        claimed: list[JobRow] = []
        for row in rows:
            claim = self._ledger.claim(row.line)
            if claim.may_send:
                claimed.append(row)
            elif claim.value == "done":
                outcome.skipped += 1
            elif claim.value == "busy":
                busy.append(row)
            elif claim.value == "badline":
                continue  # as in _launch: not the job's line, so not this batch's to stop for
            else:
                self._release(claimed, unknown_outcome=False)
                return [], claim.value
        return claimed, ""

    def _attempt(self, claimed: list[JobRow], outcome: ChunkOutcome, tries: Tries, due: float | None = None) -> str:
        """Send the claimed rows once: the failure ladder, what each outcome means for them.
        AGAIN: send them again (their claims are given back first); SENT: the vendor took them
        (the caller marks them delivered). `due`: the slot the send's first request goes in;
        LATE when that request would have gone out too long after it (nothing was sent, the
        claims are kept)."""
        start_by = None if due is None else self._limiter.start_by(due)
        started = time.monotonic()
        try:
            # the lease outlasts the whole send; its first request goes in its slot or not at all
            with deadline.within(self._send_budget_s), deadline.start_by(start_by):
                self._send_batch(claimed)
        except deadline.StartPassed:
            # Making the request took this sender past its slot (a busy process): nothing went
            # out, and the rows stay claimed for _first_send's new slot (whose reserve counts
            # this one as missed), as for a late wake.
            return LATE
        except AuthError as exc:
            # The account's key is wrong for every row: pause the job, not fail row after row.
            self._key.refused()
            self._release(claimed, unknown_outcome=False)
            return _pause_for(self._ledger, exc) or self._fail(claimed, _reason(exc), outcome)
        except RateLimited as exc:
            self._release(claimed, unknown_outcome=False)
            self._limiter.penalize(exc.retry_after_s or 1.0)  # the limiter now waits as the vendor asked
            tries.throttles += 1
            return AGAIN if tries.throttles <= MAX_THROTTLES_PER_ROW else self._defer(claimed, exc, outcome)
        except PermanentVendorError as exc:
            return self._fail(claimed, _reason(exc), outcome)
        except pydantic.ValidationError as exc:
            # The client refused to build the request (e.g. a name over the vendor's limit): nothing was sent.
            return self._fail(claimed, f"invalid for the vendor: {describe(exc, limit=1)}", outcome)
        except TransientVendorError as exc:
            self._release(claimed, unknown_outcome=isinstance(exc, OutcomeUnknown))
            tries.attempts += 1
            if tries.attempts >= self._retry.in_task_attempts:
                return self._defer(claimed, exc, outcome)
            self._sleep(self._retry.in_task_delay_s(tries.attempts - 1))
            return AGAIN
        except Exception:
            # A bug or a surprise in the send: give the rows back (they may have gone out), so the
            # chunk's retry rounds, and in the end its failure into the report, can reach them.
            self._release(claimed, unknown_outcome=True)
            raise
        self._key.accepted(started)
        return SENT

    def _fail(self, rows: list[JobRow], reason: str, outcome: ChunkOutcome) -> str:
        for row in rows:
            self._ledger.failed(row.line, row.fields, reason=reason, wire=row.wire)
        outcome.failed += len(rows)
        return "failed"

    def _release(self, rows: list[JobRow], *, unknown_outcome: bool) -> None:
        for row in rows:
            self._ledger.release(row.line, unknown_outcome=unknown_outcome)

    @staticmethod
    def _defer(rows: list[JobRow], exc: VendorError, outcome: ChunkOutcome) -> str:
        outcome.deferred.extend(rows)
        outcome.last_error = _reason(exc)
        return "deferred"


@dataclass
class _Sends:
    """Where one _send_all stands: the batches still to launch, the sends in flight, how many
    may fly at once, and what the ended ones came to."""

    pending: deque[list[JobRow]]
    flights: InFlight
    #: sends at once: 1 for a first send alone, then the runner's in_flight
    width: int
    stop: str = ""
    error: Exception | None = None
    #: lines not sent because of the stop
    unsent: set[int] = field(default_factory=set)
    #: taken by the vendor, marked delivered with the next group's launch (or, when none goes
    #: sooner, GROUP_LINGER_S after the first of them ended, or when the last send ends)
    sent: list[JobRow] = field(default_factory=list)
    #: when the first of `sent` ended
    sent_at: float = 0.0
    #: when a place in flight fell free since the last launch
    freed_at: float | None = None
    #: the last group's first slot was booked further ahead than BOOKED_AHEAD_S: the account's
    #: limit, not the sends in flight, sets the pace (see room())
    booked_ahead: bool = False

    #: batches at the start, for how far the chunk has come (room())
    batches: int = field(init=False)

    def __post_init__(self) -> None:
        self.batches = len(self.pending)

    def room(self) -> int:
        """Free places in flight. While the account's limit sets the pace, a chunk keeps half its
        places at its start and all of them at its end: every chunk then still gets the same
        slots as the others from the limiter's queue, but one further on sends a little more,
        so chunks that started together end apart, and one chunk's last round trip (its sends
        draining) is covered by the others' sends. Chunks ending together left the account's
        limit unused for a round trip each time (BENCHMARKS.md, issue 11 third session)."""
        return self._width() - self.flights.running

    def _width(self) -> int:
        """Places in flight now: `width`, or fewer early in the chunk while the limit sets the pace (room())."""
        if self.booked_ahead and self.batches:
            return max(1, math.ceil(self.width * (2 - len(self.pending) / self.batches) / 2))
        return self.width

    def hold(self, rows: list[JobRow]) -> None:
        """Rows the vendor took, to mark delivered with others."""
        if not self.sent:
            self.sent_at = time.monotonic()
        self.sent.extend(rows)

    def marks_due_s(self) -> float | None:
        """Unless a group goes first: how long the delivered marks held may wait for more sends to
        end (0: mark them now, none is in flight or the first waited GROUP_LINGER_S); None
        when none is held."""
        if not self.sent:
            return None
        if not self.flights.running:
            return 0.0
        return max(0.0, GROUP_LINGER_S - (time.monotonic() - self.sent_at))

    def may_launch(self) -> bool:
        return bool(self.pending) and not self.stop and self.error is None

    def going(self) -> bool:
        return self.may_launch() or self.flights.running > 0

    def linger_s(self) -> float | None:
        """0 when the next group goes now: half the places in flight are free (a group is worth
        its Redis calls: a limiter reserve and a ledger claim for the group, delivered marks for
        the sends that ended; sends that end one at a time would otherwise cost them per row), or
        the first of the free ones has waited GROUP_LINGER_S for the others. Else how much longer
        to wait for sends to end; None when no group may go (none left, a stop, no room)."""
        width = self._width()
        room = width - self.flights.running
        if room <= 0 or not self.may_launch():
            return None
        if room >= min(max(1, width // 2), len(self.pending)):
            return 0.0
        if self.freed_at is None:
            return GROUP_LINGER_S
        return max(0.0, GROUP_LINGER_S - (time.monotonic() - self.freed_at))


def _sooner(wait_s: float | None, other_s: float | None) -> float | None:
    """The shorter of two waits, None being no limit."""
    if wait_s is None or other_s is None:
        return other_s if wait_s is None else wait_s
    return min(wait_s, other_s)


def _merge(outcome: ChunkOutcome, busy: list[JobRow], flight: Flight) -> None:
    """Add what one batch in flight met to the chunk's outcome."""
    outcome.failed += flight.outcome.failed
    outcome.skipped += flight.outcome.skipped
    outcome.deferred.extend(flight.outcome.deferred)
    outcome.last_error = flight.outcome.last_error or outcome.last_error
    busy.extend(flight.busy)


def _reason(exc: VendorError) -> str:
    """What the operator reads in the report: the vendor's words, status included."""
    return str(exc)[:500]


def _stop_verdict(ledger: Ledger) -> str:
    """Why the chunk must stop sending (one of STOPS), or '' when it may go on: the limiter
    gave up waiting because the job looked stopped, but a resume may have come since."""
    state = ledger.job_state()
    return state if state in STOPS else ""


def _pause_for(ledger: Ledger, exc: AuthError) -> str:
    """Pause the job for an auth error, its reason kept for `job status`; the stop verdict
    ('paused', or 'cancelled'/'gone' when that came first), '' when the job cannot pause."""
    state = ledger.pause(f"paused at the first auth error: {_reason(exc)}; fix the account's key, then resume")
    return state if state in STOPS else ""
