"""Objects of a repository read through one kept `git cat-file --batch-command` per repository
(and its patches through one kept `git diff-tree`, gate/diff_tree.py).

A spawned git costs milliseconds of CPU; a lookup through a process that stays open costs
microseconds. Commits and blobs never change, so what the process says exists is trusted. What
it says is missing is asked again of a fresh `git rev-parse`: a kept process may not see objects
another process fetched since it started (abbreviated SHAs are looked up in a cached listing).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gate.git.cmd import EMPTY_TREE, GitError, git, resolve
from gate.git.diff_tree import DiffTree
from gate.git.kept import KeptPool, KeptProcess

COMMIT_CACHE_SIZE = 4096
READERS_KEPT = 64  # repositories with kept processes; the least recently used are closed
PROCESSES_PER_REPOSITORY = 2  # of each kind: more threads than that wait their turn
BINARY_PROBE_BYTES = 8000  # git's own test: a NUL in the first 8,000 bytes means binary
_FULL_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class ObjectInfo:
    sha: str
    type: str  # blob | commit | tree | tag
    size: int


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    time: int  # committer time, unix seconds
    author_email: str
    message: str  # as stored, decoded as UTF-8 (undecodable bytes replaced)
    reencoded: bool  # the commit names another encoding: git log would re-encode its message


def parse_commit(sha: str, raw: bytes) -> Commit:
    header, _, message = raw.partition(b"\n\n")
    parents: list[str] = []
    time, email, encoding = 0, "", None
    for line in header.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"parent":
            parents.append(value.decode("ascii"))
        elif key == b"author":
            email = value.partition(b"<")[2].partition(b">")[0].decode("utf-8", "replace")
        elif key == b"committer":
            time = int(value.rsplit(b" ", 2)[-2])
        elif key == b"encoding":
            encoding = value.decode("ascii", "replace").lower()
    return Commit(
        sha=sha,
        parents=tuple(parents),
        time=time,
        author_email=email.strip(),
        message=message.decode("utf-8", "replace"),
        reencoded=encoding not in (None, "utf-8", "utf8"),
    )


def count_lines(content: bytes) -> int:
    """Lines of a text blob, the last one counted without its newline; 0 for binary."""
    if b"\0" in content[:BINARY_PROBE_BYTES]:
        return 0
    return content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)


class _CatFile(KeptProcess):
    """One `git cat-file --batch-command` process, started on first use and after a failure."""

    def __init__(self, repo: Path) -> None:
        super().__init__(repo, ["cat-file", "--batch-command"])

    def ask(self, command: str, name: str) -> tuple[ObjectInfo | None, bytes]:
        """Send `command name`: the object's info (None: missing), and its content for
        `contents`. A process out of step (it died, or answered short) is replaced once."""
        with self._lock:
            for attempt in (1, 2):
                process = self._started()
                assert process.stdin is not None and process.stdout is not None
                try:
                    process.stdin.write(f"{command} {name}\n".encode("utf-8", "surrogateescape"))
                    process.stdin.flush()
                    info = _parse_header(process.stdout.readline())
                    if command == "info" or info is None:
                        return info, b""
                    content = process.stdout.read(info.size + 1)[:-1]
                    if len(content) != info.size:
                        raise BrokenPipeError("git cat-file ended mid-object")
                    return info, content
                except (OSError, ValueError):
                    self._stop()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")


class ObjectReader:
    """One repository's kept `cat-file` (a few, for concurrent threads) and `diff-tree`
    processes; safe to share between threads."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._cat_files = KeptPool(lambda: _CatFile(repo), PROCESSES_PER_REPOSITORY)
        self._diffs = KeptPool(lambda: DiffTree(repo), PROCESSES_PER_REPOSITORY)
        self._cache_lock = threading.Lock()  # the commit cache: answers without a process
        self._commits: OrderedDict[str, Commit] = OrderedDict()

    def info(self, name: str) -> ObjectInfo | None:
        """What `name` (a SHA, `rev:path`, `rev^{commit}`) is, or None when it names nothing."""
        if not _safe(name):
            return None
        with self._cat_files.borrow() as cat_file:
            return cat_file.ask("info", name)[0]

    def read(self, name: str, max_bytes: int | None = None) -> tuple[ObjectInfo, bytes] | None:
        """The object's info and content; None when missing or larger than `max_bytes`."""
        if not _safe(name):
            return None
        with self._cat_files.borrow() as cat_file:
            if max_bytes is None:
                info, content = cat_file.ask("contents", name)
                return None if info is None else (info, content)
            info, _ = cat_file.ask("info", name)
            if info is None or info.size > max_bytes:
                return None
            # by SHA: a ref could move between the two questions
            info, content = cat_file.ask("contents", info.sha)
        return None if info is None else (info, content)

    # ---- what callers ask -------------------------------------------------------------------

    def commit_sha(self, rev: str) -> str | None:
        """The full SHA of the commit `rev` names, or None when the repository lacks it."""
        if _FULL_SHA.fullmatch(rev):
            with self._cache_lock:
                if rev in self._commits:
                    return rev  # a commit once read stays there
        info = self.info(f"{rev}^{{commit}}")
        if info is not None:
            return info.sha
        return resolve(self.repo, rev)  # a fresh look, for what arrived since the process started

    def commit(self, sha: str) -> Commit | None:
        """A commit by its full SHA (cached: commits never change)."""
        with self._cache_lock:
            cached = self._commits.get(sha)
            if cached is not None:
                self._commits.move_to_end(sha)
                return cached
        found = self.read(sha)
        if found is None or found[0].type != "commit":
            return None
        commit = parse_commit(found[0].sha, found[1])
        with self._cache_lock:
            self._commits[sha] = commit
            if len(self._commits) > COMMIT_CACHE_SIZE:
                self._commits.popitem(last=False)
        return commit

    def blob_at(self, rev: str, path: str) -> ObjectInfo | None:
        """The blob at `path` in `rev`, or None (no such file, or a directory or submodule)."""
        info = self.info(f"{rev}:{path}")
        return info if info is not None and info.type == "blob" else None

    def line_count(self, commit: str, path: str) -> int:
        """Lines of `path` at `commit`; a missing, binary or non-file path counts 0."""
        if commit == EMPTY_TREE:
            return 0
        found = self.read(f"{commit}:{path}")
        if found is None or found[0].type != "blob":
            return 0
        return count_lines(found[1])

    def lines_before(self, base: str, paths: Iterable[str]) -> int:
        """LT: the lines of the changed files at the base commit."""
        return sum(self.line_count(base, path) for path in dict.fromkeys(paths))

    def patch(self, base: str, head: str, max_bytes: int) -> bytes | None:
        """The patch from commit `base` to commit `head`, as `git diff -M --full-index`.

        None when it is empty, over `max_bytes`, or not to be had this way (a base that is the
        empty tree, a missing commit): a spawned `git diff` must answer then.
        """
        if base == EMPTY_TREE:
            return None
        base_sha, head_sha = self.commit_sha(base), self.commit_sha(head)
        if base_sha is None or head_sha is None:
            return None
        with self._diffs.borrow() as diffs:
            return diffs.patch(base_sha, head_sha, max_bytes)

    def pids(self) -> list[int]:
        """The process ids of its git processes running now."""
        helpers = [*self._cat_files.helpers(), *self._diffs.helpers()]
        return [pid for pid in (helper.pid for helper in helpers) if pid is not None]

    def close(self) -> None:
        """Stop the processes; they start again if the reader is used again."""
        self._cat_files.close()
        self._diffs.close()


