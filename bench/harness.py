"""Server processes pinned to CPUs, load-generator processes, and the figures of one run."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.load import bucket_ms
from bench.seed import BenchDatabase, session_cookie

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PORTS = range(9000, 9500)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Pinning:
    """Which CPUs the servers and the load generators may use (``taskset -c``)."""

    server: str = "0"
    load: str = "1"

    def prefix(self, cpus: str) -> list[str]:
        if not cpus or shutil.which("taskset") is None:
            return []
        return ["taskset", "-c", cpus]


def free_port() -> int:
    for _ in range(200):
        port = random.choice(PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 9000-9499")


def raise_open_files() -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Server:
    """A `bwt serve` (or the ceiling endpoint) process on its own port and CPU."""

    command: list[str]
    env: dict[str, str]
    port: int
    workdir: Path
    process: asyncio.subprocess.Process | None = None
    profiler: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, health: str | None = "/healthz") -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / f"server-{self.port}.log", "ab")  # noqa: SIM115, ASYNC230
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"server exited: {(self.workdir / f'server-{self.port}.log').read_text()}"
                    )
                try:
                    if health is None:
                        with socket.create_connection(("127.0.0.1", self.port), 0.5):
                            return self
                    elif (await client.get(self.url + health, timeout=2)).status_code == 200:
                        await self.start_profiler()
                        return self
                except (httpx.HTTPError, OSError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not become healthy within 60 s")

    def rss_kb(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    async def start_profiler(self) -> None:
        """With ``BWT_BENCH_PROFILE=dir``, py-spy samples the server into ``dir`` until it stops."""
        directory = os.environ.get("BWT_BENCH_PROFILE")
        if not directory or self.process is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out = Path(directory) / f"server-{self.port}.txt"
        self.profiler = await asyncio.create_subprocess_exec(
            spy, "record", "--gil", "-r", "100", "-f", "raw", "-o", str(out),
            "--pid", str(self.process.pid),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    async def stop(self) -> None:
        if self.profiler is not None and self.profiler.returncode is None:
            self.profiler.send_signal(signal.SIGINT)
            await self.profiler.wait()
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def chat_server(
    database: BenchDatabase,
    pinning: Pinning,
    *,
    secret: str,
    redis_prefix: str | None = None,
    cpus: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        # This checkout's code, whichever checkout the venv installed (comparing two worktrees).
        "PYTHONPATH": str(PROJECT_ROOT),
        "BWT_DATABASE_URL": database.url,
        "BWT_SECRET_KEY": secret,
        "BWT_ALLOWED_ORIGINS": "http://bench.localhost",
        "BWT_LOG_LEVEL": "warning",
        # The per-socket flood limit (20 frames/s) would cap "as fast as senders can go".
        "BWT_FRAME_RATE": "1000000",
        "BWT_FRAME_BURST": "1000000",
        **(extra_env or {}),
    }
    env.pop("BWT_REDIS_URL", None)
    if redis_prefix is not None:
        env["BWT_REDIS_URL"] = "redis://127.0.0.1:6379/0"
        env["BWT_REDIS_PREFIX"] = redis_prefix
    command = [
        *pinning.prefix(pinning.server if cpus is None else cpus),
        sys.executable,
        "-m",
        "chat",
        "serve",
        "--port",
        str(port),
    ]
    return Server(command, env, port, database.workdir / "server")


def ceiling_server(pinning: Pinning, workdir: Path, *, page: Path | None = None) -> Server:
    port = free_port()
    command = [*pinning.prefix(pinning.server), sys.executable, "-m", "bench.ceiling"]
    command += ["--port", str(port)] + (["--page", str(page)] if page else [])
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return Server(command, env, port, workdir / "ceiling")


def percentile(histogram: dict[int, int], fraction: float) -> float:
    total = sum(histogram.values())
    if not total:
        return 0.0
    rank = fraction * total
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(bucket_ms(bucket), 2)
    return round(bucket_ms(max(histogram)), 2)


@dataclass
class LoadRun:
    """Load-generator processes sharing the clients of one run."""

    targets: list[tuple[str, list[str]]]  # (ws url, cookies) per group of clients
    network_id: int
    pinning: Pinning
    workers_per_target: int = 1
    plan: dict[str, Any] = field(default_factory=dict)
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    plan_dir: Path | None = None

    async def _spawn(self) -> None:
        tmp = self.plan_dir = Path(tempfile.mkdtemp(prefix="bwt-bench-plans-"))
        index = 0
        senders_left = self.plan.get("senders", 0)
        for url, cookies in self.targets:
            chunks = [cookies[i :: self.workers_per_target] for i in range(self.workers_per_target)]
            for chunk in chunks:
                if not chunk:
                    continue
                senders = self.plan.get("senders_per_worker", None)
                if senders is None:
                    senders = min(senders_left, len(chunk))
                    senders_left -= senders
                plan = {
                    **{k: v for k, v in self.plan.items() if k not in ("senders_per_worker",)},
                    "url": url,
                    "origin": "http://bench.localhost",
                    "cookies": chunk,
                    "network_id": self.network_id,
                    "worker": index,
                    "senders": senders,
                }
                path = tmp / f"plan-{index}.json"
                path.write_text(json.dumps(plan))
                self.processes.append(
                    await asyncio.create_subprocess_exec(
                        *self.pinning.prefix(self.pinning.load),
                        sys.executable,
                        "-m",
                        "bench.load",
                        str(path),
                        cwd=PROJECT_ROOT,
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        limit=2**24,
                    )
                )
                index += 1

    async def _read_all(self, key: str, timeout: float) -> list[dict[str, Any]]:
        async def one(process: asyncio.subprocess.Process) -> dict[str, Any]:
            assert process.stdout is not None
            while True:
                line = await process.stdout.readline()
                if not line:
                    raise RuntimeError(f"load generator exited before {key!r}")
                message = json.loads(line)
                if key in message:
                    return message  # type: ignore[no-any-return]

        return await asyncio.wait_for(asyncio.gather(*(one(p) for p in self.processes)), timeout)

    def _tell_all(self, message: dict[str, Any]) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write((json.dumps(message) + "\n").encode())

    async def run(
        self, servers: list[Server], duration: float, *, connect_timeout: float = 600
    ) -> dict[str, Any]:
        """Connect, send for ``duration`` seconds, drain, and merge every worker's figures."""
        try:
            await self._spawn()
            ready = await self._read_all("ready", connect_timeout)
            connect_s = max(r["connect_s"] for r in ready)
            t0 = time.time() + 0.5
            self._tell_all({"go": t0})
            await asyncio.sleep(max(0.0, t0 - time.time()))
            cpu_before = [s.cpu_seconds() for s in servers]
            await asyncio.sleep(duration)
            cpu_after = [s.cpu_seconds() for s in servers]
            rss = [s.rss_kb() for s in servers]
            sent = await self._read_all("sent", duration + 120)
            final = max(s["max_seq"] for s in sent)
            self._tell_all({"drain": final})
            results = [r["result"] for r in await self._read_all("result", 300)]
        finally:
            for process in self.processes:
                if process.returncode is None:
                    try:
                        await asyncio.wait_for(process.wait(), 10)
                    except TimeoutError:
                        process.kill()
                        await process.wait()
            if self.plan_dir is not None:
                shutil.rmtree(self.plan_dir, ignore_errors=True)  # the plans hold session cookies
        return merge(results, duration, cpu_before, cpu_after, rss, connect_s)


