"""Synthetic git histories for the feature benchmarks, written by `git fast-import` in seconds."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

DAY = 86_400
GENERATOR_VERSION = 2  # bump when the generator's output changes: cached repositories go stale
CACHE = Path(os.environ.get("RISKGATE_BENCH_DIR", Path(tempfile.gettempdir()) / "riskgate-bench"))
TOP_DIRS = (
    "api",
    "auth",
    "billing",
    "catalog",
    "checkout",
    "core",
    "deploy",
    "docs",
    "events",
    "inventory",
    "notifications",
    "search",
    "shared",
    "storage",
    "web",
    "analytics",
    "admin",
    "mobile",
    "payments",
    "reports",
)
SUB_DIRS = ("", "models", "handlers", "utils", "tests", "internal")
WORDS = [
    "user",
    "order",
    "item",
    "cart",
    "price",
    "total",
    "count",
    "value",
    "result",
    "config",
    "client",
    "request",
    "response",
    "session",
    "token",
    "cache",
    "index",
    "entry",
    "record",
    "buffer",
    "queue",
    "event",
    "handler",
    "status",
    "limit",
    "offset",
    "payload",
    "account",
    "invoice",
    "report",
    "metric",
    "label",
    "node",
    "path",
    "key",
    "name",
    "data",
]
VERBS = [
    "get",
    "set",
    "load",
    "save",
    "build",
    "parse",
    "check",
    "update",
    "create",
    "delete",
    "compute",
    "render",
    "send",
]
SUBJECTS = (
    "handler",
    "cache layer",
    "retry logic",
    "config parsing",
    "pagination",
    "error handling",
    "serializer",
    "query builder",
    "rate limiter",
    "session store",
    "migration",
    "logging",
    "timeouts",
    "validation",
    "tests",
)
FAST_IMPORT = ("fast-import", "--quiet", "--done", "--depth=0")
FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Dennis",
    "Margaret",
    "Edsger",
    "Donald",
    "Frances",
    "John",
]


@dataclass(frozen=True)
class RepoSpec:
    """What to generate; the defaults are a mid-sized product repository."""

    commits: int = 10_000
    authors: int = 40
    top_dirs: int = 15
    initial_files: int = 250
    max_files: int = 450
    years: float = 3.0
    prs: int = 50
    pr_files: int = 12
    pr_lines: int = 300
    fix_share: float = 0.2
    revert_share: float = 0.01
    seed: int = 1

    def key(self) -> str:
        text = json.dumps([GENERATOR_VERSION, asdict(self)], sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:10]


@dataclass
class SynthRepo:
    """A generated bare repository: master's tip and the PR-like branch heads on top of it."""

    path: Path
    spec: RepoSpec
    master: str
    prs: list[str]
    build_seconds: float
    stats: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["path"] = str(self.path)
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> SynthRepo:
        data = json.loads(text)
        return cls(
            Path(data["path"]),
            RepoSpec(**data["spec"]),
            data["master"],
            data["prs"],
            data["build_seconds"],
            data.get("stats", {}),
        )


