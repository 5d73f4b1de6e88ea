"""Helpers of the contract tests: a small repository, an isolated environment, clear failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.gitrepo import GitRepo, lines


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An isolated database (and model directory) for one test's `gate` runs."""
    return {
        "GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'gate.db'}",
        "GATE_MODEL_DIR": str(tmp_path / "models"),
        "COLUMNS": "100",
        **extra,
    }


def small_repo(path: Path, origin: str | None = None) -> GitRepo:
    """Three commits: a base, a feature that adds code, a fix; optionally an origin remote."""
    repo = GitRepo(path)
    repo.commit("base", {"app/main.py": lines(40), "lib/util.py": lines(10)})
    repo.commit("feature", {"app/main.py": lines(90), "app/new.py": lines(30)})
    repo.commit("fix a bug in util", {"lib/util.py": lines(12)})
    if origin:
        repo.git("remote", "add", "origin", origin)
    return repo


def assert_clear_error(
    done: subprocess.CompletedProcess[str], code: int, *words: str, max_lines: int = 2
) -> None:
    """Exit `code`; a short message naming `words`; no traceback anywhere."""
    said = done.stderr.strip()
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout and "╭─" not in done.stderr, said
    assert 0 < len(said.splitlines()) <= max_lines, said
    for word in words:
        assert word in said, (word, said)
