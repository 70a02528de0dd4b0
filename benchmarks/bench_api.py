"""API throughput: uvicorn (2 workers) on 127.0.0.1 against the benchmark database, driven by httpx threads.

Two loads, each bounded in request count and in seconds: a read tool (POST /api/v1/tools/get_item on random
items; target ≥ 200 requests/s) and the chat endpoint with the offline backend (a stock question per item).
Traffic goes only to the loopback address; the server is started and stopped here. A PostgreSQL database's
planner statistics are refreshed first (ANALYZE), as in the reports benchmark: a server in use keeps them
current (autovacuum), a database loaded a moment ago has none (``--no-analyze`` measures it without).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READ_TARGET_RPS = 200.0
HOST = "127.0.0.1"
WORKERS = 2
STARTUP_SECONDS = 120.0


@dataclass(frozen=True)
class LoadResult:
    """One bounded load: how many requests were answered 2xx, how many failed, and the latencies."""

    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    threads: int
    first_error: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(db_url: str, workers: int = WORKERS) -> Iterator[str]:
    """Run the API (no UI, offline assistant) in a uvicorn subprocess on a free loopback port; yields its base
    URL once /health answers, and stops the server (by its own process id) when the block ends."""
    port = _free_port()
    env = {
        **os.environ,
        "ORDERPILOT_DATABASE_URL": db_url,
        "ORDERPILOT_UI_ENABLED": "false",
        "ORDERPILOT_LLM_BASE_URL": "",
        "ORDERPILOT_LLM_API_KEY": "",
        "ORDERPILOT_ASSISTANT_BACKEND": "offline",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = tempfile.NamedTemporaryFile(prefix="orderpilot-bench-api-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.app:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1]
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited ({proc.returncode}); see {log.name}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the API server did not answer within {STARTUP_SECONDS:g} s; see {log.name}"
                )
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def drive(
    base_url: str,
    token: str,
    path: str,
    bodies: Sequence[dict[str, Any]],
    *,
    name: str,
    threads: int = 8,
    max_requests: int = 2000,
    max_seconds: float = 30.0,
    timeout_seconds: float = 60.0,
) -> LoadResult:
    """POST ``bodies`` (round robin) to ``path`` from ``threads`` clients until ``max_requests`` were sent or
    ``max_seconds`` passed, whichever comes first."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_seconds
        ) as client:
            while time.monotonic() < deadline:
                n = next(counter)
                if n >= max_requests:
                    return
                start = time.perf_counter()
                try:
                    response = client.post(path, json=bodies[n % len(bodies)])
                    ok, detail = response.is_success, f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, repr(exc)
                elapsed = time.perf_counter() - start
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors.append(detail)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join(max_seconds + timeout_seconds + 5)
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return LoadResult(
        name=name,
        requests=len(latencies),
        errors=len(errors),
        seconds=seconds,
        p50_ms=statistics.median(ordered) * 1000 if ordered else 0.0,
        p95_ms=ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000 if ordered else 0.0,
        threads=threads,
        first_error=errors[0] if errors else "",
    )


