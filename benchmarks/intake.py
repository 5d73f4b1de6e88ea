"""Webhook intake under open-loop load: riskgate's 202 latency and losses, beside a floor."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from benchmarks.service import (
    HOST,
    WEBHOOK_SECRET,
    MachineCPU,
    ServiceProcess,
    app_key,
    cpu_seconds,
    database,
    free_port,
    gate_command,
    gate_env,
    percentile,
    profiled,
    start_service,
    wait_until_quiet,
)
from gate.store import Database, Delivery
from gate.store.jobs import count_by_state
from gate.webhooks import handler_for
from gate.webhooks.intake import signature_is_valid
from tests.fakes import SHARED

# Deliveries an App receives besides the PRs it scores. Those a handler acts on are left out
# (see ignored_templates): the load measures the intake, not the handlers.
TEMPLATES = [
    ("ping", "ping/ping.json"),
    ("push", "push/push.json"),
    ("check_suite", "check_suite/requested.json"),
    ("check_suite", "check_suite/completed.json"),
    ("check_suite", "check_suite/rerequested.json"),
    ("check_run", "check_run/created.json"),
    ("check_run", "check_run/completed.json"),
    ("status", "status/status.json"),
    ("issue_comment", "issue_comment/created.json"),
    ("pull_request", "pull_request/closed.json"),
]
WEBHOOKS = SHARED / "conformance" / "github-webhooks"
GITHUB_TIMEOUT_S = 10.0
TARGET_RATE = 300.0
TARGET_P99_MS = 50.0


# ---- the floor: verify the HMAC, answer 202, store nothing --------------------------------


def floor_app() -> FastAPI:
    """Entry point for `uvicorn --factory benchmarks.intake:floor_app`."""
    secret = os.environ["GATE_WEBHOOK_SECRET"].encode()
    app = FastAPI(title="intake floor")

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/webhooks/github", status_code=202)
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if not signature_is_valid(secret, body, request.headers.get("x-hub-signature-256")):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        delivery = request.headers.get("x-github-delivery")
        return JSONResponse({"delivery": delivery, "duplicate": False}, status_code=202)

    return app


# ---- the load generator (runs in its own process) -----------------------------------------
#
# A plain HTTP/1.1 client on asyncio streams: httpx.AsyncClient spent about 10 ms of CPU per
# request here once requests queued for its pool, so on two cores it measured itself.


@dataclass
class LoadResult:
    sent: int
    seconds: float
    statuses: dict[str, int]
    latencies_ms: list[float]  # scheduled send time -> complete response, every answered request
    lag_ms: list[float]  # scheduled send time -> the scheduler queued it (the generator's own lag)
    accepted_ids: list[str]
    cpu_seconds: float


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def ignored_templates() -> list[tuple[str, str]]:
    """The TEMPLATES no handler takes: the worker stores them and marks them ignored."""
    chosen = []
    for event, name in TEMPLATES:
        action = json.loads((WEBHOOKS / name).read_bytes()).get("action")
        if handler_for(event, action if isinstance(action, str) else None) is None:
            chosen.append((event, name))
    return chosen


def generate_load(
    url: str, rate: float, seconds: float, connections: int, templates: list[tuple[str, str]]
) -> LoadResult:
    """Send `rate` signed deliveries a second for `seconds`, on a fixed (open-loop) schedule."""
    started_cpu = time.process_time()
    result = asyncio.run(_load(url, rate, seconds, connections, templates))
    result.cpu_seconds = time.process_time() - started_cpu
    return result


def _request_parts(
    url: str, templates: list[tuple[str, str]]
) -> tuple[str, int, list[tuple[bytes, bytes]]]:
    """(host, port, [(request head up to the delivery id, rest of head + body)]) per template."""
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    parts = []
    for event, name in templates:
        raw = (WEBHOOKS / name).read_bytes()
        head = (
            f"POST {parsed.raw_path.decode()} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "User-Agent: GitHub-Hookshot/benchmark\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n"
            f"X-GitHub-Event: {event}\r\n"
            f"X-Hub-Signature-256: {sign(raw)}\r\n"
            "X-GitHub-Delivery: "
        ).encode()
        parts.append((head, b"\r\n\r\n" + raw))
    return host, port, parts


async def _load(
    url: str, rate: float, seconds: float, connections: int, templates: list[tuple[str, str]]
) -> LoadResult:
    host, port, parts = _request_parts(url, templates)
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    lag: list[float] = []
    accepted: list[str] = []

    async def connection() -> None:
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while (item := await queue.get()) is not None:
            index, due = item
            head, rest = parts[index % len(parts)]
            delivery = str(uuid.uuid4())
            # GitHub gives up 10 s after it sends a delivery (and does not send it again): one
            # that waited that long here for a free connection counts as unanswered, unsent
            left = due + GITHUB_TIMEOUT_S - time.perf_counter()
            if left <= 0:
                statuses["unsent after 10 s"] += 1
                continue
            try:
                if streams is None:
                    streams = await asyncio.open_connection(host, port)
                status, keep = await asyncio.wait_for(
                    _exchange(*streams, head + delivery.encode() + rest), timeout=left
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                statuses[error.__class__.__name__] += 1
                keep = False
            else:
                latencies.append((time.perf_counter() - due) * 1000)
                statuses[status] += 1
                if status == "202":
                    accepted.append(delivery)
            if not keep and streams is not None:
                streams[1].close()
                streams = None
        if streams is not None:
            streams[1].close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.perf_counter() + 0.05
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append((time.perf_counter() - due) * 1000)
        queue.put_nowait((index, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return LoadResult(total, elapsed, dict(statuses), latencies, lag, accepted, 0.0)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[str, bool]:
    """Send one request, read its whole response: (status code, connection reusable)."""
    writer.write(request)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    status_line, _, header_text = head.partition("\r\n")
    length = 0
    keep = True
    for line in header_text.split("\r\n"):
        name, _, value = line.partition(":")
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            keep = False
    await reader.readexactly(length)
    return status_line.split(" ", 2)[1], keep


def run_generator(url: str, rate: float, seconds: float, connections: int) -> LoadResult:
    """Run `generate_load` in a second process and return what it measured."""
    context = multiprocessing.get_context("spawn")
    templates = ignored_templates()
    with context.Pool(1) as pool:
        pending = pool.apply_async(generate_load, (url, rate, seconds, connections, templates))
        return pending.get(timeout=seconds + GITHUB_TIMEOUT_S + 60)


# ---- one measured run against one server ---------------------------------------------------


@dataclass
class RunReport:
    name: str
    rate_offered: float
    rate_achieved: float
    sent: int
    accepted: int
    non_202: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    late_p99_ms: float
    server_cpu_s: float
    generator_cpu_s: float
    stored: int | None = None
    lost: int | None = None
    max_backlog: int | None = None
    drain_s: float | None = None
    jobs: dict[str, int] = field(default_factory=dict)
    other_cpu_s: float = 0.0  # CPU the rest of the machine used meanwhile (noise)
    steal_s: float = 0.0  # CPU the hypervisor took away meanwhile (noise)
    quiet_before: bool = True  # the machine was idle before the load started


def _summarise(name: str, rate: float, load: LoadResult, server_cpu: float) -> RunReport:
    latencies = sorted(load.latencies_ms)
    answered_by = load.seconds
    return RunReport(
        name=name,
        rate_offered=rate,
        rate_achieved=len(latencies) / answered_by if answered_by else 0.0,
        sent=load.sent,
        accepted=len(load.accepted_ids),
        non_202={status: n for status, n in load.statuses.items() if status != "202"},
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else float("nan"),
        late_p99_ms=percentile(sorted(load.lag_ms), 0.99),
        server_cpu_s=server_cpu,
        generator_cpu_s=load.cpu_seconds,
    )


class BacklogSampler:
    """Samples the job table once a second while the load runs: the worker's backlog."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.max_backlog = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> BacklogSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            counts = count_by_state(self.db)
            self.max_backlog = max(
                self.max_backlog, counts.get("queued", 0) + counts.get("running", 0)
            )


