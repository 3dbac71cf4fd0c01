"""Markdown tables from the JSON lines of ``python -m bench`` (for docs/performance.md).

python -m bench.report results.jsonl [more.jsonl …]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = (
    "run", "clients", "rate", "window", "acked_per_s", "deliveries_per_s", "p50_ms", "p99_ms",
    "max_ms", "lost", "duplicates", "out_of_order", "server_rss_kb", "server_cpu_pct",
    "server_us_per_delivery", "loadavg",
)  # fmt: skip
EXTRA = (
    "p95_ms", "rss_kb_per_connection", "rss_before_kb", "storm_caught_up_s", "stall_cut_off",
    "stall_close_codes", "stall_caught_up_s", "closes", "seed_s", "publish_per_s",
    "ceiling_p50_ms", "ceiling_p95_ms", "server_cpu_ms_per_page",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path, help="files of python -m bench's output")
    lines = []
    for path in parser.parse_args().paths:
        for text in path.read_text().splitlines():
            if text.startswith("{"):
                lines.append(json.loads(text))
    by_scenario: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for line in lines:
        if "scenario" in line:
            by_scenario.setdefault(line["scenario"], []).append(line)
    for scenario, rows in by_scenario.items():
        columns = [c for c in (*COLUMNS, *EXTRA) if any(c in r for r in rows)]
        print(f"\n**{scenario}**\n")
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in rows:
            print("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    ratios = [line for line in lines if "ratio" in line]
    if ratios:
        print("\n| ratio (same run) | field | per run | median |\n|---|---|---|---|")
        for r in ratios:
            print(f"| {r['ratio']} | {r['field']} | {r['per_run']} | {r['median']} |")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return str(value)


if __name__ == "__main__":
    main()
