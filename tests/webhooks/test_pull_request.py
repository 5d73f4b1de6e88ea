"""The PR risk check end to end: delivery -> intake -> worker -> git -> model -> fake GitHub."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gate.store import Assessment, AuditEntry, Delivery, Job
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, wait_until
from tests.fakes import FakeGitHub
from tests.gitrepo import lines

pytestmark = needs_shared


def risky_change() -> dict[str, str]:
    """1,460 lines over 10 files rewriting the payments code: the model holds it."""
    return {
        "payments/charge.py": lines(300, "rewritten"),
        "web/app.py": lines(200, "rewritten"),
        **{f"payments/gateway/part{m}.py": lines(120, f"gateway{m}") for m in range(8)},
    }


def completed_runs(fake: FakeGitHub) -> list[dict]:
    return [run for run in fake.check_runs.values() if run.get("status") == "completed"]


def test_small_pr_gets_a_passing_check_status_and_label(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    head = project.pull_request(7, {"web/app.py": lines(80, "app") + "one more line\n"})
    response = deliver(
        client, "pull_request", pr_payload("opened", project.full_name, 7, project.base, head)
    )
    assert response.status_code == 202

    wait_until(lambda: fake_github.calls("POST", r".*/issues/7/labels"), what="the label")
    (run,) = completed_runs(fake_github)
    assert run["name"] == "risk-gate" and run["head_sha"] == head
    assert run["conclusion"] == "success"
    assert run["output"]["title"].startswith("Risk low")
    assert run["details_url"].startswith("https://gate.example.com/assessments/")
    # the link opens its page; the id alone does not
    page = client.get(run["details_url"].removeprefix("https://gate.example.com"))
    assert page.status_code == 200 and project.full_name in page.text
    assessment_id = run["details_url"].split("/")[4]
    bare = client.get(f"/assessments/{assessment_id}", follow_redirects=False)
    assert bare.status_code == 303 and bare.headers["location"].startswith("/login")
    assert fake_github.statuses[0]["target_url"] == run["details_url"]
    (status,) = fake_github.statuses
    assert status["context"] == "risk-gate/pr" and status["state"] == "success"
    assert status["sha"] == head
    assert fake_github.labels[("octo-org/shop", 7)] == ["risk:low"]


def test_large_pr_is_held_with_reasons_in_plain_words(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    head = project.pull_request(8, risky_change())
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 8, project.base, head))

    wait_until(lambda: fake_github.calls("POST", r".*/issues/8/labels"), what="the label")
    (run,) = completed_runs(fake_github)
    assert run["conclusion"] == "action_required"
    assert "1,460 lines added" in run["output"]["summary"]
    assert "split the 1,660 changed source lines into 5 pull requests" in run["output"]["summary"]
    assert "high 0.64 -> medium" in run["output"]["summary"]
    (status,) = fake_github.statuses
    assert status["state"] == "pending"
    assert len(status["description"]) <= 140
    assert fake_github.labels[("octo-org/shop", 8)] == ["risk:high"]


def test_cold_mirror_posts_in_progress_first_then_completes_the_same_check(
    client, fake_github, remotes: Path
):
    project = ProjectRepo(remotes)
    head = project.pull_request(9, {"docs/guide.md": "rewritten\n"})
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 9, project.base, head))

    wait_until(lambda: fake_github.statuses, what="the status")
    creates = fake_github.calls("POST", r".*/check-runs")
    updates = fake_github.calls("PATCH", r".*/check-runs/\d+")
    assert [c.body["status"] for c in creates] == ["in_progress"]
    assert [u.body["status"] for u in updates] == ["completed"]
    assert len(fake_github.check_runs) == 1


def test_warm_mirror_posts_one_completed_check(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    first = project.pull_request(10, {"web/app.py": "changed\n"})
    deliver(
        client, "pull_request", pr_payload("opened", project.full_name, 10, project.base, first)
    )
    wait_until(lambda: len(fake_github.statuses) == 1)
    second = project.pull_request(11, {"web/other.py": "new\n"})
    deliver(
        client, "pull_request", pr_payload("opened", project.full_name, 11, project.base, second)
    )
    wait_until(lambda: len(fake_github.statuses) == 2)

    creates = [c.body for c in fake_github.calls("POST", r".*/check-runs")]
    assert [(c["head_sha"], c["status"]) for c in creates] == [
        (first, "in_progress"),
        (second, "completed"),
    ]


def test_synchronize_rescores_the_new_head_and_swaps_the_label(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    head = project.pull_request(12, {"web/app.py": "small\n"})
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 12, project.base, head))
    (first_label,) = wait_until(lambda: fake_github.labels.get(("octo-org/shop", 12)))
    assert first_label != "risk:high"

    project.repo.checkout("pr-12")
    new_head = project.repo.commit("grow", risky_change())
    project.repo.set_ref("refs/pull/12/head", new_head)
    project.repo.checkout("master")
    payload = pr_payload(
        "synchronize", project.full_name, 12, project.base, new_head, labels=[{"name": first_label}]
    )
    deliver(client, "pull_request", payload)

    wait_until(lambda: len(fake_github.statuses) == 2, what="the second status")
    wait_until(lambda: fake_github.labels[("octo-org/shop", 12)] == ["risk:high"])
    assert fake_github.calls("DELETE", rf".*/issues/12/labels/{first_label}")
    by_sha = {run["head_sha"]: run for run in completed_runs(fake_github)}
    assert by_sha[head]["conclusion"] in ("success", "neutral")
    assert by_sha[new_head]["conclusion"] == "action_required"


def test_every_action_is_audited_before_it_is_taken(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    head = project.pull_request(13, {"payments/charge.py": lines(40, "refund")})
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 13, project.base, head))
    wait_until(lambda: fake_github.labels.get(("octo-org/shop", 13)))

    db = client.app.state.services.db
    with db.session() as session:
        trail = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assessment = session.scalars(select(Assessment)).one()
    actions = [entry.action for entry in trail]
    assert actions == [
        "check_run.create",
        "assessment.decided",
        "check_run.update",
        "status.create",
        "label.add",
    ]
    assert all(entry.delivery_id and entry.sha == head for entry in trail)
    assert assessment.features["la"] == 40 and assessment.features["ld"] == 120
    assert assessment.model_version and assessment.check_run_id in fake_github.check_runs
    page = client.get(f"/assessments/{assessment.id}/{assessment.details_token}")
    assert page.status_code == 200 and "status.create" in page.text
    # the plain id is behind sign-in
    page = client.get(f"/assessments/{assessment.id}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_unknown_head_commit_is_retried_then_reported_as_not_assessed(
    make_client, fake_github, remotes: Path
):
    client = make_client(job_max_attempts=2)
    project = ProjectRepo(remotes)
    missing = "f" * 40
    deliver(
        client, "pull_request", pr_payload("opened", project.full_name, 14, project.base, missing)
    )

    db = client.app.state.services.db

    def job_state() -> str | None:
        with db.session() as session:
            job = session.scalars(select(Job).where(Job.kind == "process_delivery")).one()
            return job.state if job.state == "failed" else None

    wait_until(job_state, timeout=30, what="the job to fail")
    (run,) = wait_until(lambda: completed_runs(fake_github), what="the neutral check")
    assert run["conclusion"] == "neutral" and run["output"]["title"] == "Risk not assessed"
    assert "not found" in run["output"]["summary"]
    with db.session() as session:
        job, give_up = session.scalars(select(Job).order_by(Job.id)).all()
        delivery = session.scalars(select(Delivery)).one()
    assert job.attempts == 2 and "MissingCommit" in job.last_error
    assert give_up.kind == "give_up"  # the neutral check is a job of its own, retried
    assert delivery.outcome == "failed"
