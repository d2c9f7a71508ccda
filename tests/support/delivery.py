"""What a Stack's job delivered: its id and status from the CLI, and every row exactly once at the
vendor except rows whose first outcome was unknown (and counted)."""

from __future__ import annotations

import json
from collections import Counter


def job_id_of(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def status(stack, job_id) -> dict:
    return json.loads(stack.cli("job", "status", job_id, "--json").stdout)


def unknown_lines(stack, job_id) -> dict[int, int]:
    raw = stack.redis.hgetall(f"{stack.prefix}job:{job_id}:unknown")
    return {int(k): int(v) for k, v in raw.items()}


def assert_exactly_once_except_unknown(stack, job_id, campaign, valid, line_of):
    """0 lost; any number sent twice is a row whose first outcome was unknown, and counted."""
    received = Counter(row["phone_number"] for row in stack.rows(campaign))
    assert set(received) == valid, f"lost: {sorted(valid - set(received))[:5]}"
    unknown = unknown_lines(stack, job_id)
    extra = {phone: n - 1 for phone, n in received.items() if n > 1}
    for phone, copies in extra.items():
        assert unknown.get(line_of[phone], 0) >= copies, f"{phone} sent {copies + 1} times, not counted"
    assert sum(extra.values()) <= status(stack, job_id)["unknown_outcome"]
    return sum(extra.values())


def line_map(valid_count: int, offset: int) -> dict[str, int]:
    """Phone -> CSV line of a file from tests.support.data.write_contacts(n, offset=offset)."""
    return {f"38093{i:07d}": i - offset + 2 for i in range(offset, offset + valid_count)}


def delivered(stack, job_id: str) -> int:
    return int(stack.redis.hget(f"{stack.prefix}job:{job_id}", "delivered") or 0)
