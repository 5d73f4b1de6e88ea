"""Held deployments and their watch: `gate pending`, `approve`, `reject`, `judge`, `watches`,
`unfreeze` and `outcomes`."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from gate.cli.common import console, errors, fail, open_database, settings, wrapping_table

if TYPE_CHECKING:
    from gate.store import Database

app = typer.Typer()


@app.command()
def pending(
    repo: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Held deployments and pull requests, oldest first, with their reasons and age."""
    rows = _held(open_database(), repo)
    if as_json:
        print(json.dumps(rows))
        return
    table = wrapping_table("what", "repository", "commit", "risk", "held for", "why")
    for row in rows:
        table.add_row(
            row["what"],
            row["repository"],
            row["sha"][:10],
            f"{row['level']} {row['score'] or 0:.2f}",
            _age(timedelta(seconds=row["held_seconds"])),
            "; ".join(row["reasons"][:3]),
        )
    console.print(table if table.row_count else "Nothing is held.")


def _held(db: Database, repo: str | None) -> list[dict[str, Any]]:
    """Held deployments, then held pull requests and local assessments, oldest first."""
    from sqlalchemy import select

    from gate.store import Assessment
    from gate.store.deployments import pending as held_deployments
    from gate.store.tables import utcnow

    now = utcnow()

    def row(what: str, repository: str, sha: str, a: Assessment, since: datetime) -> dict[str, Any]:
        return {
            "what": what,
            "repository": repository,
            "sha": sha,
            "level": a.level,
            "score": a.score,
            "held_seconds": round((now - since).total_seconds()),
            "reasons": [str(reason.get("text", "")) for reason in a.reasons],
        }

    rows = [
        row(f"deploy {d.id} -> {d.environment}", d.repository, d.sha, a, d.requested_at)
        for d, a in held_deployments(db, repo)
    ]
    query = select(Assessment).where(
        Assessment.kind.in_(("pr", "local")),
        Assessment.decision == "hold",
        Assessment.resolution.is_(None),
    )
    if repo:
        query = query.where(Assessment.repository == repo)
    with db.session() as session:
        for a in session.scalars(query.order_by(Assessment.held_at)):
            what = f"PR #{a.pr_number}" if a.kind == "pr" else f"local assessment {a.id}"
            rows.append(row(what, a.repository, a.head_sha, a, a.held_at or a.created_at))
    return rows


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


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
    as_json: Annotated[bool, typer.Option("--json", help="the list as JSON")] = False,
) -> None:
    """Post-deploy watches, newest first, and the freezes still in force."""
    from gate.cli.watches import list_watches, show_watch

    if watch is None:
        raise typer.Exit(list_watches(open_database(), repo, sys.stdout, as_json))
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
