"""Real git repositories built by tests, with commits whose content, author and time we choose."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=master")
        self._time = 1_600_000_000

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **(env or {})},
        )
        return done.stdout.strip()

    def write(self, relative: str, content: str | bytes) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def commit(
        self,
        message: str,
        files: dict[str, str | bytes | None] | None = None,
        author: str = "Ada Lovelace <ada@example.com>",
        when: int | None = None,
    ) -> str:
        for relative, content in (files or {}).items():
            if content is None:
                self.git("rm", "--quiet", relative)
            else:
                self.write(relative, content)
                self.git("add", relative)
        self._time = when if when is not None else self._time + 3600
        name, _, email = author.partition(" <")
        stamp = f"{self._time} +0000"
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email.rstrip(">"),
            "GIT_COMMITTER_DATE": stamp,
        }
        self.git("commit", "--quiet", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("checkout", "--quiet", "-B", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "--quiet", name)

    def set_ref(self, ref: str, sha: str) -> None:
        self.git("update-ref", ref, sha)

    def numstat(self, base: str, head: str) -> tuple[int, int, int]:
        added = deleted = files = 0
        for line in self.git("diff", "--numstat", base, head).splitlines():
            a, d, _ = line.split("\t", 2)
            files += 1
            added += 0 if a == "-" else int(a)
            deleted += 0 if d == "-" else int(d)
        return added, deleted, files


def lines(count: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {n}\n" for n in range(count))


def fast_commits(path: Path, branch: str, count: int, start: int, step: int = 8 * 3600) -> None:
    """Add `count` commits of varied size to `branch` (created if missing), `step` seconds apart
    from `start`, in one `git fast-import`: a hundred `git commit` calls take too long."""
    authors = ["ada@example.com", "bob@example.com", "cy@example.com"]
    tip = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    stream = []
    for i in range(count):
        author = authors[i % 3]
        who = f"{author.split('@')[0]} <{author}> {start + i * step} +0000"
        message = f"fix the parser, take {i}" if i % 7 == 0 else f"change {i}"
        stream += [f"commit refs/heads/{branch}", f"author {who}", f"committer {who}"]
        stream += [f"data {len(message)}", message]
        if i == 0 and tip:
            stream.append(f"from {tip}")
        for j in range(1 + i % 3):
            body = "".join(f"line {n} of {i}\n" for n in range(1 + (i * 13 + j * 5) % 90))
            stream += [f"M 644 inline src/area{(i + j) % 4}/file{j}.py", f"data {len(body)}", body]
        stream.append("")
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"],
        input="\n".join(stream).encode(),
        check=True,
    )
