"""Assessments a second through POST /api/v1/assessments, and their latency, on 10,000 commits."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from benchmarks.service import (
    APP_ID,
    CLOCK_TICKS,
    WEBHOOK_SECRET,
    MachineCPU,
    ServiceProcess,
    app_key,
    database,
    free_port,
    gate_command,
    gate_env,
    percentile,
    start_service,
    wait_until_quiet,
)
from benchmarks.synthrepo import RepoSpec, cached, machine
from gate.store import Database
from gate.store.jobs import count_by_state
from tests.fakes import OPENAPI_PATH, FakeGitHub, FakeGitHubServer

with warnings.catch_warnings():  # conftest imports starlette's TestClient, which warns
    warnings.simplefilter("ignore")
    from tests.conftest import WEBHOOKS, real_payload, sign

REPO = "octo-org/shop"
ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "riskgate"
KID = "bench-1"
TARGET_RATE = 100.0
TARGET_P99_MS = 200.0
REQUEST_TIMEOUT_S = 30.0
INDEXED_MASTER = "refs/riskgate/indexed/master"  # how far the service's history index reaches


# ---- the load generator (runs in its own process) -----------------------------------------
#
# Closed loop: each client sends its next assessment as soon as the previous one is answered,
# on its own keep-alive connection. A plain HTTP/1.1 client on asyncio streams (see
# benchmarks/README.md: httpx's AsyncClient costs ~10 ms of CPU a request here).


@dataclass
class LevelResult:
    concurrency: int
    seconds: float
    statuses: dict[str, int]
    latencies_ms: list[float]
    errors: list[str]  # the first few non-201 answers
    cpu_seconds: float = 0.0  # the generator's
    server_cpu_s: float = 0.0  # the service's Python process(es), over the same window
    git_cpu_s: float = 0.0  # its git processes, kept or ended, over the same window
    machine_cpu_s: float = 0.0  # every process on the machine, over the same window


def drive(
    url: str,
    token: str,
    pairs: list[tuple[str, str]],
    concurrency: int,
    seconds: float,
    server_pid: int,
) -> LevelResult:
    """`concurrency` clients assess `pairs` (each once, in turn) for up to `seconds`.

    CPU is read here, right around the load, so that starting this process is not counted.
    """
    meter = MachineCPU()
    own_before, git_before = process_cpu(server_pid)
    started_cpu = time.process_time()
    meter.start()
    result = asyncio.run(_drive(url, token, pairs, concurrency, seconds))
    result.machine_cpu_s = meter.stop()
    result.cpu_seconds = time.process_time() - started_cpu
    own_after, git_after = process_cpu(server_pid)
    result.server_cpu_s = own_after - own_before
    result.git_cpu_s = git_after - git_before
    return result


def _request(host: str, port: int, token: str, base: str, head: str) -> bytes:
    body = json.dumps({"repository": REPO, "base": base, "head": head, "kind": "pr"}).encode()
    return (
        f"POST /api/v1/assessments HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[str, bytes, bool]:
    """Send one request, read its whole response: (status, body, connection reusable)."""
    writer.write(request)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    status_line, _, header_text = head.partition("\r\n")
    length, keep = 0, True
    for line in header_text.split("\r\n"):
        name, _, value = line.partition(":")
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            keep = False
    body = await reader.readexactly(length)
    return status_line.split(" ", 2)[1], body, keep


async def _drive(
    url: str, token: str, pairs: list[tuple[str, str]], concurrency: int, seconds: float
) -> LevelResult:
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    todo = iter(pairs)
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline and (pair := next(todo, None)) is not None:
            request = _request(host, port, token, *pair)
            sent = time.perf_counter()
            try:
                if streams is None:
                    streams = await asyncio.open_connection(host, port)
                status, body, keep = await asyncio.wait_for(
                    _exchange(*streams, request), REQUEST_TIMEOUT_S
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                statuses[type(error).__name__] += 1
                keep = False
            else:
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses[status] += 1
                if status != "201" and len(errors) < 5:
                    errors.append(f"{status} for {pair}: {body[:300]!r}")
            if not keep and streams is not None:
                streams[1].close()
                streams = None
        if streams is not None:
            streams[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return LevelResult(
        concurrency, time.perf_counter() - started, dict(statuses), latencies, errors
    )


def run_level(
    server: ServiceProcess,
    token: str,
    pairs: list[tuple[str, str]],
    concurrency: int,
    seconds: float,
) -> LevelResult:
    """`drive` in a second process, so the generator's CPU is not the server's."""
    context = multiprocessing.get_context("spawn")
    work = (server.url, token, pairs, concurrency, seconds, server.process.pid)
    with context.Pool(1) as pool:
        return pool.apply_async(drive, work).get(timeout=seconds + REQUEST_TIMEOUT_S + 120)


# ---- the repository, the keys, the service ---------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def prepare_remote(commits: int, remotes: Path) -> tuple[Path, list[str], float]:
    """The synthetic repository (cached, `git fast-import`), cloned as 'GitHub's' copy.

    Returns the clone, master's first-parent history (newest first) and the seconds it took
    (building the repository when the cache has none, ~1-2 minutes for 10,000 commits).
    """
    started = time.perf_counter()
    synth = cached(RepoSpec(commits=commits))
    remote = remotes / REPO
    remote.parent.mkdir(parents=True)
    # a local clone hard-links the objects: seconds, and the shared cache is only read
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--local", str(synth.path), str(remote)], check=True
    )
    history = git(remote, "rev-list", "--first-parent", "refs/heads/master").split()
    return remote, history, time.perf_counter() - started


def pick_pairs(history: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """`count` different (base, head) pairs: head a master commit, base 1-5 commits before it."""
    rng = random.Random(seed)
    chosen: set[tuple[str, str]] = set()
    limit = min(count, (len(history) - 6) * 5)
    while len(chosen) < limit:
        at = rng.randrange(len(history) - 6)
        chosen.add((history[at + rng.randint(1, 5)], history[at]))
    pairs = sorted(chosen)
    rng.shuffle(pairs)
    return pairs


def oidc_keys(work: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    """A local 'Actions' issuer: a signing key and the JWKS file the service trusts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwks = work / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": KID, "alg": "RS256"}]}))
    return key, jwks


