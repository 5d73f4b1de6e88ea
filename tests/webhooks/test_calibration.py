"""Installed on a repository with a history, the App holds shares of its own changes: the PR
check, the details page and the API say where a change ranks."""

from __future__ import annotations

from pathlib import Path

from markupsafe import escape

from gate.pulls.calibration import load, scores_file
from gate.store.tables import Assessment
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, real_payload, wait_until
from tests.gitrepo import fast_commits, lines

pytestmark = needs_shared


def install(client, project: ProjectRepo) -> None:
    payload = real_payload("installation_repositories", "added")
    payload["installation"]["id"] = 1
    payload["repositories_added"] = [{"full_name": project.full_name, "name": "shop"}]
    deliver(client, "installation_repositories", payload)


def test_an_installed_repository_gets_its_rank_on_the_check(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    fast_commits(project.repo.path, "master", 120, start=1_600_010_000)
    project.repo.git("reset", "--quiet", "--hard", "master")
    tip = project.repo.git("rev-parse", "master")
    install(client, project)
    services = client.app.state.services
    path = scores_file(services.mirrors.path(project.full_name))
    distribution = wait_until(lambda: load(path), timeout=120, what="the calibration")
    assert distribution.tip == tip and distribution.count == 120 and distribution.enough

    head = project.pull_request(31, {"payments/charge.py": lines(200, "refund")})
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 31, tip, head))
    wait_until(lambda: fake_github.labels.get(("octo-org/shop", 31)), what="the check")
    (run,) = [r for r in fake_github.check_runs.values() if r.get("status") == "completed"]
    summary = run["output"]["summary"]
    assert "This change is riskier than " in summary
    assert "% of this repository's last 120 changes." in summary
    assert "- repository shares (hold the riskiest 5%: at or above " in summary

    with services.db.session() as session:
        (assessment,) = session.query(Assessment).all()
    assert assessment.rank is not None and assessment.rank in summary
    page = client.get(run["details_url"].removeprefix("https://gate.example.com"))
    assert page.status_code == 200 and f"This change is {escape(assessment.rank)}." in page.text


def test_a_young_repository_keeps_the_models_thresholds_and_the_check_says_so(
    client, fake_github, remotes: Path
):
    project = ProjectRepo(remotes)
    install(client, project)
    path = scores_file(client.app.state.services.mirrors.path(project.full_name))
    wait_until(lambda: load(path), timeout=60, what="the calibration")
    head = project.pull_request(32, {"web/app.py": lines(90, "app")})
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 32, project.base, head))
    wait_until(lambda: fake_github.labels.get(("octo-org/shop", 32)), what="the check")
    (run,) = [r for r in fake_github.check_runs.values() if r.get("status") == "completed"]
    summary = run["output"]["summary"]
    assert "riskier than" not in summary
    assert "- model thresholds: 0 of this repository's changes scored, 100 needed" in summary
