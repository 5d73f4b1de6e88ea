"""`gate jobs`: list jobs in a state, and `gate jobs retry` to queue failed ones again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # imported where used: `gate --help` stays quick
    from gate.store import Database

jobs_app = typer.Typer(
    help="The worker's jobs: list them (by state), queue failed ones again.",
    invoke_without_command=True,
)


@jobs_app.callback()
def list_jobs(
    ctx: typer.Context,
    state: Annotated[str, typer.Option(help="queued, running, done or failed")] = "failed",
    limit: int = 50,
) -> None:
    """List jobs in a state, with their last error."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy import select

    from gate.store import Job

    db = _database()
    with db.session() as session:
        rows = session.scalars(
            select(Job).where(Job.state == state).order_by(Job.id.desc()).limit(limit)
        ).all()
    table = Table("id", "kind", "args", "attempts", "last error")
    for job in rows:
        table.add_row(
            str(job.id),
            job.kind,
            json.dumps(job.args),
            str(job.attempts),
            (job.last_error or "")[:120],
        )
    Console().print(table)


@jobs_app.command("retry")
def retry(
    job_ids: Annotated[list[int] | None, typer.Argument(help="the jobs' ids")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="every failed job")] = False,
) -> None:
    """Queue jobs again from scratch (attempts, retry budget); the running worker takes them."""
    from gate.store import jobs as job_store

    if not job_ids and not failed:
        Console(stderr=True).print(
            "[red]error:[/red] name job ids, or --failed for all failed jobs"
        )
        raise typer.Exit(2)
    ids = job_store.requeue(_database(), job_ids or None, failed=failed)
    missing = sorted(set(job_ids or []) - set(ids))
    Console().print(
        f"queued again: {len(ids)} job(s)" + (f" {', '.join(map(str, ids))}" if ids else "")
    )
    if missing:
        Console(stderr=True).print(
            f"not queued (no such job, or it is running): {', '.join(map(str, missing))}"
        )
        raise typer.Exit(1)


def _database() -> Database:
    from gate.settings import SettingsError, load_settings
    from gate.store import Database

    try:
        db = Database(load_settings().database_url)
    except SettingsError as error:
        Console(stderr=True).print(f"[red]error:[/red] {error}", soft_wrap=True)
        raise typer.Exit(2) from None
    db.migrate()
    return db
