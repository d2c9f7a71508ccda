"""A chunk's time budget through a real worker: past it, the chunk hands the rest of its rows on
(the runner's side: tests/redis/test_chunk_budget.py)."""

from __future__ import annotations

import re

from tests.support.data import write_contacts
from tests.support.delivery import assert_exactly_once_except_unknown, job_id_of, line_map, status
from tests.support.stack import Stack


def test_a_worker_hands_on_the_rest_of_a_chunk_after_its_budget(redis_url, tmp_path):
    # Given a 2 s budget (the mechanism, not the default) and a limit that needs ~5 s per chunk
    stack = Stack(redis_url, tmp_path, chunk_time_budget_s="2", ringostat__accounts__default__rate_per_s="40",
                  ringostat__accounts__default__burst="1")
    try:
        stack.start_worker(concurrency=1)
        valid = write_contacts(tmp_path / "c.csv", 200, offset=500_000)
        job_id = job_id_of(stack.cli("load", "ringostat-campaign", "--campaign", "910", "--detach",
                                     str(tmp_path / "c.csv")))
        follow = stack.cli("job", "follow", job_id, "--timeout", "60", timeout_s=90)
        assert follow.returncode == 0, follow.stderr
        log = stack.log("w0").read_text(errors="replace")
        # Then the chunks stopped at their budget and handed their rest on
        handed = [int(n) for n in re.findall(r"out of its 2 s budget: (\d+) rows handed on", log)]
        assert len(handed) >= 2 and all(0 < n < 100 for n in handed), handed
        runs = [float(s) for s in re.findall(r"add_chunk\[[^\]]+\] succeeded in ([\d.]+)s", log)]
        assert runs and max(runs) < 2 + 1, f"a chunk ran {max(runs):.1f} s"
        # And every row arrived once: nothing lost, nothing sent twice
        assert status(stack, job_id)["delivered"] == 200
        assert assert_exactly_once_except_unknown(stack, job_id, 910, valid, line_map(200, 500_000)) == 0
    finally:
        stack.stop()
