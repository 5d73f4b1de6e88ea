"""Running git itself: bounded output, clear errors."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitError(RuntimeError):
    """git failed; the message carries its stderr."""


class OutputTooLarge(GitError):
    """git produced more output than the caller allowed."""


def git(repo: Path, *args: str, max_bytes: int | None = None, timeout: float = 300) -> bytes:
    command = ["git", "-C", str(repo), "-c", "core.quotepath=off", *args]
    if max_bytes is None:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise GitError(_describe(args, done.stderr))
        return done.stdout
    return _bounded(command, args, max_bytes, timeout)


def _bounded(command: list[str], args: tuple[str, ...], max_bytes: int, timeout: float) -> bytes:
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        chunks: list[bytes] = []
        size = 0
        while chunk := process.stdout.read(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                process.kill()
                raise OutputTooLarge(f"git {args[0]}: output over {max_bytes:,} bytes")
            chunks.append(chunk)
        stderr = process.stderr.read()
        if process.wait(timeout=timeout) != 0:
            raise GitError(_describe(args, stderr))
    return b"".join(chunks)


def _describe(args: tuple[str, ...], stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return f"git {args[0]}: {(fatal or lines or ['failed'])[0]}"


def resolve(repo: Path, rev: str) -> str | None:
    """The full SHA of a commit, or None when the repository does not have it."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except GitError:
        return None


def first_parent(repo: Path, sha: str) -> str:
    """The commit's first parent, or the empty tree for a root commit."""
    return resolve(repo, f"{sha}^1") or EMPTY_TREE


def merge_base(repo: Path, base: str, head: str) -> str:
    output = git(repo, "merge-base", base, head).decode().strip()
    if not output:
        raise GitError(f"git merge-base: {base} and {head} share no history")
    return output


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """End a kept git process: close its input, wait for it to exit, kill it if it does not."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if process.stdout is not None:
        process.stdout.close()
