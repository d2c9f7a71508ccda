"""Where a row's interpreter-lock releases and context switches come from, per kind of thread
(the runner's main thread, its sender threads) and native call site: from `perf` over two runs
of bench/runner_cpu.py that differ only in chunks, (counts of the longer - the shorter) / rows.

Needs perf, root, and an uprobe on drop_gil in this Python's libpython (it has symbols):

    perf probe -x "$(python -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')/libpython3.11.so.1.0" \
        -a drop_gil
    for n in 16 6; do
      perf record -q -m 2048 -o /tmp/r$n.data -e probe_libpython3:drop_gil -e sched:sched_switch \
          --call-graph dwarf,2048 -- python bench/runner_cpu.py 32 $n 1000
      perf script -i /tmp/r$n.data -F comm,pid,tid,event,trace,ip,sym > /tmp/r$n.txt
    done
    python bench/gil_handoffs.py /tmp/r16.txt /tmp/r6.txt 1000
    perf probe -d 'probe_libpython3:*'    # the uprobe goes when done

"gil release": a drop_gil (a call that lets other threads run: socket calls, a socket's
settimeout, a poll, a lock or queue wait, time.sleep), by the two native frames above it
(internal_select<sock_call_ex: the poll before a send or recv on a socket with a timeout;
sock_call_ex<sock_sendall / <sock_call: the send and the recv; select_poll_poll: redis-py's and
the HTTP pool's check for a stale connection; internal_setblocking<sock_settimeout: a
settimeout). "switch voluntary": the thread slept, by where (take_gil: waiting for the lock
back after a release); "involuntary": preempted. The first process perf started is the
runner; its sandbox child is left out. The switch counts move with the machine's load; the
releases hardly do.
"""

import re
import sys
from collections import Counter

#: frames of the lock and libc wrappers, skipped to name the call site
SKIP = {"drop_gil", "PyEval_SaveThread", "PyEval_RestoreThread", "take_gil", "futex_wait",
        "__futex_abstimed_wait_common64", "__futex_abstimed_wait_common", "__GI___futex_abstimed_wait_cancelable64",
        "__pthread_cond_wait_common",
        "___pthread_cond_timedwait64", "___pthread_cond_wait", "pthread_cond_timedwait@@GLIBC_2.3.2",
        "__GI___poll", "__libc_recv", "__libc_send", "__GI___clock_nanosleep", "__GI___nanosleep",
        "__new_sem_wait_slow64", "do_futex_wait", "__GI___ioctl", "__libc_sendto", "__libc_recvfrom"}


def parse(path, depth):
    events = Counter()
    root = None
    head, frames = None, []

    def flush():
        nonlocal root
        if head is None:
            return
        pid, tid, event, trace = head
        if root is None:
            root = pid
        if pid != root:
            return
        kind = "main" if tid == pid else "sender"
        user = [f for addr, f in frames if not addr.startswith("ffffffff")]
        kern = [f for addr, f in frames if addr.startswith("ffffffff")]
        sig = [f for f in user if f not in SKIP and not f.startswith("[unknown")][:depth]
        if event.startswith("sched:sched_switch"):
            state = re.search(r"prev_state=(\S+)", trace).group(1)
            if state.startswith("R"):
                events[(kind, "switch involuntary", "preempted")] += 1
                return
            if "futex" in " ".join(kern) or any("futex" in f for f in user[:4]):
                what = "take_gil" if "take_gil" in user else ("lock " + ("<".join(sig)))
            else:
                what = "<".join(sig)
            events[(kind, "switch voluntary", what)] += 1
        else:
            events[(kind, "gil release", "<".join(sig))] += 1

    with open(path) as lines:
        for line in lines:
            if not line.strip():
                continue
            if not line.startswith("\t") and not line.startswith(" " * 8):
                flush()
                m = re.match(r"\s*(\S+)\s+(\d+)/(\d+)\s+(\S+)\s*(.*)", line)
                head = (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
                frames = []
            else:
                parts = line.split(None, 1)
                if len(parts) == 2:
                    frames.append((parts[0], parts[1].strip().split(" (")[0]))
        flush()
    return events


def main():
    a, b, rows = sys.argv[1], sys.argv[2], float(sys.argv[3])
    depth = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    ea, eb = parse(a, depth), parse(b, depth)
    keys = set(ea) | set(eb)
    totals = Counter()
    for key in keys:
        totals[key[:2]] += (ea[key] - eb[key]) / rows
    for kt, value in sorted(totals.items()):
        print(f"{kt[0]:6} {kt[1]:18} {value:6.2f}/row")
    print()
    for key in sorted(keys, key=lambda k: (k[0], k[1], -(ea[k] - eb[k]))):
        value = (ea[key] - eb[key]) / rows
        if abs(value) >= 0.02:
            print(f"{key[0]:6} {key[1]:18} {value:6.2f}  {key[2]}")


if __name__ == "__main__":
    main()
