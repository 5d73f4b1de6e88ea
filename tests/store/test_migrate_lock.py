"""Migrations under concurrency: processes migrating one new database take turns."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path


def _migrate_at(url: str, start: float) -> str:
    from gate.store import Database

    while time.time() < start:  # all four reach CREATE TABLE together
        pass
    try:
        Database(url).migrate()
    except Exception as error:  # what the test reports: the collision's message
        return f"{type(error).__name__}: {str(error)[:120]}"
    return "ok"


def test_four_processes_migrating_a_new_sqlite_database_at_once_all_succeed(tmp_path: Path):
    # without the lock, 3 of 4 failed on every try: "table deliveries already exists"
    context = multiprocessing.get_context("spawn")
    for attempt in range(2):
        url = f"sqlite:///{tmp_path / f'new{attempt}.db'}"
        with context.Pool(4) as pool:
            start = time.time() + 3  # after the pool's processes have imported gate
            outcomes = pool.starmap(_migrate_at, [(url, start)] * 4)
        assert outcomes == ["ok"] * 4
