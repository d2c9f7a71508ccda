"""Client CPU of one Ringostat campaign-row call (RingostatClient, a session from new_session)
against a loopback sandbox, over the lean transport (vendors.direct) or over urllib3.

    python bench/http_call_ir.py 3000 direct      # CPU µs per call, this process only
    python bench/http_call_ir.py 3000 urllib3     # the same session with DeadlineAdapter mounted

Instructions per call, which the machine's load does not move: two runs under callgrind and
the difference of their totals (start-up cancels out):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/http_call_ir.py 1500 direct
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/http_call_ir.py 500 direct
    # (I refs of the first - I refs of the second) / 1,000 calls
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from pydantic import SecretStr  # noqa: E402

from _stack import AUTH_KEY, PROJECT_ID, Procs  # noqa: E402
from vendors.deadline_adapter import DeadlineAdapter  # noqa: E402
from vendors.http import new_session  # noqa: E402
from vendors.ringostat import RingostatClient, RingostatCredentials  # noqa: E402


def main() -> None:
    calls, transport = int(sys.argv[1]), sys.argv[2]
    procs = Procs()
    try:
        box = procs.sandbox()
        session = new_session(base_url=box.url)
        if transport == "urllib3":
            adapter = DeadlineAdapter(pool_connections=16, pool_maxsize=16, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        client = RingostatClient(RingostatCredentials(auth_key=SecretStr(AUTH_KEY), project_id=PROJECT_ID),
                                 base_url=box.url + "/ringostat", session=session)
        for i in range(20):
            client.add_campaign_row(456, f"380{i:09d}", "Шевченко Олена")
        cpu0 = time.process_time()
        for i in range(20, 20 + calls):
            client.add_campaign_row(456, f"380{i:09d}", "Шевченко Олена")
        print(f"{transport}: {(time.process_time() - cpu0) / calls * 1e6:.0f} µs CPU per call ({calls} calls)")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
