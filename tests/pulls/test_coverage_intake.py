"""Coverage arriving after the first score, by API upload or workflow artifact, rescores the PR."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from sqlalchemy import select

from gate.store import Assessment, AuditEntry
from gate.store.tables import CoverageUpload
from gate.store.tokens import create_token
from tests.conftest import ProjectRepo, deliver, needs_shared, pr_payload, real_payload, wait_until
from tests.fakes import FakeGitHub

pytestmark = needs_shared

NEW_CODE = (
    "def refund(amount):\n    if amount < 0:\n        raise ValueError(amount)\n    return amount\n"
)


def lcov_for(path: str, covered: list[int], missed: list[int]) -> bytes:
    records = [f"DA:{n},1" for n in covered] + [f"DA:{n},0" for n in missed]
    return ("\n".join(["TN:", f"SF:{path}", *records, "end_of_record"]) + "\n").encode()


def scored_pr(client, fake_github: FakeGitHub, remotes: Path) -> tuple[ProjectRepo, str]:
    project = ProjectRepo(remotes)
    head = project.pull_request(31, {"payments/refund.py": NEW_CODE})
    deliver(client, "pull_request", pr_payload("opened", project.full_name, 31, project.base, head))
    wait_until(lambda: len(fake_github.statuses) == 1, what="the first score")
    return project, head


def latest_summary(fake_github: FakeGitHub) -> str:
    (run,) = fake_github.check_runs.values()
    return run["output"]["summary"]


def test_uploaded_coverage_rescores_the_pull_request(client, fake_github, remotes):
    project, head = scored_pr(client, fake_github, remotes)
    assert "no coverage report for this commit" in latest_summary(fake_github)
    token = create_token(client.app.state.services.db, project.full_name, "ci")

    response = client.post(
        "/api/v1/coverage",
        headers={"Authorization": f"Bearer {token}"},
        data={"repository": project.full_name, "sha": head},
        # absolute CI paths, as reports carry them: mapped onto the repository's files
        files={
            "file": (
                "lcov.info",
                lcov_for(
                    "/home/runner/work/shop/shop/payments/refund.py", covered=[1, 2, 4], missed=[3]
                ),
            )
        },
    )
    assert response.status_code == 201, response.text
    assert response.json() | {"id": 0} == {
        "id": 0,
        "repository": project.full_name,
        "sha": head,
        "format": "lcov",
        "files": 1,
        "rescoring": 1,
    }
    # the check is updated; the status only when it says something new (never the same twice)
    wait_until(lambda: "no coverage report" not in latest_summary(fake_github), what="the rescore")
    assert len(fake_github.check_runs) == 1  # the same check, updated
    with client.app.state.services.db.session() as session:
        assessment = session.scalars(select(Assessment)).one()
    assert assessment.features["patch_coverage"] == 0.75
    assert assessment.features["uncovered_added_lines"] == 1
    assert "no coverage report" not in latest_summary(fake_github)


def test_coverage_upload_refuses_bad_tokens_other_repositories_and_bad_reports(client, remotes):
    db = client.app.state.services.db
    token = create_token(db, "octo-org/shop", "ci")
    form = {"repository": "octo-org/shop", "sha": "a" * 40}
    report = {"file": ("lcov.info", lcov_for("a.py", [1], []))}

    def upload(headers, data=form, files=report):
        return client.post("/api/v1/coverage", headers=headers, data=data, files=files)

    assert upload({}).status_code == 401
    assert upload({"Authorization": "Bearer rg_not-a-real-token"}).status_code == 401
    other = upload({"Authorization": f"Bearer {token}"}, data={**form, "repository": "x/y"})
    assert other.status_code == 403
    broken = upload(
        {"Authorization": f"Bearer {token}"}, files={"file": ("lcov.info", b"SF:a.py\nDA:1,1\n")}
    )  # truncated
    assert broken.status_code == 422 and "truncated" in broken.json()["detail"][0]["msg"]
    short_sha = upload({"Authorization": f"Bearer {token}"}, data={**form, "sha": "abc"})
    assert short_sha.status_code == 422
    with db.session() as session:
        assert session.scalars(select(CoverageUpload)).all() == []


def artifact_zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(name, content)
    return buffer.getvalue()


def workflow_run_payload(full_name: str, run_id: int, head_sha: str) -> dict:
    payload = real_payload("workflow_run", "completed")
    payload["repository"]["full_name"] = full_name
    payload["workflow_run"]["id"], payload["workflow_run"]["head_sha"] = run_id, head_sha
    payload["installation"] = {"id": 1}
    return payload


def test_coverage_artifact_of_a_workflow_run_rescores_the_pull_request(
    client, fake_github, remotes
):
    project, head = scored_pr(client, fake_github, remotes)
    fake_github.add_artifact(
        77,
        "coverage",
        artifact_zip("out/lcov.info", lcov_for("payments/refund.py", [1, 2, 3, 4], [])),
    )
    deliver(client, "workflow_run", workflow_run_payload(project.full_name, 77, head))
    # the check is updated; the status only when it says something new (never the same twice)
    wait_until(lambda: "no coverage report" not in latest_summary(fake_github), what="the rescore")
    with client.app.state.services.db.session() as session:
        upload = session.scalars(select(CoverageUpload)).one()
    assert (upload.sha, upload.source, upload.format) == (head, "artifact", "lcov")
    assert fake_github.calls("GET", r".*/actions/artifacts/\d+/zip")


def test_a_broken_artifact_is_recorded_and_nothing_is_retried(client, fake_github, remotes):
    project, head = scored_pr(client, fake_github, remotes)
    fake_github.add_artifact(78, "coverage", b"this is not a zip")
    deliver(client, "workflow_run", workflow_run_payload(project.full_name, 78, head))
    db = client.app.state.services.db

    def refusal():
        with db.session() as session:
            return session.scalars(
                select(AuditEntry).where(AuditEntry.action == "coverage.refused")
            ).first()

    entry = wait_until(refusal, what="the refusal in the audit log")
    assert "not a zip" in entry.reason
    assert len(fake_github.statuses) == 1


def test_runs_without_a_coverage_artifact_change_nothing(client, fake_github, remotes):
    project, head = scored_pr(client, fake_github, remotes)
    deliver(client, "workflow_run", workflow_run_payload(project.full_name, 79, head))
    wait_until(lambda: fake_github.calls("GET", r".*/runs/79/artifacts"))
    assert len(fake_github.statuses) == 1
