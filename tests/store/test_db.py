"""Migrations: alembic runs only when the schema is behind, and brings it to the head."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from gate.store import Database
from gate.store.db import MIGRATIONS_DIR, applied_revisions, head_revisions


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def test_the_heads_read_from_the_migration_files_are_alembics():
    assert head_revisions() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_a_new_database_is_migrated_to_the_head(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert applied_revisions(db.engine) == set()
    db.migrate()
    assert applied_revisions(db.engine) == head_revisions()
    assert "assessments" in inspect(db.engine).get_table_names()


def test_a_database_behind_the_head_is_brought_up_to_it(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
    assert applied_revisions(db.engine) == {"0007"}
    db.migrate()
    assert applied_revisions(db.engine) == head_revisions()
    columns = {column["name"] for column in inspect(db.engine).get_columns("jobs")}
    assert "failing_since" in columns  # added by 0008


def test_a_current_database_is_not_handed_to_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'current.db'}"
    Database(url).migrate()
    script = (
        "import sys\n"
        "from gate.store import Database\n"
        f"Database({url!r}).migrate()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, check=True
    )
    assert done.stdout.strip() == "False"