def _drain(db: Database, timeout: float) -> tuple[float, dict[str, int]]:
    """Wait until no job is queued or running; (seconds waited, jobs by state)."""
    started = time.perf_counter()
    deadline = started + timeout
    while True:
        counts = count_by_state(db)
        if counts.get("queued", 0) + counts.get("running", 0) == 0:
            return time.perf_counter() - started, counts
        if time.perf_counter() > deadline:
            return float("nan"), counts
        time.sleep(0.2)


def run_floor(args: argparse.Namespace, work: Path) -> RunReport:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "benchmarks.intake:floor_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {"GATE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    server = start_service(command, env, port, work / "floor.log")
    try:
        return _measure("floor: HMAC + 202, no store", args, server)
    finally:
        server.stop()


def run_gate(
    args: argparse.Namespace, work: Path, private_key: str, worker: bool = True
) -> RunReport:
    port = free_port()
    label = "riskgate" if worker else "riskgate, worker off"
    place = work / ("gate" if worker else "intake-only")
    place.mkdir()
    with database(args.database_url, place) as url:
        # a closed port: the deliveries sent here never make the worker call GitHub
        env = gate_env(place, url, private_key, f"http://{HOST}:9")
        env["GATE_WORKER_ENABLED"] = "true" if worker else "false"
        db = Database(url)
        server = start_service(gate_command(port), env, port, work / f"{label}.log")
        try:
            with BacklogSampler(db) as sampler:
                report = _measure(label, args, server)
            report.max_backlog = sampler.max_backlog
            if worker:
                report.drain_s, report.jobs = _drain(db, args.drain_timeout)
            else:
                report.jobs = count_by_state(db)
            with db.session() as session:
                report.stored = session.scalar(select(func.count()).select_from(Delivery)) or 0
            report.lost = report.accepted - report.stored
        finally:
            server.stop()
            db.dispose()
        errors = [line for line in server.log_tail(200).splitlines() if '"level": "error"' in line]
        if errors:
            print(f"{label}: {len(errors)} error lines in its log, e.g. {errors[0][:300]}")
    return report


