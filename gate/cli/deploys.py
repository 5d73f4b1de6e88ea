"""Held deployments and their watch: `gate pending`, `approve`, `reject`, `judge`, `watches`,
`unfreeze` and `outcomes`."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

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
        Assessment.kind == "pr", Assessment.decision == "hold", Assessment.resolution.is_(None)
    )
    if repo:
        query = query.where(Assessment.repository == repo)
    with db.session() as session:
        for row in session.scalars(query.order_by(Assessment.held_at)):
            table.add_row(
                f"PR #{row.pr_number}",
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
    from fastapi import HTTPException

    from gate.api.gate import _vote
    from gate.app import build_services
    from gate.settings import SettingsError
    from gate.store import deployments as deployment_store

    try:
        services = build_services(settings())
    except SettingsError as error:
        raise fail(str(error)) from None
    try:
        deployment = deployment_store.get(services.db, deployment_id)
        repository = deployment.repository if deployment else ""
        outcome = _vote(services, deployment_id, user.lstrip("@"), verdict, reason, repository)
    except HTTPException as error:
        errors.print(f"[red]refused:[/red] {error.detail}", soft_wrap=True)
        return 1
    console.print(outcome.message)
    return 0


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
