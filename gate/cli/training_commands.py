"""The training group: `gate mine`, `label`, `train`, `models` and `evaluate`.

Their work is in gate/cli/training.py, imported when a command runs: it needs pandas (and the
training packages), which `gate --help` and the other commands should not pay for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gate.cli.common import console, fail, require_extra

app = typer.Typer()


@app.command()
def mine(
    repo: Annotated[Path, typer.Option(help="a local git repository")],
    out: Annotated[Path, typer.Option(help="the feature table to write (Parquet)")],
) -> None:
    """Every commit's feature vector, exactly as the service computes it, to a Parquet table."""
    require_extra()
    from gate.cli.training import mine_command

    raise typer.Exit(mine_command(repo, out))


@app.command()
def label(
    repo: Annotated[Path, typer.Option(help="the repository the table was mined from")],
    features: Annotated[Path, typer.Option(help="the mined feature table")],
    out: Annotated[Path, typer.Option(help="the labelled table to write")],
    fix_pattern: Annotated[str | None, typer.Option(help="regex of bug-fix messages")] = None,
    issue_pattern: Annotated[
        str | None, typer.Option(help="without --issues: any key it matches marks a fix")
    ] = None,
    ignore_revs: Annotated[Path | None, typer.Option(help="reformatting commits to skip")] = None,
    max_fix_files: Annotated[int | None, typer.Option(help="skip larger fixes")] = None,
    recent_days: Annotated[
        int | None, typer.Option(help="leave the newest days unlabelled (default: learnt)")
    ] = None,
    outcomes: Annotated[Path | None, typer.Option(help="rollbacks/incidents (CSV or JSON)")] = None,
    issues: Annotated[Path | None, typer.Option(help=ISSUES_HELP)] = None,
    issue_key: Annotated[str | None, typer.Option(help=ISSUE_KEY_HELP)] = None,
    github_token: GitHubToken = None,
    repository: Annotated[
        str | None, typer.Option(help="with a token: owner/name (default: origin remote)")
    ] = None,
    bug_labels: Annotated[str | None, typer.Option(help=BUG_LABELS_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Which changes later caused failures: SZZ on bug fixes (from an issue export or GitHub's
    bug issues; message words without either), reverts, rollbacks and incidents."""
    require_extra()
    from gate.cli.training import label_command

    raise typer.Exit(
        label_command(
            repo,
            features,
            out,
            fix_pattern=fix_pattern,
            issue_pattern=issue_pattern,
            ignore_revs=ignore_revs,
            max_fix_files=max_fix_files,
            recent_days=recent_days,
            outcomes_path=outcomes,
            issues_path=issues,
            issue_key=issue_key,
            github_token=github_token,
            repository=repository,
            bug_labels=bug_labels,
            as_json=as_json,
        )
    )


ISSUES_HELP = "issue export (CSV/JSON, key and type columns): fixes name its Bug keys"
ISSUE_KEY_HELP = "regex of issue keys in messages (default: from the export's keys)"
BUG_LABELS_HELP = "with a token: comma-separated bug label names (bug, type: bug, kind/bug, ...)"
GitHubToken = Annotated[
    str | None,
    typer.Option(
        envvar="GATE_GITHUB_TOKEN",
        show_envvar=True,
        help="read bug-labelled issues and their closing PRs/commits from GitHub",
    ),
]


@app.command()
def train(
    table: Annotated[Path | None, typer.Argument(help="a labelled table (Parquet)")] = None,
    repo: Annotated[
        Path | None,
        typer.Option(help="train this repository's own model: mine, label, train, judge in shadow"),
    ] = None,
    repository: Annotated[
        str | None, typer.Option(help="with --repo: owner/name (default: from its origin remote)")
    ] = None,
    promote: Annotated[
        str, typer.Option(help="with --repo: auto (when better on the recent window) or never")
    ] = "auto",
    recent_days: Annotated[
        int | None,
        typer.Option(help="with --repo: leave the newest days unlabelled (default: learnt)"),
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="with --repo: rollbacks/incidents (CSV or JSON)")
    ] = None,
    issues: Annotated[Path | None, typer.Option(help=f"with --repo: {ISSUES_HELP}")] = None,
    issue_key: Annotated[str | None, typer.Option(help=ISSUE_KEY_HELP)] = None,
    github_token: GitHubToken = None,
    bug_labels: Annotated[str | None, typer.Option(help=BUG_LABELS_HELP)] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="where to write the model (default: ./model; with --repo "
            "GATE_MODEL_DIR/OWNER/NAME/VERSION; bundled: data/models/default)"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="retrain the bundled model from a directory of labelled tables, one per "
            "repository (gate mine, then gate label)"
        ),
    ] = None,
    dask_scheduler: Annotated[
        str | None,
        typer.Option(help="train on this Dask cluster (tcp://HOST:8786) with xgboost.dask"),
    ] = None,
    seed: int = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Train, calibrate and threshold an XGBoost model: on a labelled table, on one repository's
    history (--repo), or the bundled one (--data-dir)."""
    require_extra()
    if data_dir is not None:
        from training.bundle import train_default_model
        from training.train import TrainingError

        try:
            figures = train_default_model(data_dir, out or Path("data/models/default"), seed=seed)
        except TrainingError as error:
            raise fail(str(error)) from None
        except OSError as error:
            raise fail(f"--data-dir {data_dir}: {error}") from None
        console.print_json(json.dumps(figures, default=str))
        return
    from gate.cli.training import train_command, train_repo_command

    if repo is not None:
        raise typer.Exit(
            train_repo_command(
                repo,
                repository=repository,
                out_dir=out,
                promote=promote,
                seed=seed,
                recent_days=recent_days,
                outcomes_path=outcomes,
                issues_path=issues,
                issue_key=issue_key,
                github_token=github_token,
                bug_labels=bug_labels,
                dask_scheduler=dask_scheduler,
                as_json=as_json,
            )
        )
    if table is None:
        raise fail(
            "give a labelled table, --repo to train a repository's model, or --data-dir to "
            "retrain the bundled model"
        )
    raise typer.Exit(
        train_command(
            table, out or Path("model"), seed=seed, as_json=as_json, dask_scheduler=dask_scheduler
        )
    )


@app.command()
def models(
    repository: Annotated[str | None, typer.Option(help="owner/name (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Repositories' own models: promoted, in shadow or retired, and how they compared."""
    from gate.cli.training import models_command

    raise typer.Exit(models_command(repository, as_json))


@app.command()
def evaluate(
    model: Annotated[Path | None, typer.Option(help="a model directory")] = None,
    table: Annotated[Path | None, typer.Option(help="a labelled table to evaluate on")] = None,
    out: Annotated[
        Path | None, typer.Option(help="write the report (Markdown + PNGs) here")
    ] = None,
    benchmark: Annotated[str | None, typer.Option(help="issta21: the published protocol")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="the benchmark's data")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Evaluate a model (AUC, effort-aware metrics, calibration, plots), or run the benchmark."""
    require_extra()
    from gate.cli.training import benchmark_command, evaluate_command

    if benchmark is not None:
        if benchmark != "issta21" or data_dir is None:
            raise fail("--benchmark issta21 needs --data-dir")
        raise typer.Exit(benchmark_command(data_dir, as_json))
    if model is None or table is None:
        raise fail("give --model and --table, or --benchmark issta21 --data-dir DIR")
    raise typer.Exit(evaluate_command(model, table, out, as_json))
