"""Line counts of files at a commit, read through one long-lived `git cat-file --batch`."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from gate.features.diff import FileChange
from gate.git.cmd import EMPTY_TREE, GitError


@dataclass(frozen=True, slots=True)
class BlobIds:
    """A changed file's blobs before and after the change (a null id: no file on that side)."""

    before: str
    after: str
    regular: bool  # a regular file on both sides: not a symlink or a submodule


class BlobReader:
    """Reads blobs by `<commit>:<path>`; a missing path counts as an empty file."""

    def __init__(self, repo: Path) -> None:
        self._process = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def line_count(self, commit: str, path: str) -> int:
        if commit == EMPTY_TREE or "\n" in path:
            return 0
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(f"{commit}:{path}\n".encode("utf-8", "surrogateescape"))
        self._process.stdin.flush()
        header = self._process.stdout.readline().split()
        if len(header) != 3 or header[-1] == b"missing":
            return 0  # "<name> missing" (the name may hold spaces): nothing follows
        # a directory (tree) or submodule (commit) entry comes with a body too: read it, or
        # every later answer would be out of step
        content = self._process.stdout.read(int(header[2]) + 1)[:-1]
        if header[1] != b"blob":
            return 0
        if b"\0" in content[:8000]:
            return 0  # binary
        return content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)

    def lines_before(self, base: str, paths: Iterable[str]) -> int:
        """LT: the lines of the changed files at the base commit."""
        return sum(self.line_count(base, path) for path in dict.fromkeys(paths))

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=10)

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


class CarriedLineCounts:
    """LT for a stream of commits, parents before children, reading as few blobs as it can.

    After a text diff a file has the lines it had, plus those added, minus those deleted, so the
    line count of a blob the stream produced is known without reading it. git decides binary as
    `line_count` does (a NUL in the first 8,000 bytes) unless a `diff` attribute says otherwise:
    the paths in `attributed` are always read.
    """

    def __init__(self, reader: BlobReader, attributed: set[str]) -> None:
        self._reader = reader
        self._attributed = attributed
        self._known: dict[str, tuple[str, int]] = {}  # path -> (latest blob carried, its lines)

    def lines_before(
        self, parent: str, changes: Sequence[FileChange], blobs: Sequence[BlobIds | None]
    ) -> int:
        """LT of one commit of the stream (equal to `BlobReader.lines_before`)."""
        old_paths = [change.old_path or change.path for change in changes]
        repeated = {path for path, times in Counter(old_paths).items() if times > 1}
        before: dict[str, int] = {}
        for path, ids in zip(old_paths, blobs, strict=True):
            if path not in before:
                carried = None if path in repeated else self._carried(path, ids)
                before[path] = self._reader.line_count(parent, path) if carried is None else carried
        for change, path, ids in zip(changes, old_paths, blobs, strict=True):
            if path not in repeated:
                self._carry(change, ids, before[path])
        return sum(before.values())

    def _carried(self, path: str, ids: BlobIds | None) -> int | None:
        if ids is None or not ids.regular or path in self._attributed:
            return None
        if _is_null(ids.before):
            return 0  # the file is new: nothing at the parent
        known = self._known.get(path)
        return known[1] if known and known[0] == ids.before else None

    def _carry(self, change: FileChange, ids: BlobIds | None, lines_before: int) -> None:
        derivable = (
            ids is not None
            and ids.regular
            and not change.binary
            and not _is_null(ids.after)
            and change.path not in self._attributed
            and (change.old_path or change.path) not in self._attributed
        )
        if derivable:
            assert ids is not None
            self._known[change.path] = (ids.after, lines_before + change.added - change.deleted)


def _is_null(blob: str) -> bool:
    return not blob.strip("0")


def paths_with_diff_attributes(repo: Path, paths: Iterable[str]) -> set[str]:
    """The paths a `diff` attribute applies to (binary, a text conversion, forced text)."""
    names = "".join(f"{path}\0" for path in paths).encode("utf-8", "surrogateescape")
    done = subprocess.run(
        ["git", "-C", str(repo), "check-attr", "-z", "--stdin", "diff"],
        input=names,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise GitError(f"git check-attr: {done.stderr.decode('utf-8', 'replace').strip()}")
    fields = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {fields[at] for at in range(0, len(fields) - 2, 3) if fields[at + 2] != "unspecified"}
