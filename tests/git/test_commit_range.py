"""The change's head commit read by git log: any bytes in the author's email."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gate.git.commit_range import head_commit
from tests.gitrepo import GitRepo, lines


def test_an_email_that_is_not_utf8_and_holds_the_separator_is_read(tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    base = repo.commit("one", {"a.txt": lines(1)})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    # written as raw bytes: git commit itself would re-encode the invalid byte as Latin-1
    raw = (
        f"tree {tree}\nparent {base}\n".encode()
        + b"author A <b\xff\x1fd@x> 1700000000 +0000\n"
        + b"committer C <c@x> 1700000000 +0000\n\nfix it\n"
    )
    made = subprocess.run(
        ["git", "-C", str(repo.path), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=raw,
        capture_output=True,
        check=True,
    )
    head = made.stdout.decode().strip()
    assert head_commit(repo.path, base, head) == (1_700_000_000, "b\ufffd\x1fd@x", "fix it")
