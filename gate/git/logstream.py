"""Commits and their diffs, read from git with framing that no file content or message can forge.

A commit's metadata comes from `git cat-file --batch` (each object prefixed by its size), its
parents from `git rev-list --parents` (which honours shallow boundaries, grafts and replace
refs), and its diff from `git diff-tree --stdin`, one request per commit. diff-tree starts each
answer with a line that is the commit's SHA alone; in a patch every line starts with a diff
prefix or a header word, so the next expected SHA marks the end of an answer. With `-z` output,
fields are parsed in sequence. When git fails on a commit (an object it cannot read), that
commit is retried alone and, failing again, reported as undiffable; the stream goes on.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gate.git.cmd import GitError, git

PIPE_BYTES = 1 << 20  # lets git run this far ahead of a reader busy with earlier commits
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]  # as git log sees them: none at a shallow boundary or a graft root
    time: int  # committer time, unix seconds
    author: str  # author email, as written
    message: str  # re-encoded to UTF-8 as `git log --format=%B` does; undecodable bytes replaced


@dataclass(frozen=True, slots=True)
class Answer:
    sha: str
    output: bytes | None  # diff-tree's answer after the SHA line; None: git could not diff it
    oversized: bool = False  # the answer was cut to its first bytes (past `max_bytes`)
    error: str = ""  # why it is None


def rev_list(repo: Path, revisions: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(sha, parents) of `git log <revisions>`, in git log's order (newest first)."""
    output = git(repo, "rev-list", "--parents", *(revisions or ["HEAD"]), "--")
    return _parent_lines(output)


def parents_of(repo: Path, shas: Sequence[str]) -> list[tuple[str, ...]]:
    """The parents of each commit of `shas`, as git log sees them, in that order."""
    if not shas:
        return []
    with _lines_file(shas) as revisions:
        done = subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--parents", "--no-walk=unsorted", "--stdin"],
            stdin=revisions,
            capture_output=True,
            check=False,
        )
    if done.returncode != 0:
        raise GitError(f"git rev-list: {done.stderr.decode('utf-8', 'replace').strip()}")
    found = _parent_lines(done.stdout)
    if [sha for sha, _ in found] != list(shas):
        raise GitError("git rev-list: the commits asked for did not come back in order")
    return [parents for _, parents in found]


def _parent_lines(output: bytes) -> list[tuple[str, tuple[str, ...]]]:
    rows = []
    for line in output.decode("ascii").splitlines():
        sha, *parents = line.split()
        rows.append((sha, tuple(parents)))
    return rows


