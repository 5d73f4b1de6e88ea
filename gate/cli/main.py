"""The `gate` command, assembled from its groups; `gate --help` lists them in this order."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from gate.cli import assess, deploys, jobs, policy, reports, service, tokens, training_commands
from gate.cli.common import print_error

app = typer.Typer(
    help="riskgate: gate changes by learned risk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(service.app)  # serve, worker
app.add_typer(assess.app)
app.add_typer(training_commands.app)  # mine, label, train, models, evaluate
app.add_typer(reports.app)  # audit, report
app.add_typer(deploys.app)  # pending, approve, reject, judge, watches, unfreeze, outcomes
service.jobs_app.command("retry")(jobs.retry)
app.add_typer(service.jobs_app, name="jobs")  # list; retry
app.add_typer(tokens.app, name="token")
app.add_typer(policy.app, name="policy")


@app.callback()
def options(
    debug: Annotated[
        bool, typer.Option("--debug", help="show the traceback of an unexpected error")
    ] = False,
) -> None:
    """riskgate: gate changes by learned risk."""
    if debug:
        os.environ["GATE_DEBUG"] = "1"


def _debugging() -> bool:
    return os.environ.get("GATE_DEBUG") == "1" or (
        os.environ.get("GATE_LOG_LEVEL", "").upper() == "DEBUG"
    )


def main() -> None:
    # xgboost's OpenMP threads spin-wait by default: on a busy 2-core machine a fit ran 20x slower
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except KeyboardInterrupt:
        print_error("interrupted")
        sys.exit(130)
    except Exception as error:  # the last line of defence: one line, not 60
        if _debugging():
            raise
        print_error(f"{type(error).__name__}: {error}".strip().splitlines()[0][:300])
        print_error("this is a bug or an unforeseen situation; --debug shows the traceback")
        sys.exit(1)


if __name__ == "__main__":
    main()
