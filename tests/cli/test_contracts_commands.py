"""Tokens, jobs, watches, freezes and outcomes as a user runs them: the console script in a
subprocess, its exit code and output, and a short message for each wrong input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gate.store import Database
from gate.store.tokens import token_owner
from tests.cli.contract import assert_clear_error, env_for
from tests.conftest import gate


@pytest.mark.covers("token create --repo --user --name", "token revoke --repo")
def test_a_repository_token_is_shown_once_and_revoked_by_its_unique_name(tmp_path: Path):
    env = env_for(tmp_path)
    args = ("token", "create", "--repo", "octo-org/shop", "--user", "@alice", "--name", "release")
    done = gate(*args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("rg_") and len(done.stdout.splitlines()) == 1
    assert "shown once" in done.stderr and "gate token revoke release --repo octo-org/shop" in (
        done.stderr
    )
    db = Database(env["GATE_DATABASE_URL"])
    assert token_owner(db, token) == ("octo-org/shop", "alice")

    again = gate(*args, cwd=tmp_path, env=env)
    assert_clear_error(again, 2, "'release' exists", "--name", max_lines=1)
    assert token_owner(db, token) is not None

    other = gate(
        "token", "create", "--repo", "octo-org/web", "--name", "release", cwd=tmp_path, env=env
    )
    assert other.returncode == 0, other.stderr  # names are per repository

    revoked = gate("token", "revoke", "release", "--repo", "octo-org/shop", cwd=tmp_path, env=env)
    assert revoked.returncode == 0 and "revoked 1 token(s)" in revoked.stdout
    assert token_owner(db, token) is None
    assert token_owner(db, other.stdout.strip()) is not None
    db.dispose()


@pytest.mark.covers("token create --admin --name", "token revoke --admin")
def test_an_admin_token_and_bad_requests(tmp_path: Path):
    env = env_for(tmp_path)
    done = gate("token", "create", "--admin", "--name", "ops", cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stdout.startswith("rg_"), done.stderr
    assert_clear_error(gate("token", "create", cwd=tmp_path, env=env), 2, "--repo", "--admin")
    assert_clear_error(
        gate("token", "create", "--repo", "shop", cwd=tmp_path, env=env), 2, "OWNER/NAME"
    )
    assert_clear_error(
        gate("token", "create", "--admin", "--user", "bob", cwd=tmp_path, env=env), 2, "--user"
    )
    revoked = gate("token", "revoke", "ops", "--admin", cwd=tmp_path, env=env)
    assert revoked.returncode == 0 and "revoked 1" in revoked.stdout
    nothing = gate("token", "revoke", "ops", "--admin", cwd=tmp_path, env=env)
    assert nothing.returncode == 1 and "revoked 0" in nothing.stdout


@pytest.mark.covers("outcomes --out")
def test_outcomes_are_written_as_label_reads_them_and_a_bad_path_is_one_line(tmp_path: Path):
    env = env_for(tmp_path)
    out = tmp_path / "outcomes.csv"
    done = gate("outcomes", "--out", str(out), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert next(csv.reader(out.open())) == ["sha", "rule", "ref"]
    missing = gate("outcomes", "--out", "/nonexistent/dir/x.csv", cwd=tmp_path, env=env)
    assert_clear_error(missing, 2, "/nonexistent/dir", "--out", max_lines=1)


@pytest.mark.covers("unfreeze", "watches --scenario", "watches")
def test_unfreeze_and_watches_refuse_what_does_not_exist(tmp_path: Path):
    env = env_for(tmp_path)
    args = ("--as", "alice", "--reason", "fixed")
    assert_clear_error(
        gate("unfreeze", "notrepo", "production", *args, cwd=tmp_path, env=env), 2, "OWNER/NAME"
    )
    none = gate("unfreeze", "octo-org/shop", "production", *args, cwd=tmp_path, env=env)
    assert_clear_error(none, 1, "no freeze", "gate watches")
    listed = gate("watches", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and "watch" in listed.stdout, listed.stderr
    listed_json = gate("watches", "--json", cwd=tmp_path, env=env)
    assert listed_json.returncode == 0 and json.loads(listed_json.stdout) == {
        "watches": [],
        "freezes": [],
    }
    unknown = gate("watches", "99", "--scenario", cwd=tmp_path, env=env)
    assert unknown.returncode == 1 and "no watch 99" in unknown.stdout + unknown.stderr


@pytest.mark.covers("jobs", "jobs --state", "jobs retry")
def test_jobs_as_json_and_retry_without_ids(tmp_path: Path):
    env = env_for(tmp_path)
    listed = gate("jobs", "--state", "queued", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
    assert_clear_error(gate("jobs", "retry", cwd=tmp_path, env=env), 2, "--failed")


@pytest.mark.covers("pending", "approve --as --reason", "reject --as --reason")
def test_pending_as_json_and_votes_on_nothing(tmp_path: Path, app_key: tuple[str, str]):
    env = env_for(tmp_path)
    done = gate("pending", "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0 and json.loads(done.stdout) == [], done.stderr
    app = {"GATE_APP_ID": "1", "GATE_PRIVATE_KEY": app_key[0], "GATE_WEBHOOK_SECRET": "s"}
    for verdict in ("approve", "reject"):
        voted = gate(
            verdict, "7", "--as", "alice", "--reason", "x", cwd=tmp_path, env={**env, **app}
        )
        assert_clear_error(voted, 1, "no deployment 7", max_lines=1)


@pytest.mark.covers("judge")
def test_judge_refuses_a_file_that_is_not_a_scenario(tmp_path: Path):
    (tmp_path / "s.json").write_text('{"metrics": 3}')
    assert_clear_error(gate("judge", "s.json", cwd=tmp_path), 2, "s.json")


@pytest.mark.covers("policy check")
def test_policy_check_of_a_missing_file(tmp_path: Path):
    assert_clear_error(gate("policy", "check", "nope.yml", cwd=tmp_path), 2, "nope.yml")


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(tmp_path: Path):
    # a database in a directory that does not exist: nothing anticipates it but the last line
    env = {"GATE_DATABASE_URL": "sqlite:////nonexistent/dir/gate.db"}
    done = gate("pending", cwd=tmp_path, env=env)
    assert_clear_error(done, 1, "--debug")
    debug = gate("--debug", "pending", cwd=tmp_path, env=env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    logged = gate("pending", cwd=tmp_path, env={**env, "GATE_LOG_LEVEL": "DEBUG"})
    assert "Traceback" in logged.stderr


@pytest.mark.covers("jobs --state")
def test_a_table_wraps_to_a_narrow_terminal_and_cuts_nothing(tmp_path: Path):
    from gate.store.tables import Job

    env = {**env_for(tmp_path), "COLUMNS": "60"}
    db = Database(env["GATE_DATABASE_URL"])
    db.migrate()
    error = "GitHub answered 502 Bad Gateway for POST /repos/octo-org/shop/check-runs " * 2
    with db.session() as session:
        session.add(Job(kind="process_delivery", state="failed", attempts=5, last_error=error))
    db.dispose()
    done = gate("jobs", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 60
    assert "…" not in done.stdout
    cells = "".join(
        line.split("│")[-2].strip() for line in done.stdout.splitlines() if line.count("│") >= 6
    )
    assert error.replace(" ", "")[:200] in cells.replace(" ", "")