class _Writer:
    """Feeds one `git fast-import` process; asks it for commit SHAs when a revert needs one."""

    def __init__(self, repo: Path) -> None:
        self.process = subprocess.Popen(
            # no delta search (consecutive blobs are unrelated files) and fast zlib: 3x faster
            ["git", "-C", str(repo), "-c", "core.compression=1", *FAST_IMPORT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.chunks: list[bytes] = []
        self.size = 0
        self.total = 0

    def write(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"".join(self.chunks))
        self.process.stdin.flush()
        self.total += self.size
        self.chunks, self.size = [], 0

    def sha_of(self, mark: int) -> str:
        assert self.process.stdout is not None
        self.write(f"get-mark :{mark}\n".encode())
        self.flush()
        return self.process.stdout.readline().decode().strip()

    def finish(self) -> None:
        self.write(b"done\n")
        self.flush()
        assert self.process.stdin is not None
        self.process.stdin.close()
        if self.process.wait() != 0:
            raise RuntimeError("git fast-import failed")


class _Generator:
    def __init__(self, spec: RepoSpec, writer: _Writer) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.out = writer
        self.files: dict[str, list[str]] = {}
        self.paths: list[str] = []  # insertion order; hot files are early ones
        self.mark = 0
        self.now = 1_600_000_000
        self.gap = spec.years * 365 * DAY / max(1, spec.commits)
        self.dirs = list(TOP_DIRS[: spec.top_dirs])
        self.people = [
            (f"{self.rng.choice(FIRST)} Dev{n}", f"dev{n}@example.com") for n in range(spec.authors)
        ]
        # a few people write most commits (Zipf), and each works mostly in two or three dirs
        self.author_weights = [1.0 / (n + 1) ** 0.9 for n in range(spec.authors)]
        self.home = [self.rng.sample(self.dirs, 3) for _ in range(spec.authors)]
        self.history: list[tuple[int, list[str], str]] = []  # (mark, paths, subject)
        self.counts = {"fixes": 0, "reverts": 0, "renames": 0, "adds": 0, "deletes": 0}
        # code-like lines, drawn from a pool large enough that diffs align as on real code
        self.pool = [self.line() for _ in range(1 << 16)]

    # content -----------------------------------------------------------------------------

    def line(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.1:
            return "\n"
        if kind < 0.2:
            return f"    # {rng.choice(VERBS)} the {rng.choice(WORDS)} {rng.choice(WORDS)}\n"
        if kind < 0.3:
            return f"def {rng.choice(VERBS)}_{rng.choice(WORDS)}_{rng.randrange(1000)}(self):\n"
        return (
            f"    {rng.choice(WORDS)}_{rng.randrange(100)} = {rng.choice(VERBS)}_"
            f"{rng.choice(WORDS)}({rng.choice(WORDS)}, {rng.randrange(10_000)})\n"
        )

    def lines(self, count: int) -> list[str]:
        return self.rng.choices(self.pool, k=count)

    def new_path(self, top: str | None = None) -> str:
        rng = self.rng
        while True:
            top = top or rng.choice(self.dirs)
            sub = rng.choice(SUB_DIRS)
            name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}"
            if top == "docs":
                path = f"docs/{name}.md"
            elif sub == "tests":
                path = f"{top}/tests/test_{name}.py"
            elif rng.random() < 0.05:
                path = f"{top}/{name}.yml"
            else:
                path = f"{top}/{sub + '/' if sub else ''}{name}.py"
            if path not in self.files:
                return path
            top = None

    def file_size(self) -> int:
        return int(math.exp(self.rng.uniform(math.log(50), math.log(2000))))

    def edit(self, path: str, churn: int) -> None:
        """Change exactly `churn` lines of a file in a few hunks, keeping it near 50..2000 lines."""
        rng = self.rng
        lines = self.files[path]
        hunks = max(1, min(8, 1 + churn // rng.randint(8, 30), len(lines) // 20))
        sizes = [churn // hunks + (n < churn % hunks) for n in range(hunks)]
        segment = len(lines) // hunks
        share = 0.65 if len(lines) < 300 else 0.35 if len(lines) > 1500 else 0.5
        for n in reversed(range(hunks)):  # from the end: earlier offsets stay valid
            size = sizes[n]
            added = min(size, round(size * rng.uniform(share - 0.3, share + 0.3)))
            deleted = min(size - added, segment)
            at = n * segment + rng.randrange(max(1, segment - deleted))
            lines[at : at + deleted] = self.lines(size - deleted)

    # fast-import -------------------------------------------------------------------------

    def emit_commit(
        self,
        ref: str,
        author: tuple[str, str],
        when: int,
        message: str,
        body: Sequence[bytes],
        parent: int | None = None,
    ) -> int:
        self.mark += 1
        name, email = author
        data = message.encode()
        head = (
            f"commit {ref}\nmark :{self.mark}\nauthor {name} <{email}> {when} +0000\n"
            f"committer {name} <{email}> {when} +0000\ndata {len(data)}\n"
        ).encode()
        self.out.write(head + data + b"\n")
        if parent is not None:
            self.out.write(f"from :{parent}\n".encode())
        for part in body:
            self.out.write(part)
        self.out.write(b"\n")
        return self.mark

    def modify(self, path: str, lines: list[str] | None = None) -> bytes:
        content = "".join(self.files[path] if lines is None else lines).encode()
        return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content)

    # history -----------------------------------------------------------------------------

    def pick_author(self) -> int:
        return self.rng.choices(range(self.spec.authors), self.author_weights)[0]

    def pick_files(self, author: int, count: int) -> list[str]:
        rng = self.rng
        home = self.home[author]
        chosen: dict[str, None] = {}
        tries = 0
        while len(chosen) < min(count, len(self.paths)) and tries < count * 20:
            tries += 1
            # popular files are changed more often: a power law over the file list
            candidate = self.paths[int(len(self.paths) * rng.random() ** 2.2)]
            if rng.random() < 0.75 and candidate.partition("/")[0] not in home:
                continue
            chosen[candidate] = None
        return list(chosen)

    def commit_size(self) -> tuple[int, int]:
        """(files, lines changed): heavy-tailed, a few huge commits among many small ones."""
        rng = self.rng
        files = min(60, int(rng.paretovariate(1.4)))
        lines = min(6000, max(1, int(rng.lognormvariate(math.log(12 * files**0.8), 1.1))))
        return files, lines

    def message(self, files: list[str]) -> tuple[str, str]:
        rng = self.rng
        subject = rng.choice(SUBJECTS)
        where = files[0].partition("/")[0] if files else "repo"
        if rng.random() < self.spec.fix_share:
            self.counts["fixes"] += 1
            verb = rng.choice(("Fix", "fix", "Fixes", "Hotfix for", "Fix crash in", "bug:"))
            text = f"{verb} {subject} in {where}"
            if rng.random() < 0.3:
                text += f"\n\nCloses #{rng.randrange(1, 5000)}"
            return text, subject
        verb = rng.choice(("Add", "Refactor", "Update", "Improve", "Clean up", "Document"))
        return f"{verb} {subject} in {where}", subject

    def initial(self) -> int:
        for _ in range(self.spec.initial_files):
            path = self.new_path()
            self.files[path] = self.lines(self.file_size())
            self.paths.append(path)
        body = [self.modify(path) for path in self.paths]
        return self.emit_commit(
            "refs/heads/master", self.people[0], self.now, "Initial import", body
        )

    def step(self) -> int:
        rng = self.rng
        spec = self.spec
        self.now += max(1, int(rng.expovariate(1.0 / self.gap)))
        author = self.pick_author()
        if self.history and rng.random() < spec.revert_share:
            return self.revert(author)
        files, churn = self.commit_size()
        paths = self.pick_files(author, files)
        body: list[bytes] = []
        roll = rng.random()
        if roll < 0.03 and len(self.files) < spec.max_files:
            path = self.new_path(rng.choice(self.home[author]))
            self.files[path] = self.lines(rng.randint(50, 400))
            self.paths.append(path)
            self.counts["adds"] += 1
            body.append(self.modify(path))
        elif roll < 0.035 and paths and len(self.files) > spec.initial_files // 2:
            old = paths.pop()
            new = self.new_path(old.partition("/")[0])
            self.files[new] = self.files.pop(old)
            self.paths[self.paths.index(old)] = new
            self.counts["renames"] += 1
            self.edit(new, 3)
            body += [f"R {old} {new}\n".encode(), self.modify(new)]
        elif roll < 0.04 and paths and len(self.files) > spec.initial_files:
            gone = paths.pop()
            del self.files[gone]
            self.paths.remove(gone)
            self.counts["deletes"] += 1
            body.append(f"D {gone}\n".encode())
        per_file = self.split(churn, len(paths)) if paths else []
        for path, lines in zip(paths, per_file, strict=True):
            self.edit(path, lines)
            body.append(self.modify(path))
        message, subject = self.message(paths)
        mark = self.emit_commit("refs/heads/master", self.people[author], self.now, message, body)
        if paths:
            self.history.append((mark, paths, subject))
            del self.history[:-200]
        return mark

    def split(self, total: int, parts: int) -> list[int]:
        weights = [self.rng.paretovariate(1.2) for _ in range(parts)]
        scale = total / sum(weights)
        return [max(1, round(w * scale)) for w in weights]

    def revert(self, author: int) -> int:
        mark, paths, subject = self.rng.choice(self.history)
        sha = self.out.sha_of(mark)
        body = []
        for path in paths:
            if path in self.files:
                self.edit(path, 4)
                body.append(self.modify(path))
        self.counts["reverts"] += 1
        message = f'Revert "{subject}"\n\nThis reverts commit {sha}.'
        return self.emit_commit("refs/heads/master", self.people[author], self.now, message, body)

    def pull_request(self, number: int, tip: int) -> int:
        """One commit of `pr_lines` changed lines over `pr_files` files on top of master."""
        spec = self.spec
        rng = self.rng
        author = self.pick_author() if number % 10 else rng.randrange(spec.authors)
        paths = self.pick_files(author, spec.pr_files)
        while len(paths) < spec.pr_files:  # a small repo, or a narrow author: fill up
            extra = rng.choice(self.paths)
            if extra not in paths:
                paths.append(extra)
        saved = {path: list(self.files[path]) for path in paths}
        body = []
        for path, lines in zip(paths, self.split(spec.pr_lines, len(paths)), strict=True):
            self.edit(path, lines)
            body.append(self.modify(path))
        for path, lines in saved.items():
            self.files[path] = lines
        when = self.now + 3600 * (1 + number)
        message, _ = self.message(paths)
        return self.emit_commit(
            f"refs/heads/pr/{number}", self.people[author], when, message, body, parent=tip
        )


def generate(path: Path, spec: RepoSpec) -> SynthRepo:
    """Write a fresh bare repository at `path` (replacing whatever is there)."""
    started = time.perf_counter()
    if path.exists():
        shutil.rmtree(path)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch=master", str(path)], check=True
    )
    writer = _Writer(path)
    generator = _Generator(spec, writer)
    tip = generator.initial()
    for _ in range(spec.commits - 1):
        tip = generator.step()
    heads = [generator.pull_request(number, tip) for number in range(spec.prs)]
    master = writer.sha_of(tip)
    prs = [writer.sha_of(mark) for mark in heads]
    writer.finish()
    stats: dict[str, float] = {
        "files_at_tip": len(generator.files),
        "fast_import_mb": round(writer.total / 1e6, 1),
        **generator.counts,
    }
    return SynthRepo(path, spec, master, prs, time.perf_counter() - started, stats)


def cached(spec: RepoSpec, fresh: bool = False) -> SynthRepo:
    """The repository for `spec` under the benchmark cache, generated on first use."""
    path = CACHE / f"synth-{spec.commits}-{spec.key()}.git"
    meta = path.with_suffix(".json")
    if not fresh and meta.is_file() and path.is_dir():
        return SynthRepo.from_json(meta.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    repo = generate(path, spec)
    meta.write_text(repo.to_json())
    return repo


# measuring helpers shared by benchmarks/features.py and benchmarks/mining.py ------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(1, min(len(ordered), math.ceil(share * len(ordered)))) - 1]


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (git subprocesses)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def wait_for_quiet(seconds: float, below: float = 1.0) -> str:
    """Wait up to `seconds` for the 1-minute load average to drop below `below`; say how it went.

    Others' test runs on a 2-core box double wall times; CPU times are reported besides for that.
    """
    deadline = time.monotonic() + seconds
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)
    load = os.getloadavg()[0]
    state = "quiet" if load < below else f"still busy after {seconds:.0f} s"
    return f"load average {load:.2f} at the start ({state})"


def machine() -> str:
    """One line on where this ran: cores, memory, load (other work on the box skews wall times)."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.python_implementation()} "
        f"{platform.python_version()}, {git}, load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--authors", type=int, default=40)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="regenerate even when cached")
    args = parser.parse_args()
    spec = RepoSpec(commits=args.commits, authors=args.authors, years=args.years, seed=args.seed)
    repo = cached(spec, fresh=args.fresh)
    print(repo.to_json())


if __name__ == "__main__":
    main()