WRK_SCRIPT = """
local bodies = {BODIES}
local max_requests = {MAX_REQUESTS}
local counter = 0
local threads = {{}}
function setup(thread)
    table.insert(threads, thread)
end
function init(args)
    counter = 0
end
function request()
    counter = counter + 1
    local body = bodies[(counter % #bodies) + 1]
    return wrk.format("POST", "{PATH}", {{["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer {TOKEN}"}}, body)
end
function response(status, headers, body)
    if counter >= max_requests then
        wrk.thread:stop()
    end
end
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRK %d %d %d %.3f %.3f\\n", summary.requests, summary.duration,
        e.connect + e.read + e.write + e.status + e.timeout,
        latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def drive_wrk(
    base_url: str,
    token: str,
    path: str,
    bodies: Sequence[dict[str, Any]],
    *,
    name: str,
    threads: int = 2,
    connections: int = 8,
    max_requests: int = 3000,
    max_seconds: float = 30.0,
) -> LoadResult:
    """The same load as ``drive`` from Debian's ``wrk`` (C, so the client takes little of the two cores):
    bounded by ``max_seconds`` and, per wrk thread, by ``max_requests / threads`` requests."""
    import json
    import shutil

    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk")

    def lua(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    script = WRK_SCRIPT.format(
        BODIES="{" + ", ".join(lua(json.dumps(b, ensure_ascii=False)) for b in bodies) + "}",
        MAX_REQUESTS=max(1, max_requests // threads),
        PATH=path,
        TOKEN=token,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                wrk,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max_seconds:g}s",
                "--timeout",
                "60s",
                "-s",
                f.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=max_seconds + 90,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    requests, micros, errors, p50_ms, p95_ms = line.split()[1:]
    seconds = int(micros) / 1e6
    return LoadResult(
        name=name,
        requests=int(requests) - int(errors),
        errors=int(errors),
        seconds=seconds,
        p50_ms=float(p50_ms),
        p95_ms=float(p95_ms),
        threads=connections,
        first_error="" if not int(errors) else "non-2xx or socket errors (wrk)",
    )


def bench_token(db_url: str) -> str:
    """A sales user with a fresh API token in the benchmark database."""
    from tools.auth import create_user, issue_token
    from tools.context import open_context

    username = f"bench-{random.randrange(10**6):06d}"
    with open_context(db_url) as ctx:
        create_user(ctx.session, username, "sales", display_name="benchmark")
        return issue_token(ctx.session, username, name="bench")


def refresh_statistics(db_url: str) -> bool:
    """ANALYZE a PostgreSQL database (what autovacuum does in time after a bulk load); False for SQLite."""
    import sqlalchemy as sa

    from data_model.db import make_engine, normalize_url

    if not normalize_url(db_url).startswith("postgresql"):
        return False
    engine = make_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return True


def item_codes(db_url: str, count: int = 200, seed: int = 7) -> list[str]:
    import sqlalchemy as sa

    from data_model.tables import Item
    from tools.context import open_context

    with open_context(db_url) as ctx:
        codes = sorted(ctx.session.exec(sa.select(Item.code)).scalars())
    return random.Random(seed).sample(codes, min(count, len(codes)))


def run_api_benchmark(
    db_url: str,
    *,
    read_requests: int = 20_000,
    chat_requests: int = 2_000,
    max_seconds: float = 15.0,
    connections: int = 4,
    analyze: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[LoadResult]:
    """The read-tool load and the chat load on one database (loaded beforehand), from ``wrk`` when it is
    installed (``apt-get install wrk``), else from httpx threads (which share the two cores with the server,
    so they measure less); with ``analyze``, a PostgreSQL database's statistics are refreshed first."""
    import shutil

    if analyze:
        refresh_statistics(db_url)
    token = bench_token(db_url)
    codes = item_codes(db_url)
    reads = [{"item": code} for code in codes]
    chats = [{"message": f"{code} 库存多少", "backend": "offline"} for code in codes]
    use_wrk = shutil.which("wrk") is not None

    def load(path: str, bodies: list[dict[str, Any]], name: str, max_requests: int) -> LoadResult:
        if use_wrk:
            return drive_wrk(
                db_base,
                token,
                path,
                bodies,
                name=f"{name} (wrk)",
                connections=connections,
                max_requests=max_requests,
                max_seconds=max_seconds,
            )
        return drive(
            db_base,
            token,
            path,
            bodies,
            name=f"{name} (httpx)",
            threads=connections * 2,
            max_requests=max_requests,
            max_seconds=max_seconds,
        )

    results = []
    with serve(db_url) as db_base:
        # warm both workers: engines, tool registry, the assistant's name index
        drive(db_base, token, "/api/v1/tools/get_item", reads[:20], name="warm", threads=4, max_requests=40)
        drive(
            db_base, token, "/api/v1/chat", chats[:8], name="warm", threads=4, max_requests=8, max_seconds=120
        )
        if progress:
            progress("api: read tool")
        results.append(load("/api/v1/tools/get_item", reads, "read tool get_item", read_requests))
        if progress:
            progress("api: chat")
        results.append(load("/api/v1/chat", chats, "chat, offline backend", chat_requests))
    return results


def section_api(ctx: Any) -> list[Any]:
    """Rows for ``orderpilot bench`` (``SECTIONS["api"]``), on each database the load section filled."""
    from benchmarks.run import BenchRow

    rows = []
    for backend, url in ctx.db_urls.items():
        for r in run_api_benchmark(url):
            is_read = r.name.startswith("read")
            note = (
                f"{r.requests} answered, {r.errors} failed in {r.seconds:.1f} s; {r.threads} connections, "
                f"{WORKERS} uvicorn workers; p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms"
                + ("; statistics refreshed (ANALYZE)" if backend == "postgres" else "")
            )
            if r.first_error:
                note += f"; first error: {r.first_error[:120]}"
            rows.append(
                BenchRow(
                    "api",
                    f"{ctx.size} / {backend}",
                    f"{r.name}: throughput",
                    round(r.rps, 1),
                    "req/s",
                    target=f"≥ {READ_TARGET_RPS:g} req/s" if is_read else "",
                    ok=(r.rps >= READ_TARGET_RPS and r.errors == 0) if is_read else r.errors == 0,
                    note=note,
                )
            )
            rows.append(
                BenchRow(
                    "api",
                    f"{ctx.size} / {backend}",
                    f"{r.name}: p95 latency",
                    r.p95_ms / 1000,
                    "s",
                    note=f"p50 {r.p50_ms:.1f} ms",
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="a loaded database URL")
    parser.add_argument("--read-requests", type=int, default=20_000)
    parser.add_argument("--chat-requests", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="keep a PostgreSQL database's planner statistics as they are",
    )
    args = parser.parse_args(argv)
    for r in run_api_benchmark(
        args.db,
        read_requests=args.read_requests,
        chat_requests=args.chat_requests,
        max_seconds=args.seconds,
        analyze=not args.no_analyze,
    ):
        print(  # command-line entry point
            f"{r.name}: {r.rps:.1f} req/s ({r.requests} ok, {r.errors} failed, {r.seconds:.1f} s), "
            f"p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms{'; ' + r.first_error if r.first_error else ''}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
