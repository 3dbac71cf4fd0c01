"""The search benchmark runs end to end on a small SQLite database and prints every figure.

This proves the benchmark still works, not speed: the real run is a million messages
(docs/performance-search.md).
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

LABELS = (
    "search (all networks)",
    "search (network, answered)",
    "similar questions",
    "HTTP /api/search",
    "HTTP /api/search (network, answered)",
    "HTTP /api/similar-questions",
)


def test_small_search_benchmark_prints_every_figure() -> None:
    finished = subprocess.run(
        [sys.executable, "bench/search.py", "--db", "sqlite", "--messages", "2000",
         "--rounds", "1", "--runs", "2"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = finished.stdout.split("median of 2 runs")[1]
    for label in LABELS:
        assert re.search(rf"^  {re.escape(label)} +[\d.]+ / +[\d.]+", summary, re.MULTILINE), label
