"""The `gate` command, assembled from its groups; `gate --help` lists them in this order."""

from __future__ import annotations

import os

import typer

from gate.cli import assess, deploys, jobs, policy, reports, service, tokens, training_commands

app = typer.Typer(help="riskgate: gate changes by learned risk.", no_args_is_help=True)
app.add_typer(service.app)  # serve, worker
app.add_typer(assess.app)
app.add_typer(training_commands.app)  # mine, label, train, models, evaluate
app.add_typer(reports.app)  # audit, report
app.add_typer(deploys.app)  # pending, approve, reject, judge, watches, unfreeze, outcomes
service.jobs_app.command("retry")(jobs.retry)
app.add_typer(service.jobs_app, name="jobs")  # list; retry
app.add_typer(tokens.app, name="token")
app.add_typer(policy.app, name="policy")


def main() -> None:
    # xgboost's OpenMP threads spin-wait by default: on a busy 2-core machine a fit ran 20x slower
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()
