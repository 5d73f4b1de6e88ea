"""Held deployments and their watch: `gate pending`, `approve`, `reject`, `judge`, `watches`,
`unfreeze` and `outcomes`."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gate.cli.common import console, errors, fail, open_database, settings

app = typer.Typer()


@app.command()
def pending(
    repo: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
) -> None:
    """Held deployments and pull requests, oldest first, with their reasons and age."""
    from rich.table import Table
    from sqlalchemy import select

    from gate.store import Assessment
    from gate.store.deployments import pending as held_deployments
    from gate.store.tables import utcnow

    db = open_database()
    now = utcnow()
    table = Table("what", "repository", "commit", "risk", "held for", "why")
    for deployment, assessment in held_deployments(db, repo):
        table.add_row(
            f"deploy {deployment.id} -> {deployment.environment}",
            deployment.repository,
            deployment.sha[:10],
            f"{assessment.level} {assessment.score or 0:.2f}",
            _age(now - deployment.requested_at),
            _why(assessment.reasons),
        )
    query = select(Assessment).where(
        Assessment.kind.in_(("pr", "local")),
        Assessment.decision == "hold",
        Assessment.resolution.is_(None),
    )
    if repo:
        query = query.where(Assessment.repository == repo)
    with db.session() as session:
        for row in session.scalars(query.order_by(Assessment.held_at)):
            table.add_row(
                f"PR #{row.pr_number}" if row.kind == "pr" else f"local assessment {row.id}",
                row.repository,
                row.head_sha[:10],
                f"{row.level} {row.score or 0:.2f}",
                _age(now - (row.held_at or row.created_at)),
                _why(row.reasons),
            )
    console.print(table if table.row_count else "Nothing is held.")


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _why(reasons: list[dict[str, object]]) -> str:
    return "; ".join(str(reason.get("text", "")) for reason in reasons[:3])


@app.command()
def approve(
    deployment: Annotated[int, typer.Argument(help="the held deployment's id (gate pending)")],
    user: Annotated[str, typer.Option("--as", help="your GitHub login (must be an approver)")],
    reason: Annotated[str, typer.Option(help="why it may go out")],
) -> None:
    """Release a held deployment from the command line, as an approver."""
    raise typer.Exit(_cli_vote(deployment, user, "approve", reason))


@app.command()
def reject(
    deployment: Annotated[int, typer.Argument(help="the held deployment's id (gate pending)")],
    user: Annotated[str, typer.Option("--as", help="your GitHub login (must be an approver)")],
    reason: Annotated[str, typer.Option(help="why it must not go out")],
) -> None:
    """Reject a held deployment from the command line, as an approver."""
    raise typer.Exit(_cli_vote(deployment, user, "reject", reason))


def _cli_vote(deployment_id: int, user: str, verdict: str, reason: str) -> int:
    """Vote as the comment and the API do; the answer reaches GitHub through the worker's job."""
    from gate.api.gate import _default_branch
    from gate.app import build_services
    from gate.deploys import protection
    from gate.git.cmd import GitError
    from gate.github import GitHubError, GitHubUnavailable, Repo
    from gate.model.artifact import ModelError
    from gate.pulls.approvals import VoteRequest, cast_vote
    from gate.settings import SettingsError
    from gate.store import assessments
    from gate.store import deployments as deployment_store

    try:
        services = build_services(settings())
    except (SettingsError, ModelError) as error:
        raise fail(str(error)) from None
    deployment = deployment_store.get(services.db, deployment_id)
    if deployment is None:
        return _refused(f"no deployment {deployment_id}")
    if deployment.state != "held":
        return _refused(f"deployment {deployment_id} was already answered: {deployment.answer}")
    target = assessments.get(services.db, deployment.assessment_id or 0)
    if target is None:
        return _refused(f"deployment {deployment_id} has no assessment to {verdict}")
    repo = Repo.parse(deployment.repository)
    if not services.mirrors.is_warm(repo.full_name):
        # the policy (who may approve) is read from the service's mirror of the repository
        raise fail(
            f"no mirror of {repo.full_name} in {services.settings.mirror_dir}: run gate "
            "where the service runs, with its GATE_MIRROR_DIR",
            1,
        )
    request = VoteRequest(repo, target, user.lstrip("@"), verdict, reason, "cli")  # type: ignore[arg-type]
    try:
        loaded = services.policies.load(
            repo.full_name,
            services.mirrors.path(repo.full_name),
            f"refs/heads/{_default_branch(services, repo.full_name)}",
        )
        github = services.github(int(deployment.installation_id or 0))
        outcome = cast_vote(
            services, github, request, loaded.policy, loaded.version, protection.settle_vote
        )
    except (GitError, GitHubError, GitHubUnavailable) as error:
        raise fail(f"cannot {verdict} deployment {deployment_id}: {error}", 1) from None
    if not outcome.accepted:
        return _refused(outcome.message)
    console.print(outcome.message, markup=False)
    return 0


def _refused(why: str) -> int:
    errors.print(f"[red]refused:[/red] {escape(why)}", soft_wrap=True)
    return 1


@app.command()
def judge(scenario: Annotated[Path, typer.Argument(help="a recorded scenario (JSON)")]) -> None:
    """Replay a post-deploy scenario through the judge, step by step, and print its verdict."""
    from gate.cli.judge import judge_command

    raise typer.Exit(judge_command(scenario, sys.stdout, sys.stderr))


@app.command()
def watches(
    watch: Annotated[int | None, typer.Argument(help="one watch's id: its verdict as JSON")] = None,
    repo: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
    scenario: Annotated[
        bool, typer.Option(help="print what the watch saw, as `gate judge` replays it")
    ] = False,
) -> None:
    """Post-deploy watches, newest first, and the freezes still in force."""
    from gate.cli.watches import list_watches, show_watch

    if watch is None:
        raise typer.Exit(list_watches(open_database(), repo, sys.stdout))
    raise typer.Exit(show_watch(open_database(), watch, scenario, sys.stdout))


@app.command()
def unfreeze(
    repo: Annotated[str, typer.Argument(help="owner/name")],
    environment: Annotated[str, typer.Argument(help="the frozen environment")],
    user: Annotated[str, typer.Option("--as", help="your GitHub login")],
    reason: Annotated[str, typer.Option(help="why deployments may go out again")],
) -> None:
    """Lift the deploy freeze a regression set, before its incident issue is closed."""
    from gate.cli.watches import unfreeze as lift

    raise typer.Exit(lift(open_database(), repo, environment, user.lstrip("@"), reason))


@app.command()
def outcomes(
    out: Annotated[Path, typer.Option(help="CSV (sha,rule,ref) for `gate label --outcomes`")],
    repo: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
) -> None:
    """The deployed changes that riskgate's watch found failure-causing: labels for training."""
    from gate.cli.watches import write_outcomes

    raise typer.Exit(write_outcomes(open_database(), repo, out))