def read_commits(
    repo: Path, commits: Sequence[tuple[str, tuple[str, ...]]]
) -> Iterator[CommitInfo]:
    """Each commit's metadata, in the order given, through one streaming `git cat-file`."""
    if not commits:
        return iter(())
    with _lines_file([sha for sha, _ in commits]) as names:
        process = subprocess.Popen(
            # --buffer: the names are all known, so git need not flush after every object
            ["git", "-C", str(repo), "cat-file", "--batch", "--buffer"],
            stdin=names,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    return _commit_objects(process, commits)


def _commit_objects(
    process: subprocess.Popen[bytes], commits: Sequence[tuple[str, tuple[str, ...]]]
) -> Iterator[CommitInfo]:
    with process:
        assert process.stdout is not None
        for sha, parents in commits:
            header = process.stdout.readline().split()
            if len(header) != 3 or header[1] != b"commit":
                process.kill()
                raise GitError(f"git cat-file: commit {sha} cannot be read")
            body = process.stdout.read(int(header[2]) + 1)[:-1]
            yield parse_commit_object(sha, parents, body)


def parse_commit_object(sha: str, parents: tuple[str, ...], raw: bytes) -> CommitInfo:
    """A raw commit object's committer time, author email and message, as git log shows them."""
    header, _, message = raw.partition(b"\n\n")
    time, author, encoding = 0, b"", "utf-8"
    for line in header.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"author":
            # git's own split: the first '<', then the first '>' after it
            author = value.partition(b"<")[2].partition(b">")[0]
        elif key == b"committer":
            stamp = value.rpartition(b">")[2].split()
            with suppress(ValueError, IndexError):
                time = int(stamp[0])
        elif key == b"encoding":
            encoding = value.decode("ascii", "replace").strip()
    return CommitInfo(sha, parents, time, _decode(author, encoding), _decode(message, encoding))


def _decode(text: bytes, encoding: str) -> str:
    """As git log re-encodes to UTF-8; where the named encoding is unknown or wrong, as stored."""
    if encoding.lower() not in ("utf-8", "utf8"):
        with suppress(LookupError, UnicodeDecodeError):
            return text.decode(encoding)
    return text.decode("utf-8", "replace")


class DiffStream:
    """`git diff-tree --stdin <options>` over `requests` ((sha, first parent or None for a root),
    in order), one Answer per request.

    git starts at once, not on the first read, so it works while the caller does something
    else. An answer past `max_bytes` is dropped as it streams (memory stays bounded however
    large a generated commit is) and marked oversized. `zero`: the options include -z.
    """

    def __init__(
        self,
        repo: Path,
        options: Sequence[str],
        requests: Sequence[tuple[str, str | None]],
        max_bytes: int = 1 << 62,
        zero: bool = False,
    ) -> None:
        self.repo = repo
        self.options = list(options)
        self.requests = list(requests)
        self.max_bytes = max_bytes
        self.zero = zero
        self._first = self._start(self.requests) if self.requests else None

    def __iter__(self) -> Iterator[Answer]:
        at = 0
        process = self._first
        self._first = None
        while at < len(self.requests):
            if process is None:
                process = self._start(self.requests[at:])
            for answer in self._answers(process, self.requests[at:]):
                if answer.output is None:
                    # the commit git stopped at, or the one before it, cut short: once more alone
                    answer = self._alone(self.requests[at])
                yield answer
                at += 1
            process = None

    def _alone(self, request: tuple[str, str | None]) -> Answer:
        answers = list(self._answers(self._start([request]), [request]))
        return answers[0] if answers else Answer(request[0], None, error="no answer")

    def _start(self, requests: Sequence[tuple[str, str | None]]) -> _Running:
        command = [
            "git",
            "-C",
            str(self.repo),
            "-c",
            "core.quotepath=off",
            "diff-tree",
            "--stdin",
            "--always",
            "--root",
            "--no-color",
            "--no-ext-diff",
            *self.options,
        ]
        lines = [sha if parent is None else f"{sha} {parent}" for sha, parent in requests]
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - _Running closes it
        with _lines_file(lines) as stdin:
            process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        _widen_pipe(process.stdout)
        return _Running(process, errors)

    def _answers(
        self, running: _Running, requests: Sequence[tuple[str, str | None]]
    ) -> Iterator[Answer]:
        """The answers one process gave, complete ones first; the answer it was writing when
        it failed (and none after) comes back with output None."""
        framing = _ZeroFraming(requests) if self.zero else _LineFraming(requests, self.max_bytes)
        with running:
            assert running.process.stdout is not None
            while chunk := running.process.stdout.read(_CHUNK):
                yield from framing.feed(chunk)
                if framing.broken:
                    running.process.kill()
                    break
            failed = running.process.wait() != 0 or framing.broken
            last = framing.finish(failed)
            if last is not None and last.output is None:
                last = Answer(last.sha, None, error=running.error() or "out of step")
        if last is not None:
            yield last


class _Running:
    """A started diff-tree and the file its stderr goes to; ended on exit, or when collected
    (a stream nobody read to the end)."""

    def __init__(self, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        self.process = process
        self.errors = errors
        self._end = weakref.finalize(self, _end, process, errors)

    def __enter__(self) -> _Running:
        return self

    def error(self) -> str:
        self.errors.seek(0)
        lines = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        return f"git diff-tree: {lines[-1]}" if lines else ""

    def __exit__(self, *_exc: object) -> None:
        self._end()


def _end(process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()
    errors.close()


class _LineFraming:
    """Patches: each answer is `<sha>\\n` and the patch; the next answer's SHA line ends it."""

    def __init__(self, requests: Sequence[tuple[str, str | None]], max_bytes: int) -> None:
        self.shas = [sha.encode("ascii") for sha, _ in requests]
        self.max_bytes = max_bytes
        self.at = 0  # the answer being read
        self.pending = bytearray()  # from its SHA line on
        self.scanned = 0  # where the search for the next SHA line resumes
        self.oversized = False
        self.broken = False

    def feed(self, chunk: bytes) -> Iterator[Answer]:
        self.pending += chunk
        if self.at >= len(self.shas):
            self.broken = True  # more than was asked for
            return
        while self.at < len(self.shas):
            head = self.shas[self.at] + b"\n"
            if len(self.pending) < len(head):
                return
            if not self.pending.startswith(head):
                self.broken = True
                return
            if self.at + 1 == len(self.shas):
                break
            marker = b"\n" + self.shas[self.at + 1] + b"\n"
            found = self.pending.find(marker, max(self.scanned, len(head) - 1))
            if found < 0:
                break
            yield self._answer(bytes(self.pending[len(head) : found + 1]))
            del self.pending[: found + 1]
        self.scanned = max(len(self.pending) - 42, 0)
        if len(self.pending) > self.max_bytes and not self.broken:
            # keep the SHA line and the bytes a next SHA line may have begun in; the NUL between
            # (no patch line holds one where a SHA line could start) keeps them from joining
            head = len(self.shas[self.at]) + 1
            self.pending[head:-42] = b"\0"
            self.scanned, self.oversized = head, True

    def _answer(self, output: bytes) -> Answer:
        answer = Answer(self.shas[self.at].decode(), output, self.oversized)
        self.at += 1
        self.scanned, self.oversized = 0, False
        return answer

    def finish(self, failed: bool) -> Answer | None:
        if self.at >= len(self.shas):
            return None
        if failed or self.at + 1 < len(self.shas):
            return Answer(self.shas[self.at].decode(), None)
        head = len(self.shas[self.at]) + 1
        if not self.pending.startswith(self.shas[self.at] + b"\n"):
            return Answer(self.shas[self.at].decode(), None)
        return self._answer(bytes(self.pending[head:]))


class _ZeroFraming:
    """`-z --name-status` (or `--raw`) answers: `<sha>\\0`, then per file a status field and
    one or two paths, read field by field, so a path that looks like a SHA is still a path."""

    def __init__(self, requests: Sequence[tuple[str, str | None]]) -> None:
        self.shas = [sha.encode("ascii") for sha, _ in requests]
        self.at = -1  # the answer being read (-1: before the first SHA)
        self.fields: list[bytes] = []  # of that answer
        self.paths_due = 0  # paths still to come for the last status field
        self.pending = bytearray()
        self.broken = False

    def feed(self, chunk: bytes) -> Iterator[Answer]:
        self.pending += chunk
        start = 0
        while (end := self.pending.find(b"\0", start)) >= 0:
            field = bytes(self.pending[start:end])
            start = end + 1
            if self.paths_due:
                self.fields.append(field)
                self.paths_due -= 1
            elif self.at + 1 < len(self.shas) and field == self.shas[self.at + 1]:
                if self.at >= 0:
                    yield self._answer()
                self.at += 1
            elif self.at >= 0 and _is_status(field):
                self.fields.append(field)
                letter = field.rpartition(b" ")[2][:1]  # a --raw record ends with its status
                self.paths_due = 2 if letter in (b"R", b"C") else 1
            else:
                self.broken = True
                break
        del self.pending[:start]

    def _answer(self) -> Answer:
        output = b"".join(field + b"\0" for field in self.fields)
        self.fields = []
        return Answer(self.shas[self.at].decode(), output)

    def finish(self, failed: bool) -> Answer | None:
        if self.at < 0:
            return Answer(self.shas[0].decode(), None) if self.shas else None
        if failed or self.paths_due or self.pending or self.at + 1 < len(self.shas):
            return Answer(self.shas[self.at].decode(), None)
        return self._answer()


def _is_status(field: bytes) -> bool:
    """A --name-status letter with its score (`M`, `R100`), or a --raw record (`:100644 ...`)."""
    if field.startswith(b":"):
        return True
    return 1 <= len(field) <= 4 and field[:1].isalpha() and (len(field) == 1 or field[1:].isdigit())


def _lines_file(lines: Sequence[str]) -> tempfile._TemporaryFileWrapper[bytes]:
    file = tempfile.TemporaryFile()  # noqa: SIM115 - the caller's with-block closes it
    file.write("".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape"))
    file.seek(0)
    return file  # type: ignore[return-value]


def _widen_pipe(pipe: IO[bytes]) -> None:
    # past /proc/sys/fs/pipe-max-size this fails, and the default size still works
    if sys.platform == "linux":
        with suppress(OSError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
