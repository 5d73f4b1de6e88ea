"""Patches between two commits from one kept `git diff-tree --stdin` per repository.

Asked `<head> <base>`, diff-tree takes base as head's one parent and prints the patch from base
to head (after a line naming head), the same bytes as `git diff -M --full-index base head`. A
line that is not a SHA it echoes back and flushes: that marks the end of each answer.
"""

from __future__ import annotations

from pathlib import Path

from gate.git.kept import KeptProcess

COMMAND = ["diff-tree", "--stdin", "-p", "-M", "--full-index", "--no-color", "--no-ext-diff"]
END = b":riskgate-end\n"  # no patch line starts with ':'
CHUNK = 1 << 16


class DiffTree(KeptProcess):
    """One repository's kept diff-tree; safe to share between threads (one answer at a time)."""

    def __init__(self, repo: Path) -> None:
        super().__init__(repo, ["-c", "core.quotepath=off", *COMMAND])

    def patch(self, base: str, head: str, max_bytes: int) -> bytes | None:
        """The patch from `base` to `head`, two full commit SHAs.

        None when there is nothing to show, when the patch is over `max_bytes`, or when git
        did not answer: a spawned `git diff` then tells what is the matter.
        """
        request = f"{head} {base}\n".encode("ascii") + END
        with self._lock:
            for _attempt in (1, 2):
                try:
                    raw = self._exchange(request, max_bytes)
                    break
                except (OSError, ValueError):  # the process died: once more, with a fresh one
                    self._stop()
            else:
                return None
        if raw is None:
            return None
        first, _, rest = raw.partition(b"\n")
        return rest if first == head.encode("ascii") and rest else None

    def _exchange(self, request: bytes, max_bytes: int) -> bytes | None:
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(request)
        process.stdin.flush()
        answer = bytearray()
        while not (answer == END or answer.endswith(b"\n" + END)):
            chunk = process.stdout.read1(CHUNK)
            if not chunk:
                raise BrokenPipeError("git diff-tree ended")
            answer += chunk
            if len(answer) > max_bytes + len(END) + 128:  # + the line naming head
                process.kill()  # cheaper than reading the rest of a huge answer
                self._stop()
                return None
        return bytes(answer[: -len(END)])
