"""The `gate` command: serve the App, assess a change, train the bundled model, inspect jobs."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from gate.cli.jobs import jobs_app
from gate.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from gate.pulls.assess import AssessmentResult
    from gate.store import Database

app = typer.Typer(help="riskgate: gate changes by learned risk.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(2)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn processes")] = 1,
) -> None:
    """Run the webhook service and its worker."""
    import uvicorn

    try:
        settings = load_settings()
        settings.require_github_app()
    except SettingsError as error:
        raise _fail(str(error)) from None
    if workers > 1:
        from gate.store import Database

        # once, here: N processes migrating one schema at the same moment collide
        db = Database(settings.database_url)
        db.migrate()
        db.dispose()
    uvicorn.run(
        "gate.app:serve_app", factory=True, host=host, port=port, workers=workers, log_config=None
    )


@app.command()
def worker(threads: Annotated[int, typer.Option(help="worker threads")] = 2) -> None:
    """Run only the job worker (pair with `gate serve` and GATE_WORKER_ENABLED=false).

    A separate process keeps the worker's CPU off the intake's event loop, which then answers
    GitHub's deliveries faster; several workers may run against one database.
    """
    import signal
    import threading

    from gate import logs
    from gate.app import build_services
    from gate.jobs import Worker

    try:
        settings = load_settings()
        logs.configure(settings.log_level, settings.log_json)
        services = build_services(settings)
    except SettingsError as error:
        raise _fail(str(error)) from None
    running = Worker(services, threads=threads)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    running.start()
    errors.print(f"worker running with {threads} threads; Ctrl-C stops it")
    stopped.wait()
    running.stop()


@app.command()
def assess(
    repo: Annotated[Path, typer.Option(help="a local git repository")] = Path("."),
    head: Annotated[str, typer.Option(help="the change's newest commit")] = "HEAD",
    base: Annotated[
        str | None, typer.Option(help="compare against (default: head's first parent)")
    ] = None,
    coverage: Annotated[
        Path | None,
        typer.Option(help="a coverage report for head (Cobertura, LCOV, JaCoCo, coverage.py JSON)"),
    ] = None,
    coverage_format: Annotated[str | None, typer.Option(help="the report's format")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    record: Annotated[bool, typer.Option(help="record the assessment in the database")] = True,
) -> None:
    """Score a change of a local repository with the model, and record it."""
    from gate.features.coverage import CoverageError, parse_coverage
    from gate.features.gitlog import iter_records
    from gate.features.history import HistoryIndex, MessageRules
    from gate.git.cmd import first_parent, resolve
    from gate.git.objects import repo_paths
    from gate.model.artifact import ModelError, load_model
    from gate.policy.repo_config import repo_services
    from gate.pulls.assess import assess_change
    from gate.store import Database
    from gate.store.assessments import record_local

    try:
        settings = load_settings()
        model = load_model(settings.model_path)
    except (SettingsError, ModelError) as error:
        raise _fail(str(error)) from None
    repo = repo.resolve()
    head_sha = resolve(repo, head)
    if head_sha is None:
        raise _fail(f"{repo}: no commit {head!r} (is it a git repository?)")
    base_sha = resolve(repo, base) if base else first_parent(repo, head_sha)
    if base_sha is None:
        raise _fail(f"{repo}: no commit {base!r}")
    report = None
    if coverage is not None:
        try:
            report = parse_coverage(
                coverage.read_bytes(), coverage_format, repo_paths=repo_paths(repo, head_sha)
            )
        except (OSError, CoverageError) as error:
            raise _fail(f"{coverage}: {error}") from None
    rules = MessageRules()
    index = HistoryIndex()
    for commit in iter_records(repo, [base_sha] if base_sha != head_sha else [], rules):
        index.add(commit)
    services, notes = repo_services(repo, base_sha)
    result = assess_change(
        repo,
        base_sha,
        head_sha,
        model,
        index=index,
        services=services,
        rules=rules,
        coverage=report,
        notes=notes,
    )
    assessment_id = None
    if record:
        db = Database(settings.database_url)
        db.migrate()
        assessment_id = record_local(
            db, repo.name, {"base_sha": result.base, "head_sha": result.head, **result.row_fields()}
        )
        db.dispose()
    if as_json:
        print(
            json.dumps(
                {
                    "id": assessment_id,
                    "score": round(result.score.probability, 4),
                    "level": result.score.level,
                    "decision": result.decision.verdict,
                    "reasons": [reason.text for reason in result.reasons],
                    "features": result.features.values,
                    "notes": result.features.notes,
                    "model_version": result.model_version,
                }
            )
        )
        return
    _print_assessment(repo.name, base_sha, head_sha, result, assessment_id)


def _print_assessment(
    name: str, base: str, head: str, result: AssessmentResult, assessment_id: int | None
) -> None:
    colour = {"low": "green", "medium": "yellow", "high": "red"}[result.score.level]
    console.print(
        f"[bold {colour}]{result.score.level.upper()}[/] risk {result.score.probability:.2f} "
        f"-> {result.decision.verdict}   {name} {base[:10]}..{head[:10]}"
    )
    for reason in result.reasons:
        console.print(f"  - {reason.text}")
    if not result.reasons:
        console.print("  nothing in this change stands out as risky")
    for advice in result.suggestions:
        console.print(f"  [dim]to lower it:[/] {advice}")
    for note in result.features.notes:
        console.print(f"  [dim]note:[/] {note}")
    recorded = f", recorded as assessment {assessment_id}" if assessment_id else ""
    console.print(f"[dim]model {result.model_version}{recorded}[/]")


@app.command()
def mine(
    repo: Annotated[Path, typer.Option(help="a local git repository")],
    out: Annotated[Path, typer.Option(help="the feature table to write (Parquet)")],
) -> None:
    """Every commit's feature vector, exactly as the service computes it, to a Parquet table."""
    from gate.cli.training import mine_command

    raise typer.Exit(mine_command(repo, out))


