"""`gate assess` with its history index kept: warm answers are cold ones, bare repositories too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import gate
from tests.gitrepo import GitRepo, lines


def assess(repo: Path, cwd: Path, *args: str) -> dict:
    done = gate("assess", "--repo", str(repo), "--json", "--no-record", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result.pop("id") is None
    return result


def project(path: Path) -> GitRepo:
    repo = GitRepo(path)
    repo.commit("start", {"app/main.py": lines(40), "lib/util.py": lines(10)})
    repo.commit("fix a crash in util", {"lib/util.py": lines(12)}, author="Bo <bo@example.com>")
    repo.commit("more", {"app/main.py": lines(50), "app/new.py": lines(5)})
    return repo


def test_a_warm_index_gives_the_cold_answer_and_follows_new_commits(tmp_path: Path):
    repo = project(tmp_path / "project")
    cold = assess(repo.path, tmp_path)
    assert (repo.path / ".git" / "riskgate").is_dir()
    assert repo.git("status", "--porcelain", "--ignored") == ""  # nothing in the work tree
    assert assess(repo.path, tmp_path) == cold
    repo.commit("again", {"lib/util.py": lines(30), "app/main.py": lines(55)})
    warm = assess(repo.path, tmp_path)
    (repo.path / ".git" / "riskgate").rename(tmp_path / "dropped")
    assert assess(repo.path, tmp_path) == warm  # as a fresh index sees it
    assert warm["features"]["exp"] > cold["features"]["exp"]


def test_a_bare_repository_is_assessed_as_its_clone(tmp_path: Path):
    repo = project(tmp_path / "project")
    bare = tmp_path / "project.git"
    repo.git("clone", "--quiet", "--bare", str(repo.path), str(bare))
    from_clone = assess(repo.path, tmp_path, "--base", "HEAD~2")
    assert assess(bare, tmp_path, "--base", "HEAD~2") == from_clone
    assert assess(bare, tmp_path, "--base", "HEAD~2") == from_clone  # warm
    assert (bare / "riskgate").is_dir()


def imported_by_assess(
    repo: Path, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> set[str]:
    """The top-level packages a `gate assess` process imports (from `python -X importtime`)."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "gate.cli",
            "assess",
            "--repo",
            str(repo),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GATE_LOG_JSON": "false", **(env or {})},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line.split("|")[-1] for line in done.stderr.splitlines() if line.startswith("import")]
    return {name.strip().split(".")[0] for name in lines}


def test_assessing_imports_only_what_scoring_needs(tmp_path: Path):
    repo = project(tmp_path / "project")
    heavy = {"xgboost", "scipy", "sklearn", "pandas", "alembic"}
    assert (
        imported_by_assess(repo.path, tmp_path, "--no-record") & (heavy | {"sqlalchemy"}) == set()
    )
    # recording: SQLAlchemy, but alembic only for a schema behind its head (the first run)
    env = {"GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'gate.db'}"}
    assert "alembic" in imported_by_assess(repo.path, tmp_path, env=env)
    assert imported_by_assess(repo.path, tmp_path, env=env) & heavy == set()
