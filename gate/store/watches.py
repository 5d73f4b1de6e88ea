"""Post-deploy watches: listing them, and closing an incident's clock when service is restored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from gate.store import audit
from gate.store.db import Database
from gate.store.tables import Watch


def get(db: Database, watch_id: int) -> Watch | None:
    with db.session() as session:
        return session.get(Watch, watch_id)


def load(db: Database, watch_id: int) -> Watch:
    """A watch the caller knows exists (it holds its id from the store)."""
    watch = get(db, watch_id)
    if watch is None:
        raise LookupError(f"watch {watch_id} is not in the store")
    return watch


def regressed_services(watch: Watch) -> set[str]:
    """The services whose SLIs the verdict found regressed (empty: SLIs of no one service)."""
    regressed = {
        m["name"] for m in (watch.verdict or {}).get("metrics", []) if m["verdict"] == "regressed"
    }
    return {
        m["service"]
        for m in watch.plan.get("metrics", [])
        if m["name"] in regressed and m.get("service")
    }


def incidents_by_service(db: Database, repository: str, since: datetime) -> dict[str, int]:
    """Regressions found since `since`, per service; "*" counts those of no one service."""
    with db.session() as session:
        found = session.scalars(
            select(Watch).where(
                Watch.repository == repository,
                Watch.state == "regressed",
                Watch.deployed_at >= since,
            )
        ).all()
    counts: dict[str, int] = {}
    for watch in found:
        for service in regressed_services(watch) or {"*"}:
            counts[service] = counts.get(service, 0) + 1
    return counts


def subject(watch: Watch) -> str:
    """How the audit log names the deployment a watch is about."""
    return f"{watch.environment} deployment {watch.deployment_id}"


def recent(db: Database, repository: str | None = None, limit: int = 50) -> list[Watch]:
    query = select(Watch).order_by(Watch.id.desc()).limit(limit)
    if repository:
        query = query.where(Watch.repository == repository)
    with db.session() as session:
        return list(session.scalars(query))


def mark_restored(db: Database, repository: str, environment: str, at: datetime) -> int:
    """A successful deploy after a regression restores service: time to restore ends here."""
    with db.session() as session:
        open_incidents = list(
            session.scalars(
                select(Watch).where(
                    Watch.repository == repository,
                    Watch.environment == environment,
                    Watch.state == "regressed",
                    Watch.restored_at.is_(None),
                    Watch.deployed_at < at,
                )
            )
        )
        for watch in open_incidents:
            watch.restored_at = at
        restored = [
            (w.id, w.deployment_id, (at - w.deployed_at).total_seconds()) for w in open_incidents
        ]
    for watch_id, deployment_id, seconds in restored:
        audit.record(
            db,
            actor="riskgate",
            action="deployment.restored",
            reason=f"a successful deploy to {environment} restored service "
            f"{seconds / 60:.0f} min after the regressed deploy",
            repository=repository,
            subject=f"{environment} deployment {deployment_id}",
            details={"watch_id": watch_id, "time_to_restore_seconds": seconds},
        )
    return len(restored)
