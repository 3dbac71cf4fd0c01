"""Summarise py-spy's collapsed stacks: the functions where the server spent its samples.

python -m bench.profile_summary server-9123.txt [--top 40]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--filter", default="", help="only stacks containing this text")
    arguments = parser.parse_args()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in arguments.path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or (arguments.filter and arguments.filter not in stack):
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"{total} samples")
    print("-- own time")
    for frame, count in own.most_common(arguments.top):
        print(f"{100 * count / total:5.1f}%  {frame}")
    print("-- inclusive")
    for frame, count in inclusive.most_common(arguments.top):
        print(f"{100 * count / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