def _measure(name: str, args: argparse.Namespace, server: ServiceProcess) -> RunReport:
    machine = MachineCPU()
    profile = args.profile / f"{name.split(':')[0].replace(' ', '-')}.txt" if args.profile else None
    quiet = wait_until_quiet(args.quiet_wait)
    cpu_before = cpu_seconds(server.process.pid)
    machine.start()
    with profiled(server.process.pid, profile):
        load = run_generator(
            server.url + "/webhooks/github", args.rate, args.seconds, args.connections
        )
    server_cpu = cpu_seconds(server.process.pid) - cpu_before
    report = _summarise(name, args.rate, load, server_cpu)
    report.other_cpu_s = machine.stop() - server_cpu - load.cpu_seconds
    report.steal_s = machine.steal_seconds
    report.quiet_before = quiet
    return report


# ---- the report -----------------------------------------------------------------------------


def _cell(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def print_table(reports: list[RunReport], args: argparse.Namespace) -> None:
    database_name = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\nintake: {args.rate:g}/s offered for {args.seconds:g} s, {args.connections} keep-alive "
        f"connections, database {database_name}, {os.cpu_count()} CPUs, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    header = (
        "| server | offered/s | achieved/s | p50 ms | p90 ms | p99 ms | max ms | non-202 "
        "| sent | 202s | stored | lost | max backlog | drain s | server CPU s | load CPU s "
        "| others' CPU s | steal s |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in reports:
        non_202 = ", ".join(f"{k}: {v}" for k, v in sorted(r.non_202.items())) or "0"
        print(
            f"| {r.name} | {r.rate_offered:g} | {r.rate_achieved:.1f} | {r.p50_ms:.1f} "
            f"| {r.p90_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.1f} | {non_202} | {r.sent:,} "
            f"| {r.accepted:,} | {_cell(r.stored)} | {_cell(r.lost)} | {_cell(r.max_backlog)} "
            f"| {_cell(r.drain_s)} | {r.server_cpu_s:.1f} | {r.generator_cpu_s:.1f} "
            f"| {r.other_cpu_s:.1f} | {r.steal_s:.1f} |"
        )
    for r in reports:
        if r.jobs:
            print(f"{r.name}: jobs by state {dict(sorted(r.jobs.items()))}")
        if not r.quiet_before:
            print(f"{r.name}: other processes were busy when the load started: noisy figures")
        if r.late_p99_ms > 5:
            print(f"{r.name}: the generator ran late (p99 {r.late_p99_ms:.1f} ms behind schedule)")
    gate = next((r for r in reports if r.name == "riskgate"), None)
    if gate is not None:
        verdict = [
            f"rate {'PASS' if gate.rate_achieved >= 0.99 * TARGET_RATE else 'FAIL'}",
            f"p99 < {TARGET_P99_MS:g} ms {'PASS' if gate.p99_ms < TARGET_P99_MS else 'FAIL'}",
            f"zero lost {'PASS' if gate.lost == 0 and not gate.non_202 else 'FAIL'}",
        ]
        print("target (300/s for 30 s, p99 < 50 ms, none lost): " + "; ".join(verdict))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="deliveries a second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument(
        "--database-url", help="postgresql://... to run on a fresh schema (default: SQLite)"
    )
    parser.add_argument(
        "--peers",
        default="floor,gate",
        help="comma-separated: floor, gate, intake-only (riskgate with its worker off)",
    )
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument(
        "--quiet-wait", type=float, default=240.0, help="seconds to wait for an idle machine"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--profile", type=Path, help="py-spy each server during its load; collapsed stacks here"
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if not WEBHOOKS.is_dir():
        parser.error(f"{WEBHOOKS} is missing: the real webhook payloads are needed")
    if args.rate * args.seconds > 100_000 or args.seconds > 300:
        parser.error("keep it bounded: at most 100,000 deliveries and 300 s")

    private_key, _public = app_key()
    reports: list[RunReport] = []
    with tempfile.TemporaryDirectory(prefix="riskgate-intake-") as tmp:
        work = Path(tmp)
        for peer in args.peers.split(","):
            if peer == "floor":
                reports.append(run_floor(args, work))
            elif peer == "gate":
                reports.append(run_gate(args, work, private_key))
            elif peer == "intake-only":
                reports.append(run_gate(args, work, private_key, worker=False))
            else:
                parser.error(f"unknown peer {peer!r}")
    print_table(reports, args)
    print("deliveries sent, in turn: " + ", ".join(name for _e, name in ignored_templates()))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in reports], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
