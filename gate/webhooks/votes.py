"""issue_comment `/gate approve|reject <reason>` and the check's Approve / Reject buttons."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from gate.context import Services
from gate.deploys import protection
from gate.errors import MalformedPayload
from gate.github import GitHubAPI, Repo
from gate.pulls.approvals import VoteRequest, cast_vote
from gate.store import approvals as store
from gate.store import assessments, audit, deployments
from gate.store.tables import Assessment, Delivery

COMMAND = re.compile(r"^\s*/gate\s+(approve|reject)\b[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def parse_command(body: str) -> tuple[str, str] | None:
    """('approve' | 'reject', reason) from the comment's first /gate line, or None."""
    found = COMMAND.search(body or "")
    if found is None:
        return None
    return found.group(1).lower(), found.group(2).strip()


def on_comment(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    """Only new comments count: an edited approval changes nothing (the original is on record)."""
    try:
        issue, comment = payload["issue"], payload["comment"]
        repo = Repo.parse(payload["repository"]["full_name"])
        default_branch = str(payload["repository"]["default_branch"])
        installation_id = int(payload["installation"]["id"])
        author = comment["user"]
        body, login = str(comment.get("body") or ""), str(author["login"])
        written_at = _time(comment["created_at"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"issue_comment payload: {error!r}") from None
    command = parse_command(body)
    if command is None or "pull_request" not in issue or author.get("type") == "Bot":
        return
    verdict, reason = command
    github = services.github(installation_id)
    number = int(issue["number"])
    assessment = store.latest_for_pr(services.db, repo.full_name, number)
    held_here = (
        assessment is not None and assessment.decision == "hold" and (assessment.resolution is None)
    )
    if not held_here:
        # a merged PR: the command is about the held deployments that carry it
        held = deployments.held_for_pr(services.db, repo.full_name, number)
        if held:
            if not reason:
                github.create_comment(
                    repo, number, f"@{login}, please give a reason: `/gate {verdict} <reason>`."
                )
                return
            for deployment in held:
                target = assessments.get(services.db, deployment.assessment_id or 0)
                if target is None:
                    continue
                github.create_comment(
                    repo,
                    number,
                    _vote(
                        services,
                        github,
                        repo,
                        default_branch,
                        target,
                        login,
                        verdict,
                        reason,
                        "comment",
                    ),
                )
            return
    if assessment is None:
        github.create_comment(repo, number, "riskgate has not assessed this pull request yet.")
        return
    # GitHub stamps comments to the second; ours carry microseconds
    if assessment.created_at - written_at > timedelta(seconds=1):
        # a push landed while the comment was written: it approved a commit it never saw
        _refuse(services, repo, assessment, login, verdict, "stale: a newer commit was pushed")
        github.create_comment(
            repo,
            number,
            f"@{login}, a new commit arrived after your comment, so it does not "
            f"count for `{assessment.head_sha[:10]}`. Please look again and repeat the command.",
        )
        return
    if not reason:
        github.create_comment(
            repo, number, f"@{login}, please give a reason: `/gate {verdict} <reason>`."
        )
        return
    outcome = _vote(
        services, github, repo, default_branch, assessment, login, verdict, reason, "comment"
    )
    github.create_comment(repo, number, outcome)


def on_button(services: Services, delivery: Delivery, payload: dict[str, Any]) -> None:
    try:
        check_run = payload["check_run"]
        check_run_id, head_sha = int(check_run["id"]), str(check_run["head_sha"])
        identifier = str(payload["requested_action"]["identifier"])
        repo = Repo.parse(payload["repository"]["full_name"])
        default_branch = str(payload["repository"]["default_branch"])
        installation_id = int(payload["installation"]["id"])
        login = str(payload["sender"]["login"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedPayload(f"check_run payload: {error!r}") from None
    if identifier not in ("approve", "reject"):
        return
    assessment = store.by_check_run(services.db, repo.full_name, check_run_id)
    if assessment is None or assessment.head_sha != head_sha:
        audit.record(
            services.db,
            actor=login,
            action="approval.refused",
            repository=repo.full_name,
            sha=head_sha,
            reason=f"{identifier} pressed on check run {check_run_id}, which is "
            "not a riskgate check of this commit",
        )
        return
    github = services.github(installation_id)
    latest = store.latest_for_pr(services.db, repo.full_name, assessment.pr_number or 0)
    if latest is not None and latest.id != assessment.id:
        _refuse(services, repo, assessment, login, identifier, "stale: a newer commit was pushed")
        return
    outcome = _vote(
        services,
        github,
        repo,
        default_branch,
        assessment,
        login,
        identifier,
        "pressed the button on the check",
        "button",
    )
    if assessment.pr_number:
        github.create_comment(repo, assessment.pr_number, outcome)


def _vote(
    services: Services,
    github: GitHubAPI,
    repo: Repo,
    default_branch: str,
    assessment: Assessment,
    login: str,
    verdict: str,
    reason: str,
    source: str,
) -> str:
    loaded = services.policies.load(
        repo.full_name, services.mirrors.path(repo.full_name), f"refs/heads/{default_branch}"
    )
    request = VoteRequest(repo, assessment, login, verdict, reason, source)  # type: ignore[arg-type]
    outcome = cast_vote(
        services, github, request, loaded.policy, loaded.version, protection.settle_vote
    )
    return outcome.message


def _refuse(
    services: Services, repo: Repo, assessment: Assessment, login: str, verdict: str, why: str
) -> None:
    audit.record(
        services.db,
        actor=login,
        action="approval.refused",
        repository=repo.full_name,
        sha=assessment.head_sha,
        subject=f"{repo.full_name}#{assessment.pr_number}",
        reason=f"{verdict}: {why}",
        assessment_id=assessment.id,
    )


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
