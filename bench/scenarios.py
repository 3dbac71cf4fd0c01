"""The benchmark scenarios. Each returns one figure dict per measured variant of one run."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    LoadRun,
    Pinning,
    Server,
    ceiling_server,
    chat_server,
    cookies_for,
    new_secret,
)
from bench.httpclient import LeanHTTPClient
from bench.seed import BenchDatabase
from chat.hub import SENDS_IN_FLIGHT


@dataclass
class Sizes:
    """Full sizes follow the issue; ``quick`` shrinks everything to prove the harness works."""

    members: int = 1000
    low_rate: float = 20.0  # messages per second into the network
    senders: int = 20  # senders at full speed (closed loop, `window` sends in flight each)
    window: int = 2
    #: write-heavy senders go as fast as the protocol lets one socket go: as many sends in
    #: flight as the hub takes from a socket at once (with 2, the closed loop measures round
    #: trips: docs/performance.md, write-heavy).
    write_window: int = SENDS_IN_FLIGHT
    write_members: int = 10
    duration: float = 15.0
    idle: int = 10_000
    history: int = 1_000_000
    history_samples: int = 1000
    storm_members: int = 1000
    storm_rate: float = 20.0
    storm_spread: float = 10.0
    slow_members: int = 200
    slow_rate: float = 100.0
    slow_stall_for: float = 25.0
    workers: int = 1
    #: only the live variants whose name contains this (e.g. "write-heavy", "xmax")
    variant: str = ""

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            members=12,
            low_rate=10.0,
            senders=3,
            write_members=4,
            duration=2.0,
            idle=50,
            history=2_000,
            history_samples=20,
            storm_members=12,
            storm_rate=10.0,
            storm_spread=1.0,
            slow_members=8,
            slow_rate=20.0,
            slow_stall_for=2.0,
        )


@dataclass
class Context:
    sizes: Sizes
    pinning: Pinning
    workdir: Path
    redis_prefix: str = ""

    def __post_init__(self) -> None:
        self.redis_prefix = self.redis_prefix or f"bwt-bench-{uuid.uuid4().hex[:8]}:"


Figures = dict[str, Any]


async def _with_chat(
    ctx: Context,
    kind: str,
    members: int,
    measure: Callable[[list[Server], BenchDatabase, str], Awaitable[list[Figures]]],
    *,
    redis: bool = False,
    nodes: int = 1,
    node_cpus: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> list[Figures]:
    """A fresh database with ``members`` in one network, ``nodes`` servers on it, then measure."""
    database = await BenchDatabase.create(kind, ctx.workdir)
    servers: list[Server] = []
    try:
        await database.seed(members)
        secret = new_secret()
        for node in range(nodes):
            server = chat_server(
                database,
                ctx.pinning,
                secret=secret,
                redis_prefix=ctx.redis_prefix if redis else None,
                cpus=node_cpus[node] if node_cpus else None,
                extra_env=extra_env,
            )
            servers.append(await server.start())
        return await measure(servers, database, secret)
    finally:
        for server in servers:
            await server.stop()
        await database.drop()


def _load(
    ctx: Context,
    servers: list[Server],
    cookies: list[str],
    network_id: int,
    **plan: Any,
) -> LoadRun:
    """Clients split evenly over ``servers``."""
    targets = [(s.ws_url, cookies[i :: len(servers)]) for i, s in enumerate(servers)]
    return LoadRun(targets, network_id, ctx.pinning, ctx.sizes.workers, plan=plan)


def _live_variants(ctx: Context) -> list[tuple[str, int, dict[str, Any]]]:
    s = ctx.sizes
    rate_senders = max(1, min(s.members, int(s.low_rate)))
    variants = [
        (
            f"{s.members}x{s.low_rate:g}/s",
            s.members,
            {"senders": rate_senders, "rate": s.low_rate / rate_senders},
        ),
        (
            f"{s.members}xmax",
            s.members,
            {"senders": s.senders, "rate": 0, "window": s.window},
        ),
        (
            f"write-heavy-{s.write_members}",
            s.write_members,
            {"senders": s.write_members, "rate": 0, "window": s.write_window},
        ),
    ]
    chosen = [v for v in variants if s.variant in v[0]]
    if not chosen:
        names = ", ".join(name for name, _, _ in variants)
        raise SystemExit(f"no live variant's name contains {s.variant!r}; there are: {names}")
    return chosen


async def ceiling(ctx: Context) -> list[Figures]:
    results = []
    for name, members, plan in _live_variants(ctx):
        server = await ceiling_server(ctx.pinning, ctx.workdir).start(health=None)
        try:
            cookies = [""] * members
            run = _load(ctx, [server], cookies, 1, duration=ctx.sizes.duration, **plan)
            figures = await run.run([server], ctx.sizes.duration)
        finally:
            await server.stop()
        results.append({"scenario": f"ceiling/{name}", **_load_shape(plan), **figures})
    return results


def _rate(plan: dict[str, Any]) -> float | str:
    return round(plan["rate"] * plan["senders"], 1) if plan["rate"] else "max"


def _load_shape(plan: dict[str, Any]) -> dict[str, Any]:
    """The rate, and for closed-loop senders how many sends each keeps in flight."""
    shape = {"rate": _rate(plan)}
    if not plan["rate"]:
        shape["window"] = plan["window"]
    return shape


async def _chat_live(ctx: Context, label: str, kind: str, redis: bool) -> list[Figures]:
    results = []
    for name, members, plan in _live_variants(ctx):

        async def measure(
            servers: list[Server], database: BenchDatabase, secret: str
        ) -> list[Figures]:
            run = _load(
                ctx,
                servers,
                cookies_for(database, secret),
                database.network_id,
                duration=ctx.sizes.duration,
                **plan,  # noqa: B023 - awaited within this iteration
            )
            figures = await run.run(servers, ctx.sizes.duration)
            return [{"scenario": f"{label}/{name}", **_load_shape(plan), **figures}]  # noqa: B023

        results += await _with_chat(ctx, kind, members, measure, redis=redis)
    return results


async def one_node(ctx: Context) -> list[Figures]:
    return await _chat_live(ctx, "one-node", "sqlite", redis=False)


async def one_node_postgres_redis(ctx: Context) -> list[Figures]:
    return await _chat_live(ctx, "one-node-postgres-redis", "postgres", redis=True)


async def two_nodes(ctx: Context) -> list[Figures]:
    """Two servers on PostgreSQL + Redis sharing the server CPU(s), clients split between them."""
    s = ctx.sizes
    plan = {"senders": s.senders, "rate": 0, "window": s.window}

    async def measure(servers: list[Server], database: BenchDatabase, secret: str) -> list[Figures]:
        cookies = cookies_for(database, secret)
        run = _load(ctx, servers, cookies, database.network_id, duration=s.duration, **plan)
        figures = await run.run(servers, s.duration)
        return [{"scenario": f"two-nodes/{s.members}xmax", **_load_shape(plan), **figures}]

    return await _with_chat(ctx, "postgres", s.members, measure, redis=True, nodes=2)


async def _hold_idle(
    ctx: Context, server: Server, cookies: list[str], network_id: int, label: str, deflate: bool
) -> Figures:
    """Open one idle subscribed socket per cookie and read the server's RSS growth."""
    warm = _load(ctx, [server], cookies[:10], network_id, mode="idle", duration=1)
    await warm.run([server], 1)
    await asyncio.sleep(1)
    before = server.rss_kb()
    run = _load(
        ctx,
        [server],
        cookies,
        network_id,
        mode="idle",
        duration=5,
        deflate=deflate,
        connect_concurrency=200,
    )
    # The workers hold every socket open during `duration`; RSS is read at its end.
    figures = await run.run([server], 5)
    after = figures["server_rss_kb"]
    return {
        "scenario": f"{label}/{len(cookies)}{'-deflate' if deflate else ''}",
        "clients": len(cookies),
        "server_rss_kb": after,
        "rss_before_kb": before,
        "rss_kb_per_connection": round((after - before) / len(cookies), 2),
        "connect_s": figures["connect_s"],
        "closes": figures["closes"],
        "lost": 0,
        "duplicates": 0,
        "out_of_order": 0,
    }


