"""Fault injection: GitHub fails for (compressed) hours in every way it can; no check is lost."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gate.app import create_app
from gate.github import RetryPolicy
from gate.jobs import run_one
from gate.store import Job
from gate.store import jobs as job_store
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload
from tests.deploys.test_protection import Release
from tests.fakes import FakeClock, FakeGitHub
from tests.gitrepo import lines

pytestmark = needs_shared


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(settings, fake_github: FakeGitHub, clock: FakeClock) -> Iterator[TestClient]:
    """The app with its worker off: the test runs jobs itself, on the fake clock."""
    fake_github.clock = clock
    app = create_app(
        settings.model_copy(update={"worker_enabled": False}),
        github_transport=fake_github.transport,
        retry=RetryPolicy(sleep=clock.sleep, now=clock.now),
    )
    app.state.services.clock = clock.now
    with TestClient(app) as client:
        yield client


def drain(client: TestClient, clock: FakeClock, until: datetime | None = None) -> None:
    """Run every job as the worker would, jumping the clock to the next one due."""
    services = client.app.state.services
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if until is not None and clock.now() >= until:
            return
        if run_one(services):
            continue
        due = job_store.next_run_after(services.db)
        if due is None:
            return
        clock.advance_to(due if until is None else min(due, until))
    raise AssertionError("the jobs did not settle")


def open_prs(project: ProjectRepo, client: TestClient, numbers: range) -> dict[int, str]:
    heads = {}
    for number in numbers:
        head = project.pull_request(number, {"web/app.py": lines(20 + number, f"pr{number}")})
        payload = pr_payload("opened", project.full_name, number, project.base, head)
        assert deliver(client, "pull_request", payload).status_code == 202
        heads[number] = head
    return heads


def assert_one_check_and_one_status_each(fake: FakeGitHub, heads: dict[int, str]) -> None:
    for number, head in heads.items():
        runs = [run for run in fake.check_runs.values() if run["head_sha"] == head]
        assert len(runs) == 1, f"#{number}: {len(runs)} check runs"
        assert runs[0]["status"] == "completed", f"#{number}: check not completed"
        assert runs[0]["output"]["title"].startswith("Risk "), runs[0]["output"]["title"]
        assert "not assessed" not in runs[0]["output"]["title"]
        statuses = [status for status in fake.statuses if status["sha"] == head]
        assert len(statuses) == 1, f"#{number}: {len(statuses)} statuses"


def jobs(client: TestClient) -> list[Job]:
    with client.app.state.services.db.session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def test_an_hour_of_mixed_failures_loses_no_check_and_doubles_none(
    gate, fake_github, clock, remotes
):
    project = ProjectRepo(remotes)
    start = clock.now()
    end = fake_github.outage(
        start,
        ("500", 120),
        ("429", 150),  # Retry-After 20, as on the bad day
        ("secondary", 300),  # 403 without Retry-After
        ("refused", 180),
        ("primary", 240),
        ("500", 1800),
        ("secondary", 600),
    )
    early = open_prs(project, gate, range(1, 4))
    drain(gate, clock, until=start + timedelta(minutes=10))
    assert fake_github.check_runs == {} and fake_github.statuses == []
    late = open_prs(project, gate, range(4, 6))  # arrive in the middle of it
    drain(gate, clock)

    assert clock.now() >= end
    assert_one_check_and_one_status_each(fake_github, early | late)
    # besides the deliveries: the repository's first score calibration, queued by its first check
    states = [(job.kind, job.state) for job in jobs(gate) if job.kind != "calibrate_repository"]
    assert states == [("process_delivery", "done")] * 5
    assert {job.state for job in jobs(gate)} == {"done"}
    # waits of rate limits spent no attempt: 5 jobs over an hour of trouble stayed far from 50
    assert all(job.attempts < 20 for job in jobs(gate))


# what issue 16 saw on a bad day (failed for good: 10 of 20, 10 of 10, 5 of 5, 6 of 6)
BAD_DAY = {
    "500 for 120 s": ([("500", 120)], 20),
    "429 Retry-After 20 for 150 s": ([("429", 150)], 10),
    "secondary 403 for 150 s": ([("secondary", 150)], 5),
    "5.5 minutes of mixed kinds": (
        [("500", 60), ("429", 60), ("secondary", 90), ("refused", 60), ("primary", 60)],
        6,
    ),
}


@pytest.mark.parametrize("case", list(BAD_DAY))
def test_the_bad_day_of_issue_16_loses_nothing(case, gate, fake_github, clock, remotes):
    phases, count = BAD_DAY[case]
    fake_github.outage(clock.now(), *phases)
    heads = open_prs(ProjectRepo(remotes), gate, range(1, count + 1))
    drain(gate, clock)
    assert_one_check_and_one_status_each(fake_github, heads)
    assert {job.state for job in jobs(gate)} == {"done"}
    if case.startswith("429"):
        assert {job.attempts for job in jobs(gate)} == {1}  # the waits spent no attempt


def test_secondary_limit_without_retry_after_waits_a_minute_then_backs_off(
    gate, fake_github, clock, remotes
):
    project = ProjectRepo(remotes)
    start = clock.now()
    fake_github.outage(start, ("secondary", 900))
    open_prs(project, gate, range(1, 2))
    drain(gate, clock)

    tried = [
        request for request in fake_github.requests if request.status == 403
    ]  # each attempt stops at its first refused request
    assert 3 <= len(tried) <= 6, len(tried)  # 60 + 120 + 240 + 480 s, not every few seconds
    (job,) = [job for job in jobs(gate) if job.kind == "process_delivery"]
    assert job.state == "done" and job.rate_limit_waits == len(tried)


def test_exponential_backoff_through_server_errors(gate, fake_github, clock, remotes):
    project = ProjectRepo(remotes)
    fake_github.outage(clock.now(), ("500", 1200))
    heads = open_prs(project, gate, range(1, 2))
    drain(gate, clock)
    times = [request.at for request in fake_github.requests if request.status == 500]
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    assert max(gaps) > 100  # later waits grow far past the first seconds
    assert len(times) < 60  # not a retry every 7.5 s (that would be 160 in 20 minutes)
    assert_one_check_and_one_status_each(fake_github, heads)


def test_past_the_budget_the_not_assessed_check_waits_for_github_then_a_redelivery_runs_it(
    make_client, fake_github, clock, remotes, settings
):
    fake_github.clock = clock
    app = create_app(
        settings.model_copy(update={"worker_enabled": False, "job_retry_budget_hours": 1.0}),
        github_transport=fake_github.transport,
        retry=RetryPolicy(sleep=clock.sleep, now=clock.now),
    )
    app.state.services.clock = clock.now
    project = ProjectRepo(remotes)
    head = project.pull_request(9, {"web/app.py": lines(25, "late")})
    payload = pr_payload("opened", project.full_name, 9, project.base, head)
    delivery_id = str(uuid.uuid4())
    back = fake_github.outage(clock.now(), ("500", 1.75 * 3600))  # past the 1-hour budget
    with TestClient(app) as client:
        deliver(client, "pull_request", payload, delivery_id=delivery_id)
        drain(client, clock, until=clock.now() + timedelta(hours=1, minutes=30))
        kinds = {(job.kind, job.state) for job in jobs(client)}
        assert ("process_delivery", "failed") in kinds
        assert ("give_up", "queued") in kinds  # still down: the neutral check waits too
        assert fake_github.check_runs == {}

        drain(client, clock)
        assert clock.now() >= back
        (run,) = fake_github.check_runs.values()
        assert run["conclusion"] == "neutral" and "not assessed" in run["output"]["title"]

        # GitHub's "Redeliver" keeps X-GitHub-Delivery: the failed job runs again
        answer = deliver(client, "pull_request", payload, delivery_id=delivery_id)
        assert answer.json()["duplicate"] is False
        drain(client, clock)
        assert_one_check_and_one_status_each(fake_github, {9: head})
        # and once it is done, the same delivery again is only a duplicate
        again = deliver(client, "pull_request", payload, delivery_id=delivery_id)
        assert again.json()["duplicate"] is True


def test_a_refusal_that_cannot_pass_fails_at_once(gate, fake_github, clock, remotes):
    project = ProjectRepo(remotes)
    fake_github.fail_next("POST", r".*/check-runs", 422, times=3, message="Validation Failed")
    open_prs(project, gate, range(1, 2))
    drain(gate, clock)
    first, *_ = jobs(gate)
    assert first.state == "failed" and first.attempts == 1
    assert "422" in (first.last_error or "")


def test_a_retry_after_the_status_went_out_does_not_post_it_twice(
    gate, fake_github, clock, remotes
):
    project = ProjectRepo(remotes)
    fake_github.fail_next("POST", r".*/issues/\d+/labels", 502, times=4)  # past in-place retries
    heads = open_prs(project, gate, range(1, 2))
    drain(gate, clock)
    assert len(fake_github.calls("POST", r".*/issues/\d+/labels")) == 5
    assert_one_check_and_one_status_each(fake_github, heads)


def test_a_protection_rule_asked_during_an_outage_gets_exactly_one_answer(
    gate, fake_github, clock, remotes
):
    release = Release(gate, fake_github, remotes, {"web/app.py": lines(81, "app")})
    end = fake_github.outage(clock.now(), ("refused", 600), ("secondary", 600), ("500", 3600))
    release.request()
    drain(gate, clock)
    assert clock.now() >= end
    (answer,) = fake_github.reviews
    assert answer["state"] == "approved" and answer["run_id"] == 4242
    assert {job.state for job in jobs(gate)} == {"done"}
