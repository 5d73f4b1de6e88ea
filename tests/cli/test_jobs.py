"""`gate jobs` and `gate jobs retry`, through the console script."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gate.store import Database, Delivery, Job
from gate.store import jobs as job_store
from gate.store.deliveries import IncomingDelivery, record_delivery
from tests.cli.test_cli import gate


def failed_job(db: Database, kind_error: str = "GitHubUnavailable: GitHub answered 502") -> int:
    record_delivery(db, IncomingDelivery(str(uuid.uuid4()), "ping", None, None, None, "{}"), 1)
    job = job_store.claim_next(db, timedelta(seconds=60))
    assert job is not None
    assert job_store.retry_or_fail(db, job, kind_error, timedelta(0), final=True) == "failed"
    return job.id


@pytest.mark.covers("jobs retry")
def test_retry_requeues_one_job_and_its_delivery(database_url: str, tmp_path: Path):
    db = Database(database_url)
    db.migrate()
    first, second = failed_job(db), failed_job(db)
    env = {"GATE_DATABASE_URL": database_url}

    listed = gate("jobs", "--state", "failed", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert {job["id"] for job in json.loads(listed.stdout)} == {first, second}
    assert all("GitHub answered 502" in job["last_error"] for job in json.loads(listed.stdout))

    done = gate("jobs", "retry", str(first), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert f"queued again: 1 job(s) {first}" in done.stdout
    with db.session() as session:
        rows = {job.id: job for job in session.scalars(select(Job))}
        outcomes = {d.id: d.outcome for d in session.scalars(select(Delivery))}
    assert (rows[first].state, rows[first].attempts, rows[first].failing_since) == (
        "queued",
        0,
        None,
    )
    assert rows[second].state == "failed"
    assert outcomes[rows[first].delivery_pk] == "queued"
    db.dispose()


@pytest.mark.covers("jobs retry --failed")
def test_retry_failed_requeues_every_failed_job(database_url: str, tmp_path: Path):
    db = Database(database_url)
    db.migrate()
    ids = [failed_job(db) for _ in range(3)]
    done = gate("jobs", "retry", "--failed", cwd=tmp_path, env={"GATE_DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    assert "queued again: 3 job(s)" in done.stdout
    with db.session() as session:
        states = set(session.scalars(select(Job.state).where(Job.id.in_(ids))))
    assert states == {"queued"}
    db.dispose()


def test_retry_of_an_unknown_job_says_so(database_url: str, tmp_path: Path):
    env = {"GATE_DATABASE_URL": database_url}
    done = gate("jobs", "retry", "999", cwd=tmp_path, env=env)
    assert done.returncode == 1 and "999" in done.stderr
    nothing = gate("jobs", "retry", cwd=tmp_path, env=env)
    assert nothing.returncode == 2 and "--failed" in nothing.stderr