async def _idle(ctx: Context, deflate: bool) -> Figures:
    async def measure(servers: list[Server], database: BenchDatabase, secret: str) -> list[Figures]:
        [server] = servers
        cookies = cookies_for(database, secret)
        return [await _hold_idle(ctx, server, cookies, database.network_id, "idle", deflate)]

    # One user per socket, as many users as sockets.
    [figures] = await _with_chat(ctx, "sqlite", ctx.sizes.idle, measure)
    return figures


async def _idle_ceiling(ctx: Context, deflate: bool) -> Figures:
    """The same sockets on the bare uvicorn endpoint: what the stack itself holds per socket."""
    server = await ceiling_server(ctx.pinning, ctx.workdir).start(health=None)
    try:
        cookies = [""] * ctx.sizes.idle
        return await _hold_idle(ctx, server, cookies, 1, "idle-ceiling", deflate)
    finally:
        await server.stop()


async def idle(ctx: Context) -> list[Figures]:
    return [
        await _idle_ceiling(ctx, deflate=False),
        await _idle(ctx, deflate=False),
        await _idle_ceiling(ctx, deflate=True),
        await _idle(ctx, deflate=True),
    ]


async def _time_gets(
    http: LeanHTTPClient, path: str, params: dict[str, int], samples: int
) -> tuple[list[float], bytes]:
    """``samples`` sequential GETs after 10 to warm caches: their times (ms, sorted) and the
    last body."""
    for _ in range(10):
        await http.get(path, params)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        body = await http.get(path, params)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings, body


