"""push to the default branch keeps the history index current, incrementally."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gate.features.history import load_index
from gate.features.indexes import HistoryIndexes
from gate.store import Delivery
from tests.conftest import ProjectRepo, deliver, needs_shared, real_payload, wait_until
from tests.gitrepo import lines

pytestmark = needs_shared


def push_payload(full_name: str, ref: str, after: str) -> dict:
    payload = real_payload("push", "push")
    payload["repository"]["full_name"] = full_name
    payload["repository"]["default_branch"] = "master"
    payload["ref"], payload["after"] = ref, after
    payload["installation"] = {"id": 1}
    return payload


def outcomes(client) -> list[str]:
    with client.app.state.services.db.session() as session:
        return [d.outcome for d in session.scalars(select(Delivery).order_by(Delivery.id))]


def test_pushes_to_the_default_branch_extend_the_index(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    second = project.repo.commit("fix: rounding", {"payments/charge.py": lines(121, "charge")})
    deliver(client, "push", push_payload(project.full_name, "refs/heads/master", second))
    wait_until(lambda: outcomes(client) == ["done"], what="the first push")

    mirror = client.app.state.services.mirrors.path(project.full_name)
    index_file = HistoryIndexes.file_for(mirror)
    assert len(load_index(index_file)) == 2
    third = project.repo.commit("more", {"web/app.py": lines(81, "app")})
    deliver(client, "push", push_payload(project.full_name, "refs/heads/master", third))
    wait_until(lambda: outcomes(client) == ["done", "done"], what="the second push")
    assert len(load_index(index_file)) == 3
    assert index_file.read_text().count("\n") == 3  # appended, not rebuilt


def test_a_fast_forward_to_a_commit_already_mirrored_moves_the_branch(
    client, fake_github, remotes: Path
):
    project = ProjectRepo(remotes)
    deliver(client, "push", push_payload(project.full_name, "refs/heads/master", project.base))
    wait_until(lambda: outcomes(client) == ["done"], what="the first push")
    services = client.app.state.services
    head = project.pull_request(7, {"web/app.py": lines(85, "app")})
    mirror = services.mirrors.ensure(
        project.full_name,
        str(remotes / project.full_name),
        refspecs=["+refs/pull/7/head:refs/pull/7/head"],
        need=[head],
    )  # the PR head is mirrored, as when its check was scored
    project.repo.git("merge", "--ff-only", "pr-7")  # merged with a fast-forward
    deliver(client, "push", push_payload(project.full_name, "refs/heads/master", head))
    wait_until(lambda: outcomes(client) == ["done", "done"], what="the push of the merge")
    moved = project.repo.git("--git-dir", str(mirror), "rev-parse", "refs/heads/master")
    assert moved.strip() == head
    assert len(load_index(HistoryIndexes.file_for(mirror))) == 2


def test_pushes_to_other_branches_are_not_indexed(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    deliver(client, "push", push_payload(project.full_name, "refs/heads/feature", project.base))
    wait_until(lambda: outcomes(client) == ["done"])
    mirror = client.app.state.services.mirrors.path(project.full_name)
    assert not HistoryIndexes.file_for(mirror).exists()
    assert fake_github.requests == []


def test_a_newly_installed_repository_is_mirrored_and_indexed(client, fake_github, remotes: Path):
    project = ProjectRepo(remotes)
    project.repo.commit("second", {"web/app.py": lines(82, "app")})
    payload = real_payload("installation_repositories", "added")
    payload["installation"]["id"] = 1
    payload["repositories_added"] = [{"full_name": project.full_name, "name": "shop"}]
    deliver(client, "installation_repositories", payload)

    mirror = client.app.state.services.mirrors.path(project.full_name)
    index_file = HistoryIndexes.file_for(mirror)
    wait_until(index_file.exists, what="the index of the installed repository")
    wait_until(lambda: len(load_index(index_file)) == 2)


def calibration_jobs(client) -> list[str]:
    from gate.store.tables import Job

    with client.app.state.services.db.session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "calibrate_repository")).all()
        return [job.state for job in jobs]


def test_a_push_recalibrates_the_repositorys_shares_when_enough_changes_arrived(
    client, fake_github, remotes: Path
):
    from gate.pulls.calibration import load, scores_file

    project = ProjectRepo(remotes)
    second = project.repo.commit("fix: rounding", {"payments/charge.py": lines(121, "charge")})
    deliver(client, "push", push_payload(project.full_name, "refs/heads/master", second))
    wait_until(lambda: calibration_jobs(client) == ["done"], what="the calibration")
    services = client.app.state.services
    mirror = services.mirrors.path(project.full_name)
    first = load(scores_file(mirror))
    assert first is not None and first.tip == second
    assert first.model_version == services.model.version and first.count == 1
    # one more change: too few to score them again
    third = project.repo.commit("more", {"web/app.py": lines(81, "app")})
    deliver(client, "push", push_payload(project.full_name, "refs/heads/master", third))
    wait_until(lambda: outcomes(client) == ["done", "done"], what="the second push")
    assert calibration_jobs(client) == ["done"]
    assert load(scores_file(mirror)) == first
