"""`gate jobs retry`: queue failed jobs again (`gate jobs` itself lists them, in service.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported where used: `gate --help` stays quick
    from gate.store import Database


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
