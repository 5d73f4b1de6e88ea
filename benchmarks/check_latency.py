"""Time from a pull_request delivery to the completed risk check, on a 5,000-commit repository."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.service import (
    APP_ID,
    WEBHOOK_SECRET,
    app_key,
    database,
    free_port,
    gate_command,
    gate_env,
    percentile,
    profiled,
    start_service,
    wait_until_quiet,
)
from tests.fakes import OPENAPI_PATH, FakeGitHub, FakeGitHubServer

with warnings.catch_warnings():  # conftest imports starlette's TestClient, which warns
    warnings.simplefilter("ignore")
    from tests.conftest import WEBHOOKS, pr_payload, sign

REPO = "octo-org/shop"
TARGET_P50_MS = 500.0
DIRECTORIES = [
    "payments",
    "payments/gateway",
    "orders",
    "inventory",
    "catalog",
    "search",
    "auth",
    "billing",
    "notifications",
    "web",
    "web/templates",
    "api",
    "shared/utils",
    "docs",
    "tests/unit",
    "tests/integration",
]
AUTHORS = [f"Dev {n} <dev{n}@example.com>" for n in range(25)]


# ---- a realistic repository, built with git fast-import ---------------------------------


def _line(rng: random.Random, path: str, n: int) -> str:
    words = ("total", "order", "amount", "user", "retry", "cache", "price", "token", "item")
    return f"    {rng.choice(words)}_{n} = compute({rng.randrange(1000)}, '{path}')  # {n}\n"


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


class SourceRepo:
    """The bare repository 'GitHub' serves: a long master history and pull requests on top.

    The content of master's files is kept in memory so each new commit is one fast-import
    stream; pull request heads are published as refs/pull/N/head, as GitHub does.
    """

    def __init__(self, path: Path, seed: int = 7) -> None:
        self.path = path
        self.rng = random.Random(seed)
        self.files: dict[str, list[str]] = {}
        self.time = 1_600_000_000
        self.master = ""
        path.mkdir(parents=True)
        self._git("init", "--quiet", "--bare", "--initial-branch=master")

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def _import(self, chunks: Iterator[bytes]) -> None:
        process = subprocess.Popen(
            ["git", "-C", str(self.path), "fast-import", "--quiet", "--force"],
            stdin=subprocess.PIPE,
        )
        assert process.stdin is not None
        for chunk in chunks:
            process.stdin.write(chunk)
        process.stdin.close()
        if process.wait(timeout=600) != 0:
            raise RuntimeError("git fast-import failed")

    def _commit_header(self, ref: str, mark: int, message: str, parent: str | None) -> bytes:
        self.time += self.rng.randrange(600, 7200)
        author = self.rng.choice(AUTHORS)
        stamp = f"{author} {self.time} +0000"
        head = f"commit {ref}\nmark :{mark}\nauthor {stamp}\ncommitter {stamp}\n".encode()
        head += _data(message)
        if parent:
            head += f"from {parent}\n".encode()
        return head

    def _modify(self, path: str, lines: list[str]) -> bytes:
        return f"M 100644 inline {path}\n".encode() + _data("".join(lines))

    def build_history(self, commits: int, files: int = 400) -> None:
        """`commits` commits on master: one that adds `files` files, then small changes."""
        rng = self.rng

        def stream() -> Iterator[bytes]:
            for n in range(files):
                directory = DIRECTORIES[n % len(DIRECTORIES)]
                suffix = ".md" if directory == "docs" else ".py"
                path = f"{directory}/module_{n}{suffix}"
                self.files[path] = [_line(rng, path, i) for i in range(rng.randrange(40, 320))]
            yield self._commit_header("refs/heads/master", 1, "initial import", None)
            for path, lines in self.files.items():
                yield self._modify(path, lines)
            paths = list(self.files)
            for mark in range(2, commits + 1):
                out = [self._commit_header("refs/heads/master", mark, f"change {mark}", None)]
                for path in rng.sample(paths, rng.choice((1, 1, 2, 2, 3, 5))):
                    out.append(self._modify(path, self._edit(path)))
                yield b"".join(out)

        self._import(stream())
        self._git("repack", "-a", "-d", "-q")
        self.master = self._git("rev-parse", "refs/heads/master")

    def _edit(self, path: str) -> list[str]:
        """A small edit of a master file: replace, insert and delete a few lines."""
        lines = self.files[path]
        at = self.rng.randrange(len(lines))
        removed = self.rng.randrange(0, 4) if len(lines) > 60 else 0
        added = [_line(self.rng, path, len(lines) + i) for i in range(self.rng.randrange(1, 12))]
        lines[at : at + removed] = added
        return lines

    def advance_master(self) -> None:
        """One more commit on master, as a busy repository has between pull requests."""
        paths = self.rng.sample(list(self.files), 2)
        header = self._commit_header("refs/heads/master", 1, "master moves on", self.master)
        self._import(iter([header + b"".join(self._modify(p, self._edit(p)) for p in paths)]))
        self.master = self._git("rev-parse", "refs/heads/master")

    def pull_request(self, number: int, files: int, added: int, deleted: int) -> str:
        """A PR off master changing `files` files: `added` lines in, `deleted` out; its head."""
        paths = self.rng.sample(
            [p for p, lines in self.files.items() if len(lines) > deleted], files
        )
        changes = []
        for index, path in enumerate(paths):
            lines = list(self.files[path])
            share_in = added // files + (1 if index < added % files else 0)
            share_out = deleted // files + (1 if index < deleted % files else 0)
            at = self.rng.randrange(len(lines) - share_out)
            new = [f"    pr_{number}_{n} = review({n}, '{path}')\n" for n in range(share_in)]
            lines[at : at + share_out] = new
            changes.append(self._modify(path, lines))
        header = self._commit_header(
            f"refs/pull/{number}/head", 1, f"change for #{number}", self.master
        )
        branch = f"reset refs/heads/pr-{number}\nfrom :1\n".encode()
        self._import(iter([header + b"".join(changes) + branch]))
        return self._git("rev-parse", f"refs/pull/{number}/head")


# ---- watching the fake GitHub ------------------------------------------------------------


@dataclass
class Arrival:
    at: float
    method: str
    path: str
    body: Any
    status: int


class Arrivals:
    """Timestamps every request the fake GitHub receives, taken before it is validated."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.seen: list[Arrival] = []
        self._changed = threading.Condition()
        original = fake.handle

        def handle(request: httpx.Request) -> httpx.Response:
            arrived = time.perf_counter()
            response = original(request)
            body = json.loads(request.content) if request.content else None
            with self._changed:
                self.seen.append(
                    Arrival(arrived, request.method, request.url.path, body, response.status_code)
                )
                self._changed.notify_all()
            return response

        fake.handle = handle  # type: ignore[method-assign]

    def wait_for(self, match: Callable[[Arrival], bool], timeout: float) -> Arrival:
        deadline = time.perf_counter() + timeout
        with self._changed:
            while True:
                for arrival in self.seen:
                    if match(arrival):
                        return arrival
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError("the fake GitHub did not receive the expected request")
                self._changed.wait(left)

    def completed_check(self, head: str) -> Callable[[Arrival], bool]:
        def match(arrival: Arrival) -> bool:
            if arrival.status >= 300 or not isinstance(arrival.body, dict):
                return False
            if arrival.body.get("status") != "completed":
                return False
            if arrival.method == "POST" and arrival.path.endswith("/check-runs"):
                return arrival.body.get("head_sha") == head
            if arrival.method == "PATCH" and re.search(r"/check-runs/\d+$", arrival.path):
                run = self.fake.check_runs.get(int(arrival.path.rsplit("/", 1)[1]), {})
                return run.get("head_sha") == head
            return False

        return match

    @staticmethod
    def label_for(number: int) -> Callable[[Arrival], bool]:
        return lambda a: a.method == "POST" and a.path.endswith(f"/issues/{number}/labels")

    @staticmethod
    def status_for(head: str) -> Callable[[Arrival], bool]:
        return lambda a: a.method == "POST" and a.path.endswith(f"/statuses/{head}")


