"""`gate policy check FILE`: validate a .github/risk-gate.yml offline, as the service would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The repository's .github/risk-gate.yml.", no_args_is_help=True)


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="a risk-gate.yml to validate")]) -> None:
    """Validate a policy file offline: 0 and a summary when valid, 1 and each error when not."""
    from gate.policy.check import check_file

    raise typer.Exit(check_file(file, sys.stdout, sys.stderr))
