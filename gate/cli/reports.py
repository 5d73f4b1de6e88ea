"""`gate audit` and `gate report`: a repository's audit trail and its autonomy report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gate.cli.common import open_database, require_extra

app = typer.Typer()


@app.command()
def audit(
    repo: Annotated[str, typer.Option(help="owner/name")],
    since: Annotated[str | None, typer.Option(help="ISO date or time (UTC unless given)")] = None,
) -> None:
    """The audit trail of a repository, as a readable timeline."""
    from gate.reports.audit import audit_command

    raise typer.Exit(audit_command(open_database(), repo, since, sys.stdout))


@app.command()
def report(
    repo: Annotated[str, typer.Option(help="owner/name")],
    since: Annotated[str, typer.Option(help="ISO date or time (UTC unless given)")],
    until: Annotated[str | None, typer.Option(help="end, exclusive (default: now)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write the weekly trend as a PNG")] = None,
) -> None:
    """The autonomy report: what passed by itself, what was held, overrides, time held."""
    if plot is not None:
        require_extra(("matplotlib",))
    from gate.reports.autonomy.command import report_command

    raise typer.Exit(report_command(open_database(), repo, since, until, as_json, plot, sys.stdout))
