"""The GitHub client: installation tokens, retries and rate limits, against the validating fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gate.github import GitHubApp, GitHubError, GitHubUnavailable, Repo, RetryPolicy
from tests.conftest import APP_ID

pytestmark = pytest.mark.usefixtures("fake_github")
REPO = Repo("octo-org", "shop")
CHECK = {"name": "risk-gate", "head_sha": "a" * 40, "status": "in_progress"}


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def github_app(fake_github, app_key, slept) -> GitHubApp:
    return GitHubApp(
        APP_ID, app_key[0], transport=fake_github.transport, retry=RetryPolicy(sleep=slept.append)
    )


def token_requests(fake) -> int:
    return len(fake.calls("POST", r"/app/installations/\d+/access_tokens"))


def test_installation_token_is_reused_until_shortly_before_expiry(github_app, fake_github):
    client = github_app.for_installation(1)
    client.create_check_run(REPO, CHECK)
    client.create_check_run(REPO, CHECK)
    assert token_requests(fake_github) == 1

    almost_expired = datetime.now(UTC) + timedelta(minutes=56)
    github_app.installation_token(1, now=almost_expired)
    assert token_requests(fake_github) == 2


def test_each_installation_has_its_own_token(github_app, fake_github):
    assert github_app.installation_token(1) != github_app.installation_token(2)
    assert token_requests(fake_github) == 2


def test_server_errors_are_retried_with_backoff(github_app, fake_github, slept):
    fake_github.fail_next("POST", r".*/check-runs", 502, times=2)
    check_run_id = github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert check_run_id in fake_github.check_runs
    assert slept == [0.5, 1.0]


def test_retry_after_is_honoured_on_429(github_app, fake_github, slept):
    fake_github.fail_next("POST", r".*/statuses/.*", 429, headers={"retry-after": "3"})
    github_app.for_installation(1).create_commit_status(
        REPO, "a" * 40, {"state": "success", "context": "risk-gate/pr"}
    )
    assert slept == [3.0]
    assert len(fake_github.statuses) == 1


def test_secondary_rate_limit_with_a_short_wait_is_slept_through(github_app, fake_github, slept):
    fake_github.fail_next(
        "POST",
        r".*/check-runs",
        403,
        headers={"retry-after": "2"},
        message="You have exceeded a secondary rate limit",
    )
    github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert slept == [2.0]


def test_long_rate_limit_is_handed_back_to_the_job_queue(github_app, fake_github, slept):
    reset = int((datetime.now(UTC) + timedelta(minutes=20)).timestamp())
    fake_github.fail_next(
        "POST",
        r".*/check-runs",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        message="API rate limit exceeded",
    )
    with pytest.raises(GitHubUnavailable) as raised:
        github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert timedelta(minutes=19) < raised.value.retry_after <= timedelta(minutes=20)
    assert slept == []


def test_persistent_server_errors_give_up_as_unavailable(github_app, fake_github, slept):
    fake_github.fail_next("POST", r".*/check-runs", 503, times=10)
    with pytest.raises(GitHubUnavailable):
        github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert len(slept) == 3


def test_client_errors_are_not_retried(github_app, fake_github, slept):
    fake_github.fail_next("PATCH", r".*/check-runs/\d+", 404, message="Not Found")
    with pytest.raises(GitHubError) as raised:
        github_app.for_installation(1).update_check_run(
            REPO, 99, {"status": "completed", "conclusion": "success"}
        )
    assert raised.value.status == 404 and slept == []


def test_removing_a_label_that_is_gone_is_fine(github_app, fake_github):
    github_app.for_installation(1).remove_label(REPO, 3, "risk:low")
    assert fake_github.calls("DELETE", r".*/issues/3/labels/risk:low")


def test_the_fake_refuses_requests_outside_githubs_description(fake_github):
    import httpx

    bad = httpx.Request(
        "POST",
        "https://api.github.com/repos/o/r/check-runs",
        json={"name": "risk-gate", "head_sha": "a" * 40, "conclusion": "bogus"},
    )
    unknown = httpx.Request("POST", "https://api.github.com/repos/o/r/no-such-thing", json={})
    assert fake_github.handle(bad).status_code == 422
    assert fake_github.handle(unknown).status_code == 422
    assert "bogus" in fake_github.violations[0] and "no-such-thing" in fake_github.violations[1]
    fake_github.violations.clear()  # the violations were the point of this test


def test_status_description_over_140_characters_is_refused_like_github(github_app, fake_github):
    with pytest.raises(GitHubError) as raised:
        github_app.for_installation(1).create_commit_status(
            REPO, "a" * 40, {"state": "success", "context": "c", "description": "x" * 141}
        )
    assert raised.value.status == 422
    fake_github.violations.clear()


def test_find_check_runs_returns_ids_and_external_ids(github_app, fake_github):
    client = github_app.for_installation(1)
    created = client.create_check_run(REPO, {**CHECK, "external_id": "assessment-5"})
    assert client.find_check_runs(REPO, "a" * 40, "risk-gate") == [(created, "assessment-5")]


def test_secondary_limit_without_retry_after_is_handed_back_not_refused(
    github_app, fake_github, slept
):
    fake_github.fail_next(
        "POST",
        r".*/check-runs",
        403,
        message="You have exceeded a secondary rate limit. Please wait a few minutes.",
    )
    with pytest.raises(GitHubUnavailable) as raised:
        github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert raised.value.kind == "secondary" and raised.value.retry_after is None
    assert slept == []  # at least a minute: the job queue waits, not the thread


def test_a_plain_403_is_still_a_refusal(github_app, fake_github, slept):
    fake_github.fail_next("POST", r".*/check-runs", 403, message="Resource not accessible")
    with pytest.raises(GitHubError) as raised:
        github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert raised.value.status == 403 and slept == []


def test_a_primary_limit_waits_for_its_reset_on_the_policys_clock(fake_github, app_key, slept):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    app = GitHubApp(
        APP_ID,
        app_key[0],
        transport=fake_github.transport,
        retry=RetryPolicy(sleep=slept.append, now=lambda: now),
    )
    reset = int((now + timedelta(minutes=30)).timestamp())
    fake_github.fail_next(
        "POST",
        r".*/check-runs",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        message="API rate limit exceeded",
    )
    with pytest.raises(GitHubUnavailable) as raised:
        app.for_installation(1).create_check_run(REPO, CHECK)
    assert raised.value.kind == "rate_limit"
    assert raised.value.retry_after == timedelta(minutes=30)


def test_refused_connections_are_an_outage(github_app, fake_github, slept):
    start = datetime.now(UTC) - timedelta(seconds=1)
    fake_github.outage(start, ("refused", 3600))
    with pytest.raises(GitHubUnavailable) as raised:
        github_app.for_installation(1).create_check_run(REPO, CHECK)
    assert raised.value.kind == "outage" and slept == [0.5, 1.0, 2.0]