def _percentiles(timings: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(0.95 * len(timings)) - 1], 2),
        "p99_ms": round(timings[int(0.99 * len(timings)) - 1], 2),
        "max_ms": round(timings[-1], 2),
    }


async def history(ctx: Context) -> list[Figures]:
    """Pages of 50 through the HTTP API at the newest end, the middle and the oldest end; then
    a bare uvicorn answering the newest page's bytes, timed by the same client in the same run:
    the floor under any history request on this machine."""
    s = ctx.sizes
    results = []
    for kind in ("sqlite", "postgres"):

        async def measure(
            servers: list[Server], database: BenchDatabase, secret: str
        ) -> list[Figures]:
            [server] = servers
            total = s.history
            cookie = cookies_for(database, secret)[0]
            positions = {"newest": None, "middle": total // 2, "oldest": 51}
            figures = []
            newest_page = b""
            async with LeanHTTPClient(server.url, headers={"Cookie": cookie}) as http:
                for name, before in positions.items():
                    params = {"limit": 50}
                    if before is not None:
                        params["before_seq"] = before
                    path = f"/api/networks/{database.network_id}/messages"
                    cpu_before = server.cpu_seconds()
                    timings, body = await _time_gets(http, path, params, s.history_samples)
                    cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / s.history_samples
                    assert len(json.loads(body)["messages"]) == 50
                    newest_page = newest_page or body
                    figures.append(
                        {
                            "scenario": f"history/{kind}/{name}",  # noqa: B023
                            "clients": 1,  # one request at a time, each after the last answer
                            "messages": total,
                            "rate": "max",
                            **_percentiles(timings),
                            "server_cpu_ms_per_page": round(cpu_ms, 3),
                            "lost": 0,
                            "duplicates": 0,
                            "out_of_order": 0,
                            "server_rss_kb": server.rss_kb(),
                        }
                    )
            floor = await _history_ceiling(ctx, newest_page)
            for line in figures:
                line["ceiling_p50_ms"], line["ceiling_p95_ms"] = floor["p50_ms"], floor["p95_ms"]
            return figures

        database = await BenchDatabase.create(kind, ctx.workdir)
        try:
            await database.seed(20)
            started = time.monotonic()
            await database.seed_history(s.history)
            seed_s = time.monotonic() - started
            secret = new_secret()
            server = await chat_server(database, ctx.pinning, secret=secret).start()
            try:
                for figures in await measure([server], database, secret):
                    figures["seed_s"] = round(seed_s, 1)
                    results.append(figures)
            finally:
                await server.stop()
        finally:
            await database.drop()
    return results


async def _history_ceiling(ctx: Context, page: bytes) -> dict[str, float]:
    page_file = ctx.workdir / "history-page.json"
    page_file.write_bytes(page)  # noqa: ASYNC240 - once per run
    server = await ceiling_server(ctx.pinning, ctx.workdir, page=page_file).start(health=None)
    try:
        async with LeanHTTPClient(server.url) as http:
            timings, _ = await _time_gets(http, "/page", {}, ctx.sizes.history_samples)
    finally:
        await server.stop()
    return _percentiles(timings)


async def reconnect_storm(ctx: Context) -> list[Figures]:
    s = ctx.sizes
    senders = max(1, min(s.storm_members // 10, int(s.storm_rate)))
    plan = {
        "senders": senders,
        "rate": s.storm_rate / senders,
        "mode": "storm",
        "storm_at": 3.0 if s.duration > 5 else 0.5,
        "storm_spread": s.storm_spread,
    }
    duration = plan["storm_at"] + s.storm_spread + 5 if s.duration > 5 else 3.0

    async def measure(servers: list[Server], database: BenchDatabase, secret: str) -> list[Figures]:
        cookies = cookies_for(database, secret)
        run = _load(ctx, servers, cookies, database.network_id, duration=duration, **plan)
        figures = await run.run(servers, duration)
        return [{"scenario": f"reconnect-storm/{s.storm_members}", "rate": _rate(plan), **figures}]

    return await _with_chat(ctx, "sqlite", s.storm_members, measure)


async def slow_reader(ctx: Context) -> list[Figures]:
    s = ctx.sizes
    senders = max(1, min(s.slow_members // 10, 10))
    results = []
    for mode in ("live", "slow"):
        plan = {"senders": senders, "rate": s.slow_rate / senders, "mode": mode}
        plan["stall_for"] = s.slow_stall_for
        plan["stall_after"] = 2.0 if s.duration > 5 else 0.3
        duration = s.slow_stall_for + 5 if s.duration > 5 else 3.0

        async def measure(
            servers: list[Server], database: BenchDatabase, secret: str
        ) -> list[Figures]:
            run = _load(
                ctx,
                servers,
                cookies_for(database, secret),
                database.network_id,
                duration=duration,  # noqa: B023
                **plan,  # noqa: B023
            )
            figures = await run.run(servers, duration)  # noqa: B023
            label = "stalled" if mode == "slow" else "baseline"  # noqa: B023
            return [
                {
                    "scenario": f"slow-reader/{s.slow_members}/{label}",
                    "rate": _rate(plan),  # noqa: B023
                    **figures,
                }
            ]

        results += await _with_chat(ctx, "sqlite", s.slow_members, measure)
    return results


def redis_benchmark() -> list[Figures]:
    """Redis's own PUBLISH rate on this machine, for the scale-out estimate."""
    try:
        output = subprocess.run(
            ["redis-benchmark", "-q", "-n", "200000", "-P", "1", "-d", "700", "-c", "10",
             "publish", "bwt-bench-redis-benchmark", "x" * 700],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        return [{"scenario": "redis-publish", "error": str(error)}]
    rate = 0.0
    for part in output.replace("\r", "\n").split("\n"):
        if "requests per second" in part:
            rate = float(part.split(":")[1].split()[0])
    return [{"scenario": "redis-publish", "publish_per_s": rate, "lost": 0, "duplicates": 0,
             "out_of_order": 0}]  # fmt: skip


SCENARIOS: dict[str, Callable[[Context], Awaitable[list[Figures]]]] = {
    "ceiling": ceiling,
    "one-node": one_node,
    "one-node-postgres-redis": one_node_postgres_redis,
    "two-nodes": two_nodes,
    "idle": idle,
    "history": history,
    "reconnect-storm": reconnect_storm,
    "slow-reader": slow_reader,
}
