"""P4 stages: where a new `telequeue load --detach` process spends its time until its first chunk is published.

    python bench/p4_stages.py                                 # this tree, 15 runs
    python bench/p4_stages.py --tree /tmp/main --tree .       # two source trees alternated, run by run
    python bench/p4_stages.py --runs 1 --instructions         # + instructions to the first publish (valgrind)

A source tree for --tree: `git archive main | tar -x -C /tmp/main`, then `python -m compileall
-q workers tasks vendors sandbox` in it (as here: the bench says whether .pyc are present). Each
run spawns `python bench/_p4_stage_probe.py load ringostat-campaign --campaign 456 --detach
FILE` (a 500-row CSV, the one bench/p4_latency.py loads) with the tree's own code, against
Redis DB 14 under a fresh key prefix; no worker is needed (the chunks wait in the broker's
list under the prefix, deleted at the end). Milestones, from just before the spawn: wall time
and the process's CPU time, p50 and min. On a shared machine CPU time moves less than wall
time; callgrind's instruction count (--instructions) does not move with load at all.
Results: bench/out/p4_stages.json, keyed by command line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (  # noqa: E402
    OUT, PY, REDIS_URL, ROOT, delete_prefix, ensure_contacts, git_state, load_now, load_text, machine, redis_client,
    unique_prefix, write_result,
)

RESULT = "p4_stages"
PROBE = Path(__file__).resolve().parent / "_p4_stage_probe.py"


def run_once(tree: Path, csv_path: Path, prefix: str, out: Path, *, instructions: bool = False) -> int | None:
    env = {**os.environ, "TELEQUEUE_REDIS_URL": REDIS_URL, "TELEQUEUE_KEY_PREFIX": prefix,
           "TELEQUEUE_BROKER_KEY_PREFIX": prefix + "broker:", "PYTHONPATH": str(tree), "P4_STAGES_OUT": str(out)}
    args = [PY, str(PROBE), "load", "ringostat-campaign", "--campaign", "456", "--detach", str(csv_path)]
    if instructions:
        env["P4_EXIT_AT_FIRST_PUBLISH"] = "1"
        args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args]
    env["P4_T0"] = repr(time.time())
    done = subprocess.run(args, env=env, cwd=tree, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: the load exited {done.returncode}: {done.stderr[-1000:]}")
    if instructions:
        collected = [line for line in done.stderr.splitlines() if "Collected" in line]
        return int(collected[-1].split()[-1]) if collected else None
    return None


def summary(lines: list[list]) -> dict:
    names = [m[0] for m in lines[0]]
    stages = {}
    for name in names:
        wall = [m[1] for run in lines for m in run if m[0] == name]
        cpu = [m[2] for run in lines for m in run if m[0] == name]
        stages[name] = {"wall_p50_ms": round(statistics.median(wall), 1), "wall_min_ms": round(min(wall), 1),
                        "cpu_p50_ms": round(statistics.median(cpu), 1), "cpu_min_ms": round(min(cpu), 1), "n": len(wall)}
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="a source tree to run (default: this one)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--instructions", action="store_true", help="also count instructions with valgrind")
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    csv_path = ensure_contacts(500, bad_share=0.0, dup_share=0.0, seed=4)
    prefix = unique_prefix("p4s")
    results: dict = {"trees": {}, "load_at_start": load_now()}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {tree: Path(tmp) / f"{i}.jsonl" for i, tree in enumerate(trees)}
        try:
            for _ in range(args.runs):
                for tree in trees:
                    run_once(tree, csv_path, prefix, outs[tree])
            counts = {tree: run_once(tree, csv_path, prefix, Path(tmp) / "ir.jsonl", instructions=True)
                      for tree in trees} if args.instructions else {}
        finally:
            delete_prefix(redis_client(), prefix)
        results["load_at_end"] = load_now()
        print(f"P4 stages, {args.runs} runs per tree, alternated; {load_text(results['load_at_start'])} -> "
              f"{load_text(results['load_at_end'])}; ms from process start, p50 (min)")
        for tree in trees:
            lines = [json.loads(line) for line in outs[tree].read_text().splitlines()]
            stages = summary(lines)
            bytecode = any((tree / "workers" / "cli" / "__pycache__").glob("commands.*.pyc"))
            results["trees"][str(tree)] = {"stages": stages, "instructions_to_first_publish": counts.get(tree),
                                           "project_bytecode": bytecode}
            print(f"  {tree} (.pyc present: {bytecode})"
                  + (f", instructions to the first publish: {counts[tree] / 1e6:,.0f} M" if counts.get(tree) else ""))
            for name, s in stages.items():
                print(f"    {name:50s} wall {s['wall_p50_ms']:6.0f} ({s['wall_min_ms']:4.0f})  "
                      f"cpu {s['cpu_p50_ms']:6.0f} ({s['cpu_min_ms']:4.0f})")
    command = "python " + " ".join(["bench/p4_stages.py", *sys.argv[1:]])
    path = OUT / f"{RESULT}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("runs", {})[command] = {**results, "git": git_state(), "command": command,
                                            "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    data["machine"] = machine()
    write_result(RESULT, data)
    print(f"  -> {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