def merge(
    results: list[dict[str, Any]],
    duration: float,
    cpu_before: list[float],
    cpu_after: list[float],
    rss: list[int],
    connect_s: float,
) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    for result in results:
        for bucket, count in result.get("latency", {}).items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + count
    deliveries = sum(r.get("deliveries_in_window", 0) for r in results)
    cpu = sum(after - before for before, after in zip(cpu_before, cpu_after, strict=True))
    merged: dict[str, Any] = {
        "clients": sum(r.get("clients", 0) for r in results),
        "messages": sum(r.get("acked_in_window", 0) for r in results),
        "acked_per_s": round(sum(r.get("acked_in_window", 0) for r in results) / duration, 1),
        "deliveries_per_s": round(deliveries / duration, 1),
        "p50_ms": percentile(histogram, 0.50),
        "p99_ms": percentile(histogram, 0.99),
        "max_ms": round(bucket_ms(max(histogram)), 2) if histogram else 0.0,
        "lost": sum(r.get("lost", 0) for r in results),
        "duplicates": sum(r.get("duplicates", 0) for r in results),
        "out_of_order": sum(r.get("out_of_order", 0) for r in results),
        "server_rss_kb": sum(rss),
        "server_cpu_pct": round(100 * cpu / duration, 1),
        "server_us_per_delivery": round(1e6 * cpu / deliveries, 2) if deliveries else None,
        "connect_s": round(connect_s, 2),
        "loadavg": round(os.getloadavg()[0], 2),
        "unacked": sum(r.get("unacked", 0) for r in results),
        "drained": all(r.get("drained", True) for r in results),
        "errors": _sum_counts(r.get("errors", {}) for r in results),
        "closes": _sum_counts(r.get("closes", {}) for r in results),
        "unexpected_closes": sum(r.get("unexpected_closes", 0) for r in results),
    }
    for key in ("storm_caught_up_s", "stall_cut_off", "stall_close_codes", "stall_caught_up_s"):
        values = [r[key] for r in results if key in r]
        if values:
            merged[key] = max(values) if key.endswith("_s") else values[0]
    return merged


def _sum_counts(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return total


def new_secret() -> str:
    return "bench-" + uuid.uuid4().hex


def cookies_for(database: BenchDatabase, secret: str) -> list[str]:
    return [session_cookie(secret, uid) for uid in database.user_ids]
