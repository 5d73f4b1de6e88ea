"""The store on SQLite and PostgreSQL: migrations and the append-only audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, inspect, update
from sqlalchemy.exc import DBAPIError

from gate.store import AuditEntry, audit


def test_migrations_create_every_table_and_are_idempotent(db):
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"deliveries", "jobs", "assessments", "audit_log", "alembic_version"} <= tables


def test_audit_log_refuses_updates_and_deletes(db):
    entry_id = audit.record(db, actor="riskgate", action="status.create", reason="low risk")
    with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
        session.execute(update(AuditEntry).values(reason="rewritten"))
    with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
        session.execute(delete(AuditEntry))
    (entry,) = audit.entries(db)
    assert (entry.id, entry.reason) == (entry_id, "low risk")
    assert entry.at.tzinfo is not None