@app.command()
def label(
    repo: Annotated[Path, typer.Option(help="the repository the table was mined from")],
    features: Annotated[Path, typer.Option(help="the mined feature table")],
    out: Annotated[Path, typer.Option(help="the labelled table to write")],
    fix_pattern: Annotated[str | None, typer.Option(help="regex of bug-fix messages")] = None,
    issue_pattern: Annotated[str | None, typer.Option(help="regex of issue keys")] = None,
    ignore_revs: Annotated[Path | None, typer.Option(help="reformatting commits to skip")] = None,
    max_fix_files: Annotated[int | None, typer.Option(help="skip larger fixes")] = None,
    recent_days: Annotated[int | None, typer.Option(help="leave these unlabelled")] = None,
    outcomes: Annotated[Path | None, typer.Option(help="rollbacks/incidents (CSV or JSON)")] = None,
) -> None:
    """Which changes later caused failures: SZZ, reverts, rollbacks and incidents."""
    from gate.cli.training import label_command

    raise typer.Exit(
        label_command(
            repo,
            features,
            out,
            fix_pattern=fix_pattern,
            issue_pattern=issue_pattern,
            ignore_revs=ignore_revs,
            max_fix_files=max_fix_files,
            recent_days=recent_days,
            outcomes_path=outcomes,
        )
    )


