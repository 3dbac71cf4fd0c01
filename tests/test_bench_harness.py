"""The benchmark harness works: a few clients for a few seconds, nothing lost, figures printed.

This proves the load generator, the seeding and the figures, not speed: the real run is
``python -m bench`` (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT
from tests.services import need_postgres

REQUIRED = (
    "scenario", "clients", "messages", "rate", "acked_per_s", "deliveries_per_s", "p50_ms",
    "p99_ms", "max_ms", "lost", "duplicates", "out_of_order", "server_rss_kb",
)  # fmt: skip


def test_quick_one_node_run_loses_nothing_and_prints_figures() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "one-node", "--quick", "--runs", "1",
         "--server-cpus", "", "--load-cpus", ""],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    runs = [line for line in lines if line.get("run") == 1]
    assert {line["scenario"] for line in runs} == {
        "one-node/12x10/s",
        "one-node/12xmax",
        "one-node/write-heavy-4",
    }
    for line in runs:
        assert set(REQUIRED) <= set(line), line
        assert line["lost"] == line["duplicates"] == line["out_of_order"] == 0, line
        assert line["messages"] > 0 and line["deliveries_per_s"] > 0, line
        assert line["drained"] and not line["unacked"], line


def test_in_process_fanout_delivers_every_event_to_every_socket_and_prints_figures() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.fanout", "--sockets", "50", "--events", "20", "--runs", "1"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # It exits with "FAILED" if any socket missed an event.
    assert finished.returncode == 0, finished.stderr[-3000:]
    (line,) = [json.loads(text) for text in finished.stdout.splitlines()]
    assert line["sockets"] == 50 and line["events"] == 20
    assert line["hub_us_per_delivery"] > 0 and line["plain_loop_us_per_delivery"] > 0


def test_quick_history_and_idle_runs_print_every_figure() -> None:
    need_postgres()  # history is measured on SQLite and on PostgreSQL
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "history", "idle", "--quick", "--runs", "1",
         "--server-cpus", "", "--load-cpus", ""],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    runs = {line["scenario"]: line for line in lines if line.get("run") == 1}
    history = [f"history/{db}/{end}" for db in ("sqlite", "postgres") for end in (
        "newest", "middle", "oldest")]  # fmt: skip
    assert set(history) <= set(runs), sorted(runs)
    for line in runs.values():
        assert set(REQUIRED) <= set(line), line
        assert line["lost"] == line["duplicates"] == line["out_of_order"] == 0, line
    for name in history:
        line = runs[name]
        assert line["messages"] == 2000 and 0 < line["p50_ms"] <= line["p95_ms"] <= line["max_ms"]
        assert line["ceiling_p95_ms"] > 0, line
    assert runs["idle/50"]["rss_kb_per_connection"] > 0
