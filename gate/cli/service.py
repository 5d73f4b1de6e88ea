"""`gate serve`, `gate worker` and `gate jobs`: run the service and look into its job queue."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gate.cli.common import console, errors, fail, open_database, settings, wrapping_table

JOB_STATES = ("queued", "running", "done", "failed")

app = typer.Typer()
# a group, so that actions on jobs (`gate jobs retry ID`) are commands of jobs_app; `gate jobs`
# alone lists them
jobs_app = typer.Typer()


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn processes")] = 1,
) -> None:
    """Run the webhook service and its worker."""
    import uvicorn

    from gate.model.artifact import ModelError, load_model
    from gate.settings import SettingsError

    configured = settings()
    try:
        configured.require_github_app()
        load_model(configured.model_path)  # a bad GATE_MODEL_PATH: one line here, not in uvicorn
    except SettingsError as error:
        raise fail(str(error)) from None
    except ModelError as error:
        raise fail(f"{error}; set GATE_MODEL_PATH to a model directory") from None
    if workers > 1:
        from gate.store import Database

        # once, here: N processes migrating one schema at the same moment collide
        db = Database(configured.database_url)
        db.migrate()
        db.dispose()
    uvicorn.run(
        "gate.app:serve_app", factory=True, host=host, port=port, workers=workers, log_config=None
    )


@app.command()
def worker(threads: Annotated[int, typer.Option(help="worker threads")] = 2) -> None:
    """Run only the job worker (pair with `gate serve` and GATE_WORKER_ENABLED=false).

    A separate process keeps the worker's CPU off the intake's event loop, which then answers
    GitHub's deliveries faster; several workers may run against one database.
    """
    import signal
    import threading

    from gate import logs
    from gate.app import build_services
    from gate.jobs import Worker
    from gate.settings import SettingsError

    configured = settings()
    try:
        logs.configure(configured.log_level, configured.log_json)
        services = build_services(configured)
    except SettingsError as error:
        raise fail(str(error)) from None
    running = Worker(services, threads=threads)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    running.start()
    errors.print(f"worker running with {threads} threads; Ctrl-C stops it")
    stopped.wait()
    running.stop()


@jobs_app.callback(invoke_without_command=True)
def jobs(
    context: typer.Context,
    state: Annotated[str, typer.Option(help="queued, running, done or failed")] = "failed",
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List jobs in a state, with what they work on and their last error."""
    if context.invoked_subcommand is not None:
        return
    if state not in JOB_STATES:
        raise fail(f"no job state {state!r}: give one of {', '.join(JOB_STATES)}")
    from gate.cli.jobs import job_rows

    rows = job_rows(open_database(), state, limit)
    if as_json:
        print(json.dumps(rows))
        return
    table = wrapping_table("id", "kind", "what", "attempts", "last error")
    for row in rows:
        table.add_row(
            str(row["id"]), row["kind"], row["what"], str(row["attempts"]), row["last_error"] or ""
        )
    console.print(table)
