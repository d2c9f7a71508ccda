"""Print the markdown tables of BENCHMARKS.md from the JSON results under bench/out/.

    python bench/summarize.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def load(name: str) -> dict | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def machine_line(m: dict) -> str:
    git = m.get("git", {})
    dirty = git.get("uncommitted_outside_bench") or []
    return (f"{m['nproc']} cores ({m['cpu']}), Python {m['python']}, Redis {m['redis']}, Celery {m['celery']}, "
            f"{m['date']}, commit {git.get('head', '?')}" + (f" + {len(dirty)} uncommitted files" if dirty else ""))


def p1() -> None:
    r = load("p1_enqueue")
    if not r:
        return
    print("### P1\n")
    print(f"Machine: {machine_line(r['machine'])}\n")
    print("| measure | target | measured | |\n|---|---|---|---|")
    print(f"| wall, 1,000,000 rows (interpreter start to exit) | < 60 s | {r['wall_s']:.1f} s "
          f"({r['rows_per_s']:,} rows/s; imports {r['import_s']:.2f} s) | {mark(r['wall_ok'])} |")
    print(f"| peak RSS of the producer process | < 200 MB | {r['peak_rss_mb']:.0f} MB | {mark(r['rss_ok'])} |")
    print(f"| Redis memory per row (INFO used_memory delta / rows) | - | {r['redis_bytes_per_row_info']:.0f} B "
          f"({r['redis_used_memory_delta_mb']:.0f} MB) | |")
    print(f"| Redis memory per row (MEMORY USAGE of the keys / rows) | - | {r['redis_bytes_per_row_keys']:.0f} B | |")
    keys = ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in sorted(r["redis_key_bytes"].items(), key=lambda kv: -kv[1])
                     if v > 2**16)
    print(f"| rows: valid / rejected; chunk messages | - | {r['valid']:,} / {r['rejected']:,}; "
          f"{r['messages_in_queue']:,} | |")
    print(f"| largest keys | - | {keys} | |\n")


def p2() -> None:
    r = load("p2_throughput")
    if not r:
        return
    print("### P2\n")
    print(f"Machine: {machine_line(r['machine'])}\n")
    print("| rows | worker shape | telequeue calls/s | naive calls/s | ratio | telequeue s | naive s "
          "| worker CPU ms/row tq / naive | CPU s tq: workers/sandbox/redis/others | CPU s naive: workers/sandbox/redis/others |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, run in sorted(r["runs"].items(), key=lambda kv: (int(kv[0].split(":")[0]), kv[1]["shape"])):
        tq, nv = run.get("telequeue"), run.get("naive")

        def cpu(x):
            if not x:
                return "-"
            return (f"{x['worker_cpu_s']:.0f}/{x['sandbox_cpu_s']:.0f}/{x.get('redis_cpu_s', 0):.0f}/"
                    f"{x.get('other_processes_cpu_s', 0):.0f}")

        print(f"| {run['rows']:,} | {run['shape']} | {tq['calls_per_s']:,.0f} | "
              f"{nv['calls_per_s']:,.0f} | {run.get('ratio', 0):.2f}x | {tq['seconds']:.1f} | {nv['seconds']:.1f} | "
              f"{1000 * tq['worker_cpu_s'] / tq['accepted']:.2f} / {1000 * nv['worker_cpu_s'] / nv['accepted']:.2f} | "
              f"{cpu(tq)} | {cpu(nv)} |" if tq and nv else f"| {run['rows']:,} | {run['shape']} | partial run |")
    print()


def p3() -> None:
    r = load("p3_rate_limit")
    if not r:
        return
    p = r["params"]
    print("### P3\n")
    print(f"Machine: {machine_line(r['machine'])}\n")
    print(f"R = {p['rate']:g}/s, {p['processes']} worker processes x `-P {p['pool']} -c {p['concurrency']}`, "
          f"sandbox `--rate 123={p['rate']:g}/{p['sandbox_burst']}`, window {p['seconds']:g} s, {p['rows']} rows.\n")
    print("| | target | telequeue (global GCRA) | Celery `rate_limit` per task |\n|---|---|---|---|")
    tq, nv = r.get("telequeue", {}), r.get("naive_celery_rate_limit", {})

    def cell(x, field, fmt="{}"):
        return fmt.format(x[field]) if field in x else "-"

    print(f"| achieved rate in the window | >= {0.98 * p['rate']:g}/s | {cell(tq, 'achieved_per_s', '{:.2f}/s')} "
          f"({100 * tq.get('achieved_share_of_R', 0):.1f} % of R) | {cell(nv, 'achieved_per_s', '{:.2f}/s')} "
          f"({100 * nv.get('achieved_share_of_R', 0):.1f} % of R; {nv.get('per_worker_per_s', 0):.2f}/s per worker) |")
    print(f"| max accepted in any 1 s | <= {p['rate'] + p['sandbox_burst']:g} | {cell(tq, 'max_in_any_1s')} "
          f"| {cell(nv, 'max_in_any_1s')} |")
    print(f"| sandbox 429s | 0 | {cell(tq, 'sandbox_429')} | {cell(nv, 'sandbox_429')} |")
    if tq:
        print(f"| job after `telequeue job cancel` | - | {tq['job_after_cancel']} | - |")
    print()


def r1() -> None:
    r = load("r1_recovery")
    if not r:
        return
    s, p = r["summary"], r["params"]
    print("### R1\n")
    print(f"Machine: {machine_line(r['machine'])}\n")
    print(f"{p['workers']} workers x `-P threads -c {p['concurrency']}`, defaults, Redis broker; a {p['rows']}-row job "
          f"at {p['rate']:g}/s, its worker killed with -9 after {p['kill_after']} rows, {s['kills']} kills.\n")
    print("| | p50 | max | |\n|---|---|---|---|")
    print(f"| kill -9 to the dead worker's rows sending again | {s['recovery_p50_s']:.1f} s | {s['recovery_max_s']:.1f} s "
          f"| target <= 30 s: {mark(s['recovery_max_s'] <= 30)} |")
    print(f"| kill -9 to the last of them received | {s['finish_p50_s']:.1f} s | {s['finish_max_s']:.1f} s | |")
    print(f"| rows lost / duplicates / unknown outcomes counted (all kills) | {s['lost']} / {s['duplicates']} / "
          f"{s['unknown_outcome']} | | |\n")


def r2() -> None:
    r = load("r2_chaos")
    if not r:
        return
    print("### R2\n")
    print(f"Machine: {machine_line(r['machine'])}\n")
    print("| run | rows | rate | kills | load exit | seconds | rows/rate | limit (rows/rate + 60) | lost "
          "| duplicates (bound kills x threads) | unknown outcomes counted |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, x in enumerate(r["runs"], 1):
        print(f"| {i} | {x['rows']:,} | {x['rate_per_s']:g}/s | {x['kills']} | {x['load_exit']} | {x['seconds']:.0f} s "
              f"| {x['rows_over_rate_s']:.0f} s | {x['deadline_s']:.0f} s ({mark(x['within_deadline'])}) | {x['lost']} "
              f"| {x['duplicates']} ({x['duplicate_bound']}) | {x['unknown_outcome']} |")
    print()


def main() -> int:
    p1()
    p2()
    p3()
    r1()
    r2()
    return 0


if __name__ == "__main__":
    sys.exit(main())
