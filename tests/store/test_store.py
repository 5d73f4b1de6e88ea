"""The store on SQLite and PostgreSQL: migrations and the append-only audit log."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, inspect, text, update
from sqlalchemy.exc import DBAPIError

from gate.store import AuditEntry, audit
from gate.store.db import MIGRATIONS_DIR, Database


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


def test_the_details_token_migration_gives_every_earlier_assessment_its_own_token(database_url):
    database = Database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
    with database.engine.begin() as connection:
        for _ in range(3):
            connection.execute(
                text(
                    "INSERT INTO assessments (kind, repository, base_sha, head_sha, features, "
                    "notes, reasons, created_at, updated_at) VALUES ('pr', 'o/r', 'a', 'b', "
                    "'{}', '[]', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
    database.migrate()
    with database.engine.begin() as connection:
        tokens = connection.execute(text("SELECT details_token FROM assessments")).scalars().all()
    assert len(tokens) == 3 and len(set(tokens)) == 3 and all(len(t) >= 43 for t in tokens)
    database.dispose()
