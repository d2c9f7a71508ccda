"""Summarise a py-spy `record -f raw` (collapsed stacks) file: top self and inclusive frames.

    py-spy record -r 200 -f raw -o out.raw --pid PID --duration 20
    python bench/_flame.py out.raw [--top 25] [--match workers/]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only inclusive frames whose text contains this")
    args = parser.parse_args()
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in open(args.raw, encoding="utf-8", errors="replace"):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            self_time[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{total} samples")
    print("-- self --")
    for frame, n in self_time.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {frame}")
    print("-- inclusive --")
    shown = 0
    for frame, n in inclusive.most_common():
        if args.match in frame:
            print(f"{100 * n / total:5.1f}%  {frame}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
