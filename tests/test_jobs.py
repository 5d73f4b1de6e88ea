"""The durable worker: restart recovery, retries with backoff, permanent failures, metrics."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from gate import jobs
from gate.errors import PermanentError
from gate.github import GitHubError, GitHubUnavailable
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


def claimed(attempt: int = 1, waits: int = 0, failing_for: timedelta | None = None):
    since = utcnow() - failing_for if failing_for is not None else None
    return job_store.ClaimedJob(1, "process_delivery", {}, attempt, 5, since, waits)


def test_backoff_doubles_with_jitter_up_to_its_cap():
    for attempt in range(1, 30):
        seconds = jobs.backoff(attempt, cap=600).total_seconds()
        step = min(2.0 * 2 ** (attempt - 1), 600)
        assert step / 2 <= seconds <= step
    assert jobs.backoff(40, cap=600).total_seconds() <= 600


def test_a_secondary_limit_without_retry_after_waits_a_minute_then_doubles():
    limited = GitHubUnavailable("secondary rate limit", None, "secondary")
    waits = [jobs.retry_delay(limited, claimed(waits=n), cap=600) for n in range(6)]
    assert all(rate_limited for _, rate_limited in waits)
    seconds = [delay.total_seconds() for delay, _ in waits]
    assert 60 <= seconds[0] <= 75 and 120 <= seconds[1] <= 150 and 240 <= seconds[2] <= 300
    assert all(600 <= s <= 750 for s in seconds[4:])  # capped, never under the minimum


def test_retry_after_and_a_primary_reset_are_honoured_and_spend_no_attempt():
    limited = GitHubUnavailable("rate limited", timedelta(seconds=20), "rate_limit")
    delay, rate_limited = jobs.retry_delay(limited, claimed(attempt=3), cap=600)
    assert rate_limited and 20 <= delay.total_seconds() <= 22
    outage = GitHubUnavailable("GitHub answered 502", None, "outage")
    delay, rate_limited = jobs.retry_delay(outage, claimed(attempt=3), cap=600)
    assert not rate_limited and 4 <= delay.total_seconds() <= 8


def test_a_job_gives_up_only_on_what_cannot_pass_or_when_the_budget_is_spent():
    budget, now = timedelta(hours=24), utcnow()
    outage = GitHubUnavailable("GitHub answered 500", None, "outage")
    assert not jobs.gives_up(
        outage, claimed(attempt=200, failing_for=timedelta(hours=23)), now, budget
    )
    assert jobs.gives_up(outage, claimed(attempt=2, failing_for=timedelta(hours=25)), now, budget)
    assert jobs.gives_up(GitHubError(422, "Validation Failed"), claimed(), now, budget)
    assert jobs.gives_up(PermanentError("no such delivery"), claimed(), now, budget)
    assert not jobs.gives_up(RuntimeError("a bug"), claimed(attempt=4), now, budget)
    assert jobs.gives_up(RuntimeError("a bug"), claimed(attempt=5), now, budget)
