"""`gate watches`, `gate unfreeze` and `gate outcomes`: the on-call engineer's view of the watch."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from sqlalchemy import select

from gate.cli.common import wrapping_table
from gate.deploys.judge.scenario import in_sli_words
from gate.deploys.rollback import lift_freezes
from gate.store import watches
from gate.store.db import Database
from gate.store.tables import AuditEntry, ServiceFreeze, Watch

OUTCOME_ACTIONS = ("outcome.rollback", "outcome.regression")


def list_watches(db: Database, repository: str | None, out: TextIO, as_json: bool = False) -> int:
    if as_json:
        return _list_json(db, repository, out)
    table = wrapping_table("watch", "deployment", "repository", "commit", "state", "looks", "why")
    for watch in watches.recent(db, repository):
        table.add_row(
            str(watch.id),
            f"{watch.deployment_id} -> {watch.environment}",
            watch.repository,
            watch.sha[:10],
            _state(watch),
            str(watch.looks),
            _headline(watch),
        )
    with db.session() as session:
        frozen = list(
            session.scalars(select(ServiceFreeze).where(ServiceFreeze.lifted_at.is_(None)))
        )
    console = Console(file=out)
    console.print(table)
    for freeze in frozen:
        issue = f" (incident #{freeze.incident_issue})" if freeze.incident_issue else ""
        console.print(
            f"frozen: {freeze.repository} {freeze.environment}/{freeze.service}{issue}: "
            f"{freeze.reason}"
        )
    return 0


def _list_json(db: Database, repository: str | None, out: TextIO) -> int:
    with db.session() as session:
        frozen = list(
            session.scalars(select(ServiceFreeze).where(ServiceFreeze.lifted_at.is_(None)))
        )
    listed = {
        "watches": [
            {
                "id": w.id,
                "deployment_id": w.deployment_id,
                "environment": w.environment,
                "repository": w.repository,
                "sha": w.sha,
                "state": _state(w),
                "looks": w.looks,
                "why": _headline(w),
            }
            for w in watches.recent(db, repository)
        ],
        "freezes": [
            {
                "repository": f.repository,
                "environment": f.environment,
                "service": f.service,
                "incident_issue": f.incident_issue,
                "reason": f.reason,
            }
            for f in frozen
            if repository is None or f.repository == repository
        ],
    }
    json.dump(listed, out)
    out.write("\n")
    return 0


def show_watch(db: Database, watch_id: int, scenario: bool, out: TextIO) -> int:
    """The verdict and actions as JSON; with scenario, what `gate judge` replays."""
    watch = watches.get(db, watch_id)
    if watch is None:
        out.write(f"no watch {watch_id}\n")
        return 1
    if scenario:
        if watch.evidence is None:
            out.write(f"watch {watch_id} has not looked at any data yet\n")
            return 1
        json.dump(in_sli_words(watch.evidence), out, indent=1)
    else:
        json.dump(
            {
                "id": watch.id,
                "deployment_id": watch.deployment_id,
                "repository": watch.repository,
                "environment": watch.environment,
                "sha": watch.sha,
                "last_good_sha": watch.last_good_sha,
                "state": watch.state,
                "deployed_at": watch.deployed_at.isoformat(),
                "ends_at": watch.ends_at.isoformat(),
                "looks": watch.looks,
                "verdict": watch.verdict,
                "actions": watch.actions,
                "incident_issue": watch.incident_issue,
                "restored_at": _iso(watch.restored_at),
                "last_error": watch.last_error,
            },
            out,
            indent=2,
        )
    out.write("\n")
    return 0


def unfreeze(db: Database, repository: str, environment: str, user: str, reason: str) -> int:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        _say(f"error: {repository!r} is not a repository: give OWNER/NAME")
        return 2
    lifted = lift_freezes(
        db, repository, environment=environment, by=user, reason=f"lifted by {user}: {reason}"
    )
    if not lifted:
        _say(f"no freeze of {repository} {environment} is in force (gate watches lists them)")
        return 1
    print(f"lifted {lifted} freeze(s) of {repository} {environment}")
    return 0


def write_outcomes(db: Database, repository: str | None, path: Path) -> int:
    """The changes the watch found failure-causing, as `gate label --outcomes` reads them."""
    query = select(AuditEntry).where(AuditEntry.action.in_(OUTCOME_ACTIONS)).order_by(AuditEntry.id)
    if repository:
        query = query.where(AuditEntry.repository == repository)
    with db.session() as session:
        entries = list(session.scalars(query))
    if not path.parent.is_dir():
        _say(f"error: cannot write {path}: no directory {path.parent} (create it or change --out)")
        return 2
    rows = 0
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["sha", "rule", "ref"])
        for entry in entries:
            rule = "rollback" if entry.action == "outcome.rollback" else "incident"
            for sha in entry.details.get("shas", []):
                writer.writerow([sha, rule, entry.details.get("ref", "")])
                rows += 1
    print(f"{rows} failure-causing change(s) from {len(entries)} regression(s) written to {path}")
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _state(watch: Watch) -> str:
    if watch.state == "regressed":
        done = watch.actions.get("rollback", {})
        return "regressed, rolled back" if done.get("how") not in (None, "none") else "regressed"
    return watch.state


def _headline(watch: Watch) -> str:
    metrics = (watch.verdict or {}).get("metrics", [])
    worst = [m for m in metrics if m["verdict"] == "regressed"] or [
        m for m in metrics if m["verdict"] != "healthy"
    ]
    return worst[0]["explanation"][:90] if worst else ""


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