@app.command()
def train(
    table: Annotated[Path | None, typer.Argument(help="a labelled table (Parquet)")] = None,
    repo: Annotated[
        Path | None,
        typer.Option(help="train this repository's own model: mine, label, train, judge in shadow"),
    ] = None,
    repository: Annotated[
        str | None, typer.Option(help="with --repo: owner/name (default: from its origin remote)")
    ] = None,
    promote: Annotated[
        str, typer.Option(help="with --repo: auto (when better on the recent window) or never")
    ] = "auto",
    recent_days: Annotated[
        int | None, typer.Option(help="with --repo: leave the newest days unlabelled (90)")
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="with --repo: rollbacks/incidents (CSV or JSON)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="where to write the model (default: ./model; with --repo "
            "GATE_MODEL_DIR/OWNER/NAME/VERSION; bundled: data/models/default)"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="retrain the bundled model from the ISSTA'21 data instead")
    ] = None,
    dask_scheduler: Annotated[
        str | None,
        typer.Option(help="train on this Dask cluster (tcp://HOST:8786) with xgboost.dask"),
    ] = None,
    seed: int = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Train, calibrate and threshold an XGBoost model: on a labelled table, on one repository's
    history (--repo), or the bundled one (--data-dir)."""
    if data_dir is not None:
        from training.bundle import train_default_model

        figures = train_default_model(data_dir, out or Path("data/models/default"), seed=seed)
        console.print_json(json.dumps(figures, default=str))
        return
    from gate.cli.training import train_command, train_repo_command

    if repo is not None:
        raise typer.Exit(
            train_repo_command(
                repo,
                repository=repository,
                out_dir=out,
                promote=promote,
                seed=seed,
                recent_days=recent_days,
                outcomes_path=outcomes,
                dask_scheduler=dask_scheduler,
                as_json=as_json,
            )
        )
    if table is None:
        raise _fail(
            "give a labelled table, --repo to train a repository's model, or --data-dir to "
            "retrain the bundled model"
        )
    raise typer.Exit(
        train_command(
            table, out or Path("model"), seed=seed, as_json=as_json, dask_scheduler=dask_scheduler
        )
    )


@app.command()
def models(
    repository: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Repositories' own models: promoted, in shadow or retired, and how they compared."""
    from gate.cli.training import models_command

    raise typer.Exit(models_command(repository, as_json))


@app.command()
def evaluate(
    model: Annotated[Path | None, typer.Option(help="a model directory")] = None,
    table: Annotated[Path | None, typer.Option(help="a labelled table to evaluate on")] = None,
    out: Annotated[
        Path | None, typer.Option(help="write the report (Markdown + PNGs) here")
    ] = None,
    benchmark: Annotated[str | None, typer.Option(help="issta21: the published protocol")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="the benchmark's data")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Evaluate a model (AUC, effort-aware metrics, calibration, plots), or run the benchmark."""
    from gate.cli.training import benchmark_command, evaluate_command

    if benchmark is not None:
        if benchmark != "issta21" or data_dir is None:
            raise _fail("--benchmark issta21 needs --data-dir")
        raise typer.Exit(benchmark_command(data_dir, as_json))
    if model is None or table is None:
        raise _fail("give --model and --table, or --benchmark issta21 --data-dir DIR")
    raise typer.Exit(evaluate_command(model, table, out, as_json))


@app.command()
def audit(
    repo: Annotated[str, typer.Option(help="owner/name")],
    since: Annotated[str | None, typer.Option(help="ISO date or time (UTC unless given)")] = None,
) -> None:
    """The audit trail of a repository, as a readable timeline."""
    from gate.reports.audit import audit_command

    raise typer.Exit(audit_command(_database(), repo, since, sys.stdout))


@app.command()
def report(
    repo: Annotated[str, typer.Option(help="owner/name")],
    since: Annotated[str, typer.Option(help="ISO date or time (UTC unless given)")],
    until: Annotated[str | None, typer.Option(help="end, exclusive (default: now)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write the weekly trend as a PNG")] = None,
) -> None:
    """The autonomy report: what passed by itself, what was held, overrides, time held."""
    from gate.reports.autonomy import report_command

    raise typer.Exit(report_command(_database(), repo, since, until, as_json, plot, sys.stdout))


@app.command()
def pending(
    repo: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
) -> None:
    """Held deployments and pull requests, oldest first, with their reasons and age."""
    from sqlalchemy import select

    from gate.store import Assessment
    from gate.store.deployments import pending as held_deployments
    from gate.store.tables import utcnow

    db = _database()
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
    from gate.store import deployments as deployment_store

    try:
        services = build_services(load_settings())
    except SettingsError as error:
        raise _fail(str(error)) from None
    try:
        deployment = deployment_store.get(services.db, deployment_id)
        repository = deployment.repository if deployment else ""
        outcome = _vote(services, deployment_id, user.lstrip("@"), verdict, reason, repository)
    except HTTPException as error:
        errors.print(f"[red]refused:[/red] {error.detail}", soft_wrap=True)
        return 1
    console.print(outcome.message)
    return 0


def _database() -> Database:
    from gate.store import Database

    try:
        db = Database(load_settings().database_url)
    except SettingsError as error:
        raise _fail(str(error)) from None
    db.migrate()
    return db


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
        raise typer.Exit(list_watches(_database(), repo, sys.stdout))
    raise typer.Exit(show_watch(_database(), watch, scenario, sys.stdout))


@app.command()
def unfreeze(
    repo: Annotated[str, typer.Argument(help="owner/name")],
    environment: Annotated[str, typer.Argument(help="the frozen environment")],
    user: Annotated[str, typer.Option("--as", help="your GitHub login")],
    reason: Annotated[str, typer.Option(help="why deployments may go out again")],
) -> None:
    """Lift the deploy freeze a regression set, before its incident issue is closed."""
    from gate.cli.watches import unfreeze as lift

    raise typer.Exit(lift(_database(), repo, environment, user.lstrip("@"), reason))


@app.command()
def outcomes(
    out: Annotated[Path, typer.Option(help="CSV (sha,rule,ref) for `gate label --outcomes`")],
    repo: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
) -> None:
    """The deployed changes that riskgate's watch found failure-causing: labels for training."""
    from gate.cli.watches import write_outcomes

    raise typer.Exit(write_outcomes(_database(), repo, out))


app.add_typer(jobs_app, name="jobs")

token_app = typer.Typer(help="API tokens: for CI jobs, approvers and admins.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    repo: Annotated[str | None, typer.Option(help="OWNER/NAME: the token's repository")] = None,
    admin: Annotated[
        bool, typer.Option(help="read every repository's assessments, decisions and reports")
    ] = False,
    user: Annotated[
        str | None, typer.Option(help="the GitHub login it acts for (approvals through the API)")
    ] = None,
    name: Annotated[str, typer.Option(help="what it is for, to revoke it by")] = "ci",
) -> None:
    """Print a new API token; it is shown once and stored only as a digest."""
    from gate.cli.tokens import create_command

    raise typer.Exit(create_command(_database(), repo, admin, user, name, sys.stdout))


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="the name it was created with")],
    repo: Annotated[str | None, typer.Option(help="OWNER/NAME")] = None,
    admin: Annotated[bool, typer.Option(help="revoke admin tokens of that name")] = False,
) -> None:
    """Revoke a repository's (or the admin) tokens of that name."""
    from gate.cli.tokens import revoke_command

    raise typer.Exit(revoke_command(_database(), repo, admin, name, sys.stdout))


def main() -> None:
    # xgboost's OpenMP threads spin-wait by default: on a busy 2-core machine a fit ran 20x slower
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()
