"""`gate jobs`: the job queue by state, and a clear refusal of a state that does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.store import Database
from gate.store.tables import Job
from tests.conftest import gate


@pytest.mark.covers("jobs --state")
def test_jobs_lists_a_state_with_its_last_error(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    db = Database(url)
    db.migrate()
    with db.session() as session:
        session.add(Job(kind="answer_deployment", args={"deployment_id": 7}, state="queued"))
        session.add(
            Job(kind="process_delivery", state="failed", attempts=5, last_error="GitHub said 502")
        )
    db.dispose()
    env = {"GATE_DATABASE_URL": url, "COLUMNS": "160"}
    failed = gate("jobs", cwd=tmp_path, env=env)
    assert failed.returncode == 0, failed.stderr
    assert "process_delivery" in failed.stdout and "GitHub said 502" in failed.stdout
    assert "answer_deployment" not in failed.stdout
    queued = gate("jobs", "--state", "queued", cwd=tmp_path, env=env)
    assert queued.returncode == 0, queued.stderr
    assert "deployment 7" in queued.stdout and "process_delivery" not in queued.stdout


@pytest.mark.covers("jobs --state")
def test_an_unknown_state_is_refused_naming_the_valid_ones(tmp_path: Path):
    done = gate(
        "jobs", "--state", "bogus", cwd=tmp_path, env={"GATE_DATABASE_URL": "sqlite:///g.db"}
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: no job state 'bogus': give one of queued, running, done, failed\n"
    )
    assert not (tmp_path / "g.db").exists()  # refused before touching the database
