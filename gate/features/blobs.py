"""Line counts of files at a commit, read through one long-lived `git cat-file --batch`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from gate.gitcmd import EMPTY_TREE


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
        if len(header) != 3 or header[1] != b"blob":
            return 0  # "missing", or a submodule (commit) or directory (tree) entry
        content = self._process.stdout.read(int(header[2]) + 1)[:-1]
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
