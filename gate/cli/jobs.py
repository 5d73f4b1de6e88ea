"""`gate jobs retry`: queue failed jobs again (`gate jobs` itself lists them, in service.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

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


def job_rows(db: Database, state: str, limit: int) -> list[dict[str, Any]]:
    """Jobs in a state, newest first, each with what it works on in words."""
    from sqlalchemy import select

    from gate.store import Job
    from gate.store.tables import Delivery

    with db.session() as session:
        jobs = session.scalars(
            select(Job).where(Job.state == state).order_by(Job.id.desc()).limit(limit)
        ).all()
        deliveries = {
            d.id: d
            for d in session.scalars(
                select(Delivery).where(
                    Delivery.id.in_({j.delivery_pk for j in jobs if j.delivery_pk})
                )
            )
        }
    return [
        {
            "id": job.id,
            "kind": job.kind,
            "what": _what(job.args, deliveries.get(job.delivery_pk or 0)),
            "args": job.args,
            "attempts": job.attempts,
            "last_error": (job.last_error or "")[:300] or None,
        }
        for job in jobs
    ]


def _what(args: dict[str, Any], delivery: Any) -> str:
    """`octo-org/shop pull_request.opened #12` for a delivery's job; `deployment 7` otherwise."""
    if delivery is None:
        return ", ".join(f"{key.removesuffix('_id')} {value}" for key, value in args.items())
    event = delivery.event + (f".{delivery.action}" if delivery.action else "")
    try:
        payload = json.loads(delivery.payload)
    except ValueError:
        payload = {}
    number = payload.get("number") or (payload.get("pull_request") or {}).get("number")
    if number is None:
        number = (payload.get("issue") or {}).get("number")
    return " ".join(
        part for part in (delivery.repository or "", event, f"#{number}" if number else "") if part
    )
