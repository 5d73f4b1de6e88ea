"""The `gate` command on real repositories, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from gate.store import Assessment, Database
from tests.conftest import GATE_SCRIPT, gate
from tests.gitrepo import GitRepo, lines


@pytest.mark.covers("assess --repo --json")
def test_assess_json_matches_git_numstat_and_records_in_sqlite(tmp_path: Path):
    repo = GitRepo(tmp_path / "project")
    base = repo.commit("base", {"app/main.py": lines(40), "lib/util.py": lines(10)})
    head = repo.commit(
        "feature", {"app/main.py": lines(60), "lib/util.py": None, "app/new.py": lines(5)}
    )
    database = tmp_path / "gate.db"
    done = gate(
        "assess",
        "--repo",
        str(repo.path),
        "--json",
        cwd=tmp_path,
        env={"GATE_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    added, deleted, files = repo.numstat(base, head)
    assert (result["features"]["la"], result["features"]["ld"], result["features"]["nf"]) == (
        added,
        deleted,
        files,
    )
    assert result["level"] in ("low", "medium", "high") and 0 <= result["score"] <= 1
    assert result["decision"] in ("pass", "review", "hold") and result["model_version"]
    with Database(f"sqlite:///{database}").session() as session:
        row = session.scalars(select(Assessment)).one()
    assert (row.kind, row.head_sha, row.base_sha, row.id) == ("local", head, base, result["id"])


def test_assess_prints_level_score_and_reasons_for_people(tmp_path: Path):
    repo = GitRepo(tmp_path / "project")
    repo.commit("base", {"a.py": "x\n"})
    repo.commit("big", {f"pkg{n}/m.py": lines(400) for n in range(5)})
    done = gate(
        "assess",
        "--repo",
        str(repo.path),
        cwd=tmp_path,
        env={"GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"},
    )
    assert done.returncode == 0, done.stderr
    assert "risk" in done.stdout and "2,000 lines added" in done.stdout


@pytest.mark.covers("assess --repo --no-record")
def test_assess_outside_a_repository_is_a_clear_error(tmp_path: Path):
    done = gate("assess", "--repo", str(tmp_path), "--no-record", cwd=tmp_path)
    assert done.returncode == 2
    assert "no commit 'HEAD'" in done.stderr


@pytest.mark.covers("serve")
def test_serve_without_settings_names_what_is_missing(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    done = subprocess.run(
        [str(GATE_SCRIPT), "serve"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "GATE_APP_ID" in done.stderr and "GATE_WEBHOOK_SECRET" in done.stderr


COMMANDS = [
    "serve",
    "worker",
    "assess",
    "mine",
    "label",
    "train",
    "models",
    "evaluate",
    "audit",
    "report",
    "pending",
    "approve",
    "reject",
    "judge",
    "watches",
    "unfreeze",
    "outcomes",
    "jobs",
    "token",
    "policy",
]


def test_the_console_script_and_python_m_gate_cli_list_every_command(tmp_path: Path):
    script = gate("--help", cwd=tmp_path, env={"COLUMNS": "120"})
    module = subprocess.run(
        [sys.executable, "-m", "gate.cli", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        timeout=60,
    )
    for done in (script, module):
        assert done.returncode == 0, done.stderr
        # the Commands panel's rows, in order (options start with -, wrapped lines with spaces)
        assert re.findall(r"^│ (\w+) ", done.stdout, re.MULTILINE) == COMMANDS
