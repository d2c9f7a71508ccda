"""Worker CPU per row of the chunk runner alone: no Celery, the real ledger and limiter (Redis)
and RingostatClient against a loopback sandbox.

    python bench/runner_cpu.py 8        # rows in flight; 30 chunks of 100 rows (the first a warm-up)
    python bench/runner_cpu.py 1 20

Prints CPU (time.process_time of this process; the sandbox and Redis excluded) per row, rows/s,
and the ledger and limiter calls per row (claim_many, delivered_many, reserve).
"""
import sys, time, threading
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench")); sys.path.insert(0, str(ROOT))
from _stack import Procs, redis_client, unique_prefix, delete_prefix
from pydantic import SecretStr
from tasks.chunk_runner import ChunkRunner, JobRow
from workers.settings import RetrySettings
from tests.support.scripted import job_with_rows
from vendors.http import new_session
from vendors.ringostat import RingostatClient, RingostatCredentials
rif = int(sys.argv[1]); chunks = int(sys.argv[2]) if len(sys.argv) > 2 else 30
procs = Procs(); r = redis_client(); prefix = unique_prefix("inproc")
try:
    box = procs.sandbox()
    from _stack import AUTH_KEY, PROJECT_ID
    local = threading.local()
    def client():
        if not hasattr(local, "c"):
            local.c = RingostatClient(RingostatCredentials(auth_key=SecretStr(AUTH_KEY), project_id=PROJECT_ID),
                                      base_url=box.url + "/ringostat", session=new_session(base_url=box.url))
        return local.c
    rows = [JobRow(l, {"phone": f"38093{l:07d}", "fio": ""}, [l, f"38093{l:07d}", ""]) for l in range(1, 100 * chunks + 1)]
    store, job_id, ledger, limiter = job_with_rows(r, prefix, rows, limiter_name="x")
    limiter = type(limiter)(r, key=prefix + "lim", stats_key=prefix + "st", rate_per_s=100000, burst=100)
    counts = {"claim_many": 0, "delivered_many": 0, "reserve": 0}
    for obj, name in ((ledger, "claim_many"), (ledger, "delivered_many"), (limiter, "reserve")):
        m = getattr(obj, name)
        setattr(obj, name, (lambda m, name: lambda *a, **k: (counts.__setitem__(name, counts[name] + 1), m(*a, **k))[1])(m, name))
    send = lambda row: client().add_campaign_row(456, row.fields["phone"], "")
    runner = ChunkRunner(ledger=ledger, limiter=limiter, retry=RetrySettings(in_task_attempts=3), lease_s=30, send=send, in_flight=rif)
    runner.run(rows[:100])  # warm-up
    c0, w0 = time.process_time(), time.perf_counter()
    delivered = 0
    for i in range(1, chunks):
        delivered += runner.run(rows[100 * i:100 * (i + 1)]).delivered
    n = 100 * (chunks - 1)
    print(f"rif={rif}: {delivered}/{n} delivered, CPU {(time.process_time()-c0)/n*1e3:.3f} ms/row, {n/(time.perf_counter()-w0):.0f} rows/s, "
          + ", ".join(f"{k} {v/ (n+100):.2f}/row" for k, v in counts.items()))
finally:
    procs.stop_all(); delete_prefix(r, prefix)
