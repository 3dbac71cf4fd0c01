"""``python -m bench [scenario …] [--runs N] [--quick]``: run the benchmark, one JSON line each.

Every run of every scenario prints one line; after the last run each scenario prints a
``"run": "median"`` line, and the ratios measured within each run (one-node against the ceiling,
two nodes against one node) are printed with their medians. Any lost, duplicated or reordered
event fails the whole command (exit status 1) and says where.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Pinning, raise_open_files
from bench.scenarios import SCENARIOS, Context, Sizes, redis_benchmark

ORDER = list(SCENARIOS)
CHECKED = ("lost", "duplicates", "out_of_order")
RATIOS = [
    # (name, numerator scenario, denominator scenario, field)
    ("one-node/ceiling at {m}xmax", "one-node/{m}xmax", "ceiling/{m}xmax", "deliveries_per_s"),
    ("one-node/ceiling write-heavy", "one-node/write-heavy-{w}", "ceiling/write-heavy-{w}",
     "acked_per_s"),
    ("two-nodes/one-node at {m}xmax", "two-nodes/{m}xmax", "one-node/{m}xmax", "deliveries_per_s"),
    ("postgres-redis/one-node at {m}xmax", "one-node-postgres-redis/{m}xmax", "one-node/{m}xmax",
     "deliveries_per_s"),
]  # fmt: skip


def python_speed_ms() -> float:
    """Milliseconds for a fixed pure-Python loop, best of three: how fast this machine ran
    Python when the benchmark started. Shared machines vary; compare runs only at a like speed."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(2_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


#: every scenario line has these keys (the issue's list); null where one does not apply to the
#: scenario (no deliveries while sockets idle, no acknowledgements for history reads).
REQUIRED = (
    "scenario", "clients", "messages", "rate", "acked_per_s", "deliveries_per_s", "p50_ms",
    "p99_ms", "max_ms", "lost", "duplicates", "out_of_order", "server_rss_kb",
)  # fmt: skip


def emit(line: dict[str, Any]) -> None:
    if "scenario" in line and "publish_per_s" not in line:
        line = {**line, **{key: None for key in REQUIRED if key not in line}}
    print(json.dumps(line), flush=True)


def failures(line: dict[str, Any]) -> list[str]:
    problems = [f"{key}={line[key]}" for key in CHECKED if line.get(key)]
    if line.get("drained") is False:
        problems.append("not every client caught up")
    if line.get("unexpected_closes"):
        problems.append(f"unexpected_closes={line['unexpected_closes']}")
    if line.get("unacked"):
        problems.append(f"unacked={line['unacked']}")
    return problems


def median_line(name: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"scenario": name, "run": "median", "runs": len(lines)}
    for key in lines[0]:
        values = [line.get(key) for line in lines]
        if key in ("scenario", "run"):
            continue
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(values):
            merged[key] = round(statistics.median(numbers), 2)
            if key in CHECKED:
                merged[key] = max(numbers)  # any loss in any run counts
        else:
            merged[key] = values[-1]
    return merged


async def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", default=["all"], help=f"all, or: {', '.join(ORDER)}, redis-publish"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the harness")
    parser.add_argument("--server-cpus", default="0", help="taskset CPUs of the servers ('' = any)")
    parser.add_argument("--load-cpus", default="1", help="taskset CPUs of the load generators")
    parser.add_argument("--workers", type=int, default=1, help="load-generator processes")
    parser.add_argument("--duration", type=float, help="seconds of each measurement")
    parser.add_argument("--members", type=int, help="members of the network (default 1000)")
    parser.add_argument("--variant", default="", help="only live variants whose name has this")
    parser.add_argument(
        "--window", type=int, help="sends in flight per full-speed fan-out sender (default 2)"
    )
    parser.add_argument(
        "--write-window", type=int, help="sends in flight per write-heavy sender (default 8)"
    )
    arguments = parser.parse_args()

    names = ORDER if "all" in arguments.scenarios else arguments.scenarios
    unknown = [n for n in names if n not in SCENARIOS and n != "redis-publish"]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    sizes = Sizes.quick() if arguments.quick else Sizes()
    sizes.workers = arguments.workers
    sizes.variant = arguments.variant
    if arguments.duration:
        sizes.duration = arguments.duration
    if arguments.members:
        sizes.members = arguments.members
    if arguments.window:
        sizes.window = arguments.window
    if arguments.write_window:
        sizes.write_window = arguments.write_window
    raise_open_files()
    workdir = Path(tempfile.mkdtemp(prefix="bwt-bench-"))
    context = Context(sizes, Pinning(arguments.server_cpus, arguments.load_cpus), workdir)
    emit(
        {
            "bench": "bwt-chat",
            "quick": arguments.quick,
            "runs": arguments.runs,
            "server_cpus": arguments.server_cpus,
            "load_cpus": arguments.load_cpus,
            "sizes": vars(sizes),
            "python_loop_ms": python_speed_ms(),
        }
    )

    by_scenario: dict[str, list[dict[str, Any]]] = {}
    per_run: list[dict[str, dict[str, Any]]] = []
    problems: list[str] = []
    try:
        for run in range(1, arguments.runs + 1):
            this_run: dict[str, dict[str, Any]] = {}
            for name in names:
                if name == "redis-publish":
                    lines = redis_benchmark()
                else:
                    lines = await SCENARIOS[name](context)
                for line in lines:
                    line = {"scenario": line["scenario"], "run": run, **line}
                    emit(line)
                    by_scenario.setdefault(line["scenario"], []).append(line)
                    this_run[line["scenario"]] = line
                    problems += [f"{line['scenario']} run {run}: {p}" for p in failures(line)]
            per_run.append(this_run)
        if "all" in arguments.scenarios and "redis-publish" not in names:
            for line in redis_benchmark():
                emit(line)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    for name, lines in by_scenario.items():
        emit(median_line(name, lines))
    m, w = sizes.members, sizes.write_members
    for label, top, bottom, key in RATIOS:
        top, bottom, label = top.format(m=m, w=w), bottom.format(m=m, w=w), label.format(m=m, w=w)
        ratios = [
            r[top][key] / r[bottom][key]
            for r in per_run
            if top in r and bottom in r and r[bottom].get(key)
        ]
        if ratios:
            emit(
                {
                    "ratio": label,
                    "field": key,
                    "per_run": [round(x, 3) for x in ratios],
                    "median": round(statistics.median(ratios), 3),
                }
            )
    if problems:
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