# ---- one pull request, end to end ------------------------------------------------------


@dataclass
class PullRequestTiming:
    number: int
    head: str
    accepted_ms: float  # delivery sent -> 202
    check_ms: float  # delivery sent -> completed check arrives at GitHub
    status_ms: float  # ... -> commit status arrives
    label_ms: float  # ... -> label arrives (the job's last call)


def deliver_pr(
    client: httpx.Client,
    arrivals: Arrivals,
    source: SourceRepo,
    number: int,
    args: argparse.Namespace,
) -> PullRequestTiming:
    if args.advance_master:
        source.advance_master()
    head = source.pull_request(number, args.files, args.added, args.deleted)
    payload = pr_payload("opened", REPO, number, source.master, head)
    payload["pull_request"]["base"]["ref"] = "master"
    raw = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": f"bench-{number}-{head[:12]}",
        "X-Hub-Signature-256": sign(raw, WEBHOOK_SECRET),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/benchmark",
    }
    sent = time.perf_counter()
    response = client.post("/webhooks/github", content=raw, headers=headers)
    accepted = time.perf_counter()
    if response.status_code != 202:
        raise RuntimeError(f"PR #{number}: {response.status_code} {response.text}")
    check = arrivals.wait_for(arrivals.completed_check(head), args.timeout)
    status = arrivals.wait_for(arrivals.status_for(head), args.timeout)
    label = arrivals.wait_for(arrivals.label_for(number), args.timeout)
    return PullRequestTiming(
        number,
        head,
        (accepted - sent) * 1000,
        (check.at - sent) * 1000,
        (status.at - sent) * 1000,
        (label.at - sent) * 1000,
    )


# ---- the run ----------------------------------------------------------------------------


@dataclass
class Report:
    commits: int
    build_s: float
    repo_mib: float
    cold: PullRequestTiming | None = None
    warm: list[PullRequestTiming] = field(default_factory=list)
    histogram: dict[str, float] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0


