"""Summarise a py-spy `record -f raw` (collapsed stacks) file: top self and inclusive frames.

    py-spy record -r 200 -f raw -o out.raw --pid PID --duration 20
    python bench/_flame.py out.raw [--top 25] [--match workers/]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Profile:
    total: int = 0
    self_time: Counter = field(default_factory=Counter)  # leaf frame -> samples
    inclusive: Counter = field(default_factory=Counter)  # frame anywhere on the stack -> samples


def read(path: str) -> Profile:
    profile = Profile()
    for line in open(path, encoding="utf-8", errors="replace"):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        profile.total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            profile.self_time[frames[-1]] += n
        for frame in set(frames):
            profile.inclusive[frame] += n
    return profile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only inclusive frames whose text contains this")
    args = parser.parse_args()
    profile = read(args.raw)
    total = profile.total or 1
    print(f"{profile.total} samples")
    print("-- self --")
    for frame, n in profile.self_time.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {frame}")
    print("-- inclusive --")
    shown = 0
    for frame, n in profile.inclusive.most_common():
        if args.match in frame:
            print(f"{100 * n / total:5.1f}%  {frame}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