def oidc_token(key: rsa.RSAPrivateKey, lifetime: int = 3600) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "repository": REPO,
        "actor": "octocat",
        "run_id": "1",
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def register(
    server: ServiceProcess, master: str, db: Database, mirror: Path, timeout: float
) -> None:
    """One signed push delivery, as GitHub sends it; wait until the worker has indexed master."""
    push = real_payload("push", "push")
    push["repository"].update(full_name=REPO, name=REPO.split("/")[1], default_branch="master")
    push.update(ref="refs/heads/master", after=master, installation={"id": 1})
    raw = json.dumps(push).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": f"bench-push-{master[:12]}",
        "X-Hub-Signature-256": sign(raw, WEBHOOK_SECRET),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/benchmark",
    }
    response = httpx.post(server.url + "/webhooks/github", content=raw, headers=headers)
    if response.status_code != 202:
        raise RuntimeError(f"push delivery: {response.status_code} {response.text}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = count_by_state(db)
        if counts.get("queued", 0) + counts.get("running", 0) == 0 and counts.get("done"):
            indexed = subprocess.run(
                ["git", "-C", str(mirror), "rev-parse", "-q", "--verify", INDEXED_MASTER],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if indexed == master:
                return
        if counts.get("failed"):
            raise RuntimeError(f"the push job failed: {counts}\n{server.log_tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"master was not indexed within {timeout:.0f} s:\n{server.log_tail()}")


def process_cpu(pid: int) -> tuple[float, float]:
    """(service, git) CPU seconds of the service's process tree.

    Service: its Python processes (with `--workers`, the supervisor and each worker). Git: the
    git processes alive now (the kept `cat-file` and `diff-tree`) and every child the service
    has waited for (the git runs it started and that ended).
    """
    service = git = 0.0
    for process in _process_tree(pid):
        try:
            head, _, rest = Path(f"/proc/{process}/stat").read_text().rpartition(")")
        except FileNotFoundError:
            continue  # ended meanwhile: its parent counts it once it is waited for
        fields = rest.split()
        own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        waited = (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
        if head.partition("(")[2] == "git":
            git += own + waited
        else:
            service += own
            git += waited
    return service, git


def _process_tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        process = todo.pop()
        found.append(process)
        for task in Path(f"/proc/{process}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except FileNotFoundError:
                continue
    return found


# ---- profiles ---------------------------------------------------------------------------------

# where a sample of a request's thread is: the first of these frames on its stack (py-spy
# names frames "Class.method (file:line)")
PHASES = [
    ("auth: OIDC verify", r"verify \(gate/api/oidc\.py"),
    ("repository context (DB)", r"_repository_context \("),
    ("installation token", r"access_token \("),
    ("mirror: are both commits there?", r"Mirrors\.ensure \("),
    ("merge-base", r"^merge_base \("),
    ("history index update", r"HistoryIndexes\.update \("),
    ("policy load", r"PolicyLoader\.load \("),
    ("services (config, CODEOWNERS)", r"^repo_services \("),
    ("assess_change: features (git diff, history)", r"^compute_features \("),
    ("assess_change: model score", r"\.score \(gate/model\.py"),
    ("assess_change: the rest", r"^assess_change \("),
    ("store: result", r"^save_result \("),
    ("store: audit entry", r"^record \(gate/store/audit\.py"),
    ("store: assessment row, response", r"^_assess \("),
]
REQUEST_FRAMES = ("_assess (", "OIDCVerifier.verify (")
IDLE = ("Condition.wait", "Queue.get", "_PollLikeSelector.select", "Event.wait")


def summarise_profile(path: Path, wall: bool, top: int = 10) -> list[str]:
    """Shares of py-spy's raw samples by request phase, git calls by caller, leaf frames.

    CPU profiles count every sample (py-spy keeps only running threads). Wall-clock ones
    (--idle) count the samples of threads inside a request's handler, waits included: where
    a request's time goes.
    """
    phases: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    git_calls: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first is the thread
        phase = _phase(frames)
        if wall and not any(frame.startswith(REQUEST_FRAMES) for frame in frames):
            continue
        count = int(count_text)
        total += count
        phases[phase] += count
        leaves[re.sub(r":\d+\)", ")", frames[-1]) if frames else "?"] += count
        if any(frame.startswith("git (gate/gitcmd.py") for frame in frames):
            git_calls[_git_caller(frames)] += count
        elif any(
            frame.startswith(("_answers (gate/", "_commit_objects (gate/")) for frame in frames
        ):
            git_calls["commit streams (git/logstream.py)"] += count
    if not total:
        return ["(no samples)"]
    lines = [f"{total} samples"]
    lines += [f"  {share(n, total)} {name}" for name, n in phases.most_common()]
    lines.append(f"  {share(sum(git_calls.values()), total)} in git subprocesses, by caller:")
    lines += [f"    {share(n, total)} {name}" for name, n in git_calls.most_common(top)]
    lines.append("  leaf frames:")
    lines += [f"    {share(n, total)} {name}" for name, n in leaves.most_common(top)]
    return lines


def share(part: int, total: int) -> str:
    return f"{100 * part / total:5.1f} %"


def _phase(frames: list[str]) -> str:
    for name, pattern in PHASES:
        if any(re.search(pattern, frame) for frame in frames):
            return name
    if any("gate/jobs.py" in frame for frame in frames):
        return "job worker threads"
    if frames and frames[-1].startswith(IDLE):
        return "idle threads"
    if any(marker in frame for frame in frames for marker in ("uvicorn", "starlette", "fastapi")):
        return "event loop: HTTP, routing, validation, JSON"
    return "other"


def _git_caller(frames: list[str]) -> str:
    """The gate functions that ran git: its caller and the caller's caller."""
    names = [re.sub(r" \(gate/([^:]+):\d+\)", r" (\1)", f) for f in frames if "(gate/" in f]
    at = next(i for i, f in enumerate(names) if f.startswith("git (gitcmd.py"))
    return " <- ".join(reversed(names[max(0, at - 2) : at])) or "?"


def spy(pid: int, output: Path, idle: bool, workers: int) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` until interrupted (idle: also threads that wait: wall-clock)."""
    executable = Path(sys.executable).parent / "py-spy"
    if not executable.exists():
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    command = [str(executable), "record", "--pid", str(pid), "--rate", "97", "--format", "raw"]
    command += ["--threads", "--nonblocking", "--output", str(output)]
    if workers > 1:
        command.append("--subprocesses")  # the uvicorn workers under the supervisor
    if idle:
        command.append("--idle")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_spy(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class LevelReport:
    concurrency: int
    seconds: float
    assessed: int
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_201: dict[str, int]
    server_cpu_ms: float  # per assessment, the service's Python process(es)
    git_cpu_ms: float  # per assessment, its git processes
    generator_cpu_s: float
    others_cpu_s: float  # the rest of the machine meanwhile: noise
    quiet_before: bool
    errors: list[str] = field(default_factory=list)


@dataclass
class Report:
    commits: int
    setup_s: float
    register_s: float
    levels: list[LevelReport] = field(default_factory=list)
    profiles: dict[str, list[str]] = field(default_factory=dict)
    log_errors: list[str] = field(default_factory=list)


def measure(
    server: ServiceProcess,
    token: str,
    pairs: list[tuple[str, str]],
    concurrency: int,
    args: argparse.Namespace,
) -> tuple[LevelReport, int]:
    """One level; the report and how many pairs it used."""
    quiet = wait_until_quiet(args.quiet_wait)
    result = run_level(server, token, pairs, concurrency, args.seconds)
    latencies = sorted(result.latencies_ms)
    assessed = result.statuses.get("201", 0)
    per = 1000 / assessed if assessed else float("nan")
    report = LevelReport(
        concurrency=concurrency,
        seconds=result.seconds,
        assessed=assessed,
        rate=assessed / result.seconds if result.seconds else 0.0,
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else float("nan"),
        non_201={k: v for k, v in result.statuses.items() if k != "201"},
        server_cpu_ms=result.server_cpu_s * per,
        git_cpu_ms=result.git_cpu_s * per,
        generator_cpu_s=result.cpu_seconds,
        others_cpu_s=result.machine_cpu_s
        - result.server_cpu_s
        - result.git_cpu_s
        - result.cpu_seconds,
        quiet_before=quiet,
        errors=result.errors,
    )
    return report, sum(result.statuses.values())


def run(args: argparse.Namespace, work: Path) -> Report:
    _remote, history, setup_s = prepare_remote(args.commits, work / "remotes")
    print(f"repository: {len(history):,} commits on master, ready in {setup_s:.1f} s")
    levels = [int(n) for n in args.concurrency.split(",")]
    needed = args.warmup + int(len(levels) * args.seconds * args.max_rate) + 2000
    pairs = pick_pairs(history, needed, args.seed)
    signing_key, jwks = oidc_keys(work)
    private_key, public_key = app_key()
    fake = FakeGitHub(app_id=APP_ID, public_key_pem=public_key)
    with FakeGitHubServer(fake) as github, database(args.database_url, work) as url:
        port = free_port()
        env = gate_env(work, url, private_key, github.url, str(work / "remotes" / "{full_name}"))
        env["GATE_OIDC_JWKS_PATH"] = str(jwks)
        db = Database(url)
        command = gate_command(port) + (
            ["--workers", str(args.workers)] if args.workers > 1 else []
        )
        server = start_service(command, env, port, work / "gate.log")
        try:
            started = time.perf_counter()
            mirror = work / "mirrors" / "octo-org" / "shop.git"
            register(server, history[0], db, mirror, args.register_timeout)
            report = Report(args.commits, setup_s, time.perf_counter() - started)
            print(f"registered and indexed by the service in {report.register_s:.1f} s")
            token = oidc_token(signing_key)
            warm = run_level(server, token, pairs[: args.warmup], 2, 120)
            print(f"warm-up: {warm.statuses} in {warm.seconds:.1f} s")
            if warm.errors:
                print("  " + "\n  ".join(warm.errors))
            pairs = pairs[args.warmup :]
            for concurrency in levels:
                level, used = measure(server, token, pairs, concurrency, args)
                pairs = pairs[used:]
                report.levels.append(level)
                print(
                    f"concurrency {concurrency}: {level.rate:.1f}/s, p50 {level.p50_ms:.0f} ms, "
                    f"p99 {level.p99_ms:.0f} ms, non-201 {level.non_201 or 0}"
                )
            if args.profile:
                report.profiles = profile(server, token, pairs, args)
        finally:
            server.stop()
            db.dispose()
        report.log_errors = [
            line[:300] for line in server.log_tail(400).splitlines() if '"error"' in line
        ][:5]
    if fake.violations:
        print(f"fake GitHub refused {len(fake.violations)} requests: {fake.violations[:3]}")
    return report


def profile(
    server: ServiceProcess, token: str, pairs: list[tuple[str, str]], args: argparse.Namespace
) -> dict[str, list[str]]:
    """CPU samples at the highest concurrency, wall-clock samples at concurrency 1."""
    args.profile.mkdir(parents=True, exist_ok=True)
    summaries = {}
    highest = max(int(n) for n in args.concurrency.split(","))
    for name, concurrency, idle in (("cpu", highest, False), ("wall", 1, True)):
        output = args.profile / f"api-{name}-c{concurrency}.txt"
        wait_until_quiet(args.quiet_wait)
        spied = spy(server.process.pid, output, idle, args.workers)
        try:
            result = run_level(server, token, pairs, concurrency, args.seconds)
        finally:
            stop_spy(spied)
        pairs = pairs[sum(result.statuses.values()) :]
        summaries[f"{name}, concurrency {concurrency} ({output})"] = summarise_profile(
            output, wall=idle
        )
    return summaries


def print_report(report: Report, args: argparse.Namespace) -> None:
    database_name = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\nassessments through POST /api/v1/assessments: {report.commits:,} commits, warm index, "
        f"database {database_name}, {args.workers} service process(es), "
        f"{args.seconds:g} s per level, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n{machine()}"
    )
    header = (
        "| clients | assessed | assessments/s | p50 ms | p90 ms | p99 ms | max ms | non-201 "
        "| service CPU ms/assessment | git CPU ms/assessment | load CPU s | others' CPU s |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in report.levels:
        non = ", ".join(f"{k}: {v}" for k, v in sorted(r.non_201.items())) or "0"
        print(
            f"| {r.concurrency} | {r.assessed:,} | {r.rate:.1f} | {r.p50_ms:.0f} | {r.p90_ms:.0f} "
            f"| {r.p99_ms:.0f} | {r.max_ms:.0f} | {non} | {r.server_cpu_ms:.1f} "
            f"| {r.git_cpu_ms:.1f} | {r.generator_cpu_s:.1f} | {r.others_cpu_s:.1f} |"
        )
    for r in report.levels:
        if not r.quiet_before:
            print(f"concurrency {r.concurrency}: the machine was busy before it: noisy figures")
        for error in r.errors[:2]:
            print(f"concurrency {r.concurrency}: {error}")
    for line in report.log_errors:
        print(f"service log: {line}")
    best = max(report.levels, key=lambda r: r.rate, default=None)
    if best is not None:
        rate_ok = best.rate >= TARGET_RATE
        p99_ok = all(r.p99_ms < TARGET_P99_MS for r in report.levels)
        print(
            f"target ({TARGET_RATE:g} assessments/s, p99 < {TARGET_P99_MS:g} ms): "
            f"rate {'PASS' if rate_ok else 'FAIL'} (best {best.rate:.1f}/s at {best.concurrency} "
            f"clients); p99 {'PASS' if p99_ok else 'FAIL'} (worst "
            f"{max(r.p99_ms for r in report.levels):.0f} ms)"
        )
    for name, lines in report.profiles.items():
        print(f"\nprofile {name}:")
        print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000, help="history of the repository")
    parser.add_argument("--concurrency", default="1,4,8", help="clients, one level each")
    parser.add_argument("--seconds", type=float, default=20.0, help="per level")
    parser.add_argument("--warmup", type=int, default=40, help="assessments before measuring")
    parser.add_argument("--max-rate", type=float, default=150.0, help="pairs prepared per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite in a temp dir)")
    parser.add_argument("--register-timeout", type=float, default=300.0)
    parser.add_argument(
        "--quiet-wait", type=float, default=120.0, help="seconds to wait for an idle machine"
    )
    parser.add_argument("--profile", type=Path, help="py-spy the service; raw stacks here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workers", type=int, default=1, help="gate serve --workers N")
    args = parser.parse_args(argv)
    if not WEBHOOKS.is_dir() or not OPENAPI_PATH.is_file():
        parser.error("../shared (webhook payloads, GitHub's OpenAPI description) is missing")
    levels = [int(n) for n in args.concurrency.split(",")]
    if not all(1 <= n <= 32 for n in levels) or not 1 <= args.seconds <= 120:
        parser.error("keep it bounded: 1-32 clients, 1-120 s per level")
    if not 100 <= args.commits <= 100_000:
        parser.error("--commits: 100 to 100,000")
    with tempfile.TemporaryDirectory(prefix="riskgate-api-") as tmp:
        report = run(args, Path(tmp))
    print_report(report, args)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