def _histogram(metrics_text: str, name: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            figures[key.removeprefix(name)] = float(value)
    return figures


def _size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1 << 20)


def run(args: argparse.Namespace, work: Path) -> Report:
    started = time.perf_counter()
    remotes = work / "remotes"
    source = SourceRepo(remotes / REPO)
    source.build_history(args.commits)
    report = Report(args.commits, time.perf_counter() - started, _size_mib(source.path))
    print(
        f"built {args.commits:,} commits, {len(source.files)} files, "
        f"{report.repo_mib:.1f} MiB packed, in {report.build_s:.1f} s"
    )

    private_key, public_key = app_key()
    fake = FakeGitHub(app_id=APP_ID, public_key_pem=public_key)
    arrivals = Arrivals(fake)
    with FakeGitHubServer(fake) as github, database(args.database_url, work) as url:
        port = free_port()
        env = gate_env(work, url, private_key, github.url, str(remotes / "{full_name}"))
        server = start_service(gate_command(port), env, port, work / "gate.log")
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                report.cold = deliver_pr(client, arrivals, source, 1, args)
                wait_until_quiet(args.quiet_wait)
                cpu_before = server.cpu_seconds()
                profile = args.profile / "check-latency.txt" if args.profile else None
                with profiled(server.process.pid, profile, wall_clock=True):
                    for number in range(2, args.prs + 2):
                        report.warm.append(deliver_pr(client, arrivals, source, number, args))
                report.server_cpu_s = server.cpu_seconds() - cpu_before
                metrics = client.get("/metrics").text
            report.histogram = _histogram(metrics, "gate_delivery_to_check_seconds")
        finally:
            server.stop()
        errors = [line for line in server.log_tail(500).splitlines() if "error" in line]
        for line in errors[:5]:
            print(f"service log: {line[:300]}")
    report.violations = list(fake.violations)
    return report


def print_report(report: Report, args: argparse.Namespace) -> None:
    database_name = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\ncheck latency: {args.prs} PRs of +{args.added}/-{args.deleted} lines in "
        f"{args.files} files, on {report.commits:,} commits ({report.repo_mib:.1f} MiB), "
        f"database {database_name}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print("| measure (ms from delivery sent) | cold first PR | warm p50 | warm p90 | warm max |")
    print("|---|---|---|---|---|")
    for label, attribute in (
        ("202 answered", "accepted_ms"),
        ("completed check at GitHub", "check_ms"),
        ("commit status at GitHub", "status_ms"),
        ("label at GitHub (job done)", "label_ms"),
    ):
        values = sorted(getattr(t, attribute) for t in report.warm)
        cold = getattr(report.cold, attribute) if report.cold else float("nan")
        print(
            f"| {label} | {cold:.0f} | {percentile(values, 0.5):.0f} "
            f"| {percentile(values, 0.9):.0f} | {values[-1]:.0f} |"
        )
    count = report.histogram.get("_count", 0)
    if count:
        mean = report.histogram.get("_sum", 0) / count * 1000
        buckets = {k: v for k, v in report.histogram.items() if k.startswith("_bucket")}
        print(
            f"service's gate_delivery_to_check_seconds: {count:.0f} observations "
            f"(cold included), mean {mean:.0f} ms; buckets {buckets}"
        )
    if report.warm:
        print(f"service CPU for the warm PRs: {report.server_cpu_s / len(report.warm):.3f} s/PR")
    if report.violations:
        print(f"fake GitHub refused {len(report.violations)} requests: {report.violations[:3]}")
    p50 = statistics.median(t.check_ms for t in report.warm) if report.warm else float("nan")
    verdict = "PASS" if p50 < TARGET_P50_MS else "FAIL"
    print(f"target (warm p50 < {TARGET_P50_MS:.0f} ms to the completed check): {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prs", type=int, default=30, help="warm PRs measured, one at a time")
    parser.add_argument("--commits", type=int, default=5000, help="history of the repository")
    parser.add_argument("--files", type=int, default=12, help="files each PR changes")
    parser.add_argument("--added", type=int, default=300, help="lines each PR adds")
    parser.add_argument("--deleted", type=int, default=60, help="lines each PR deletes")
    parser.add_argument(
        "--no-advance-master",
        dest="advance_master",
        action="store_false",
        help="keep master still (by default it gains a commit before each PR)",
    )
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per PR, seconds")
    parser.add_argument("--profile", type=Path, help="py-spy the service; collapsed stacks here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--quiet-wait", type=float, default=240.0, help="seconds to wait for an idle machine"
    )
    args = parser.parse_args(argv)
    if not WEBHOOKS.is_dir() or not OPENAPI_PATH.is_file():
        parser.error("../shared (webhook payloads, GitHub's OpenAPI description) is missing")
    if not 1 <= args.prs <= 500 or not 1 <= args.commits <= 100_000:
        parser.error("keep it bounded: 1-500 PRs, 1-100,000 commits")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="riskgate-check-") as tmp:
        report = run(args, Path(tmp))
    print_report(report, args)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