class ObjectReaders:
    """The kept readers of a process, one per repository, the least recently used closed first."""

    def __init__(self, kept: int = READERS_KEPT) -> None:
        self.kept = kept
        self._readers: OrderedDict[Path, ObjectReader] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, repo: Path) -> ObjectReader:
        with self._guard:
            reader = self._readers.get(repo)
            if reader is None:
                reader = self._readers[repo] = ObjectReader(repo)
                while len(self._readers) > self.kept:
                    # a thread still holding it starts a fresh process on its next question
                    self._readers.popitem(last=False)[1].close()
            else:
                self._readers.move_to_end(repo)
            return reader

    def close(self) -> None:
        with self._guard:
            readers = list(self._readers.values())
            self._readers.clear()
        for reader in readers:
            reader.close()


def _safe(name: str) -> bool:
    # one command a line: a newline would smuggle in a second one; git drops a trailing CR
    return bool(name) and "\n" not in name and "\0" not in name and not name.endswith("\r")


def _parse_header(line: bytes) -> ObjectInfo | None:
    """`<sha> <type> <size>`, or None for `<name> missing` / `<name> ambiguous`."""
    if not line:
        raise BrokenPipeError("git cat-file ended")
    text = line.decode("utf-8", "surrogateescape").rstrip("\n")
    if text.endswith((" missing", " ambiguous")):
        return None
    sha, kind, size = text.rsplit(" ", 2)
    return ObjectInfo(sha, kind, int(size))


def repo_paths(repo: Path, sha: str) -> list[str] | None:
    """Every file path in the commit's tree; None when the commit cannot be read."""
    try:
        listing = git(repo, "ls-tree", "-r", "-z", "--name-only", sha)
    except GitError:
        return None
    return [path for path in listing.decode("utf-8", "surrogateescape").split("\0") if path]
