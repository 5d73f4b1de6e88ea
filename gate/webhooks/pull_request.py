"""pull_request opened / synchronize / reopened / ready_for_review: post the risk check."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gate import metrics
from gate.context import Services
from gate.errors import MalformedPayload
from gate.git.commit_range import merge_base
from gate.github import GitHubAPI, Repo
from gate.policy.repo_config import repo_services
from gate.pulls import checks, coverage_intake
from gate.pulls.assess import AssessmentResult, assess_change
from gate.pulls.repository_context import prepare_repository
from gate.store import assessments, audit
from gate.store.tables import Delivery, utcnow
from gate.webhooks import calibration

log = logging.getLogger(__name__)

ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
ACTOR = "riskgate"


@dataclass(frozen=True)
class PullRequestChange:
    repo: Repo
    number: int
    base_sha: str
    head_sha: str
    base_ref: str
    default_branch: str
    clone_url: str | None
    installation_id: int
    labels: frozenset[str]

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> PullRequestChange:
        try:
            pr = payload["pull_request"]
            installation = payload.get("installation") or {}
            if "id" not in installation:
                raise MalformedPayload("no installation: only deliveries to an App are handled")
            return cls(
                repo=Repo.parse(payload["repository"]["full_name"]),
                number=int(pr["number"]),
                base_sha=str(pr["base"]["sha"]),
                head_sha=str(pr["head"]["sha"]),
                base_ref=str(pr["base"]["ref"]),
                default_branch=str(
                    payload["repository"].get("default_branch") or pr["base"]["ref"]
                ),
                clone_url=payload["repository"].get("clone_url"),
                installation_id=int(installation["id"]),
                labels=frozenset(label["name"] for label in pr.get("labels") or []),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedPayload(f"pull_request payload: {error!r}") from None

    @property
    def subject(self) -> str:
        return f"{self.repo.full_name}#{self.number}"


def handle(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    change = PullRequestChange.from_payload(payload)
    github = services.github(change.installation_id)
    started = assessments.start_pr_assessment(
        services.db,
        change.repo.full_name,
        change.number,
        change.base_sha,
        change.head_sha,
        delivery.id,
    )
    details_url = services.details_url(started.id, started.details_token)
    external_id = f"assessment-{started.id}"
    check_run_id = started.check_run_id
    if check_run_id is None and started.existed:
        # an earlier attempt may have created the check and died before storing its id
        check_run_id = _find_check_run(github, change, external_id)

    if check_run_id is None and not services.mirrors.is_warm(change.repo.full_name):
        # the first clone can take a while: show the developer that we are on it
        _audit(services, change, started.id, "check_run.create", "scoring started, mirror cold")
        check_run_id = github.create_check_run(
            change.repo, checks.in_progress_body(change.head_sha, details_url, external_id)
        )
        assessments.set_check_run(services.db, started.id, check_run_id)

    result, policy_version = _assess(services, github, change)
    assessments.save_result(services.db, started.id, result.row_fields(), policy_version)
    versions = {"policy_version": policy_version, "model_version": result.model_version}
    _audit(
        services,
        change,
        started.id,
        "assessment.decided",
        f"{checks.title(result)} -> {result.decision.verdict}: "
        + ("; ".join(reason.text for reason in result.reasons) or "nothing stands out"),
        {"rules": result.decision.rules, "would": result.decision.would},
        **versions,
    )
    metrics.ASSESSMENTS.labels(level=result.decision.level).inc()

    body = checks.check_run_body(result, change.head_sha, details_url, external_id)
    if check_run_id is None:
        _audit(
            services, change, started.id, "check_run.create", body["output"]["title"], **versions
        )
        check_run_id = github.create_check_run(change.repo, body)
        assessments.set_check_run(services.db, started.id, check_run_id)
    else:
        _audit(
            services, change, started.id, "check_run.update", body["output"]["title"], **versions
        )
        github.update_check_run(change.repo, check_run_id, _update_fields(body))
    metrics.DELIVERY_TO_CHECK_SECONDS.observe((utcnow() - delivery.received_at).total_seconds())

    status = checks.status_body(result, details_url)
    _audit(
        services,
        change,
        started.id,
        "status.create",
        f"{status['state']}: {status['description']}",
        **versions,
    )
    if not (started.existed and _already_posted(github, change, status)):
        github.create_commit_status(change.repo, change.head_sha, status)
    _set_label(services, github, change, started.id, result)


def give_up(services: Services, delivery: Delivery, payload: dict[str, Any], error: str) -> None:
    """After the last attempt failed: complete the check as neutral so nothing spins forever."""
    change = PullRequestChange.from_payload(payload)
    github = services.github(change.installation_id)
    started = assessments.start_pr_assessment(
        services.db,
        change.repo.full_name,
        change.number,
        change.base_sha,
        change.head_sha,
        delivery.id,
    )
    details_url = services.details_url(started.id, started.details_token)
    body = checks.failed_body(error, details_url)
    _audit(services, change, started.id, "check_run.give_up", error)
    if started.check_run_id is None:
        github.create_check_run(
            change.repo,
            {
                "name": checks.CHECK_NAME,
                "head_sha": change.head_sha,
                "external_id": f"assessment-{started.id}",
                **body,
            },
        )
    else:
        github.update_check_run(change.repo, started.check_run_id, body)


def _assess(
    services: Services, github: GitHubAPI, change: PullRequestChange
) -> tuple[AssessmentResult, str]:
    pull_ref = f"refs/pull/{change.number}/head"
    context = prepare_repository(
        services,
        github,
        change.repo,
        default_branch=change.default_branch,
        need=[change.base_sha, change.head_sha],
        payload_clone_url=change.clone_url,
        index_branch=change.base_ref,
        extra_refspecs=[f"+{pull_ref}:{pull_ref}"],
    )
    mirror, objects = context.mirror, context.objects
    # the base's own config decides: a pull request cannot relax the rules it is judged by
    repo_services_, notes = repo_services(mirror, change.base_sha, objects)
    # what GitHub shows as the PR's files: head against its merge base with the base branch
    base = merge_base(objects, mirror, change.base_sha, change.head_sha)
    coverage, coverage_notes = coverage_intake.report_for(
        services.db, change.repo.full_name, change.head_sha, mirror
    )
    loaded = context.policy
    chosen = services.model_for(change.repo.full_name)
    result = assess_change(
        mirror,
        base,
        change.head_sha,
        chosen.model,
        shadow=chosen.shadow,
        index=context.index,
        services=repo_services_,
        coverage=coverage,
        notes=[*loaded.notes(), *notes, *coverage_notes],
        policy=loaded.policy,
        objects=objects,
        service_incidents=context.incidents,
        distribution=context.distribution,
    )
    calibration.enqueue_if_stale(
        services, change.repo.full_name, change.default_branch, context.distribution
    )
    return result, loaded.version


def _find_check_run(github: GitHubAPI, change: PullRequestChange, external_id: str) -> int | None:
    for check_run_id, found_external_id in github.find_check_runs(
        change.repo, change.head_sha, checks.CHECK_NAME
    ):
        if found_external_id == external_id:
            return check_run_id
    return None


def _already_posted(github: GitHubAPI, change: PullRequestChange, status: dict[str, Any]) -> bool:
    """A retry after the status went out (a later step failed) must not post it twice."""
    latest = github.latest_status(change.repo, change.head_sha, status["context"])
    return latest is not None and all(
        latest.get(key) == status[key] for key in ("state", "description", "target_url")
    )


def _update_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("head_sha",)}


def _set_label(
    services: Services,
    github: GitHubAPI,
    change: PullRequestChange,
    assessment_id: int,
    result: AssessmentResult,
) -> None:
    wanted = f"{checks.LABEL_PREFIX}{result.decision.level}"
    for stale in sorted(label for label in change.labels & set(checks.LABELS) if label != wanted):
        _audit(services, change, assessment_id, "label.remove", f"{stale}: risk is now {wanted}")
        github.remove_label(change.repo, change.number, stale)
    if wanted not in change.labels:
        _audit(services, change, assessment_id, "label.add", wanted)
        github.add_labels(change.repo, change.number, [wanted])


def _audit(
    services: Services,
    change: PullRequestChange,
    assessment_id: int,
    action: str,
    reason: str,
    details: dict[str, Any] | None = None,
    policy_version: str | None = None,
    model_version: str | None = None,
) -> None:
    audit.record(
        services.db,
        actor=ACTOR,
        action=action,
        reason=reason,
        repository=change.repo.full_name,
        sha=change.head_sha,
        subject=change.subject,
        details=details,
        assessment_id=assessment_id,
        policy_version=policy_version,
        model_version=model_version,
    )
