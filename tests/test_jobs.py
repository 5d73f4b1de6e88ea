"""The durable worker: restart recovery, retries with backoff, permanent failures, metrics."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from gate.store import Delivery, Job
from gate.store import jobs as job_store
from gate.store.deliveries import IncomingDelivery, record_delivery
from gate.store.tables import utcnow
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, wait_until
from tests.gitrepo import lines

pytestmark = needs_shared


def test_delivery_accepted_before_a_crash_is_processed_once_after_restart(
    make_client, fake_github, remotes
):
    project = ProjectRepo(remotes)
    head = project.pull_request(21, {"web/app.py": lines(30, "new")})
    payload = pr_payload("opened", project.full_name, 21, project.base, head)

    down = make_client(worker_enabled=False)  # the process dies before its worker runs
    assert deliver(down, "pull_request", payload).status_code == 202
    down.__exit__(None, None, None)
    assert fake_github.check_runs == {}

    make_client()  # restart: the new worker finds the stored delivery
    wait_until(lambda: fake_github.statuses, what="the check after restart")
    wait_until(lambda: fake_github.labels.get(("octo-org/shop", 21)))
    assert len(fake_github.check_runs) == 1
    assert len(fake_github.statuses) == 1


def test_job_of_a_worker_that_died_mid_run_is_taken_over_when_its_lease_expires(db):
    incoming = IncomingDelivery(str(uuid.uuid4()), "ping", None, None, None, "{}")
    record_delivery(db, incoming, max_attempts=3)
    lease = timedelta(seconds=30)
    first = job_store.claim_next(db, lease)
    assert first is not None and first.attempt == 1
    assert job_store.claim_next(db, lease) is None  # held by the (now dead) worker

    later = utcnow() + timedelta(seconds=31)
    taken_over = job_store.claim_next(db, lease, now=later)
    assert taken_over is not None and taken_over.id == first.id and taken_over.attempt == 2


def test_a_job_is_claimed_by_exactly_one_worker(db):
    for _ in range(20):
        record_delivery(db, IncomingDelivery(str(uuid.uuid4()), "ping", None, None, None, "{}"), 3)
    claimed = []
    while (job := job_store.claim_next(db, timedelta(seconds=60))) is not None:
        claimed.append(job.id)
    assert len(claimed) == len(set(claimed)) == 20


def test_failed_job_is_retried_with_growing_backoff_then_marked_failed(db):
    record_delivery(db, IncomingDelivery(str(uuid.uuid4()), "ping", None, None, None, "{}"), 3)
    now = utcnow()
    delays = []
    for attempt in (1, 2, 3):
        job = job_store.claim_next(db, timedelta(seconds=60), now=now)
        assert job is not None and job.attempt == attempt
        delay = timedelta(seconds=2**attempt)
        outcome = job_store.retry_or_fail(db, job, f"boom {attempt}", delay, now=now)
        delays.append(delay)
        assert job_store.claim_next(db, timedelta(seconds=60), now=now) is None  # backing off
        now += delay + timedelta(seconds=1)
    assert outcome == "failed"
    with db.session() as session:
        job_row = session.scalars(select(Job)).one()
        delivery = session.scalars(select(Delivery)).one()
    assert (job_row.state, job_row.attempts, job_row.last_error) == ("failed", 3, "boom 3")
    assert delivery.outcome == "failed"
    assert job_store.claim_next(db, timedelta(seconds=60), now=now + timedelta(days=1)) is None


def test_malformed_pull_request_fails_at_once_and_shows_in_metrics(client, fake_github):
    payload = {"action": "opened", "pull_request": {"number": 1}, "installation": {"id": 1}}
    deliver(client, "pull_request", json.dumps(payload).encode())
    db = client.app.state.services.db

    def failed_job():
        with db.session() as session:
            return session.scalars(select(Job).where(Job.state == "failed")).first()

    job = wait_until(failed_job, what="the job to fail")
    assert job.attempts == 1  # retrying cannot fix a payload
    assert "MalformedPayload" in job.last_error
    assert 'gate_jobs_in_state{state="failed"} 1.0' in client.get("/metrics").text
    assert fake_github.requests == []


def test_rate_limited_job_is_rescheduled_after_retry_after(client, fake_github, remotes):
    project = ProjectRepo(remotes)
    head = project.pull_request(22, {"web/app.py": "x\n"})
    fake_github.fail_next(
        "POST",
        r"/app/installations/\d+/access_tokens",
        403,
        headers={"retry-after": "120"},
        message="You have exceeded a secondary rate limit",
    )
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 22, project.base, head))
    db = client.app.state.services.db

    def rescheduled():
        with db.session() as session:
            job = session.scalars(select(Job)).one()
            # waiting out a rate limit spends no attempt
            return job if job.state == "queued" and job.rate_limit_waits == 1 else None

    job = wait_until(rescheduled, what="the job to be rescheduled")
    wait_seconds = (job.run_after - utcnow()).total_seconds()
    assert 100 < wait_seconds <= 123  # Retry-After, and up to 2 s of jitter
    assert job.attempts == 0
    assert "rate limited" in job.last_error

    with db.session() as session:  # time passes
        session.execute(update(Job).values(run_after=utcnow()))
    client.app.state.worker.wake()
    wait_until(lambda: fake_github.statuses, what="the check after the rate limit")
