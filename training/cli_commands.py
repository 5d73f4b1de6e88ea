"""The training commands `gate` wires: mine, label, train, evaluate (and the public benchmark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from gate.features.history import DEFAULT_FIX_PATTERN
from gate.gitcmd import GitError
from gate.model import ModelError
from training.label import Outcome

console = Console()
errors = Console(stderr=True)


def _fail(message: str) -> int:
    errors.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return 2


def _log(message: str) -> None:
    errors.print(f"[dim]{message}[/dim]", soft_wrap=True, highlight=False)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def mine_command(repo: Path, out_path: Path, revisions: list[str] | None = None) -> int:
    """`gate mine`: every commit's feature row, oldest first, to Parquet."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from training.mine import mine

    rows = []
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=errors
        ) as progress:
            task = progress.add_task("mining", total=None)

            def report(stage: str, done: int) -> None:
                progress.update(task, description=f"{stage}: {done} commits")

            rows = list(mine(repo, revisions, progress=report))
    except GitError as error:
        return _fail(str(error))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(out_path, index=False)
    console.print(f"{len(rows)} changes mined to {out_path}")
    return 0


def read_outcomes(path: Path) -> list[Outcome]:
    """Rollbacks and incidents: a CSV with columns sha,rule[,ref] or a JSON list of objects."""
    if path.suffix == ".json":
        records = json.loads(path.read_text())
    else:
        records = pd.read_csv(path, dtype=str).fillna("").to_dict("records")
    return [Outcome(r["sha"], r["rule"], r.get("ref") or None) for r in records]


def label_command(
    repo: Path,
    features_path: Path,
    out_path: Path,
    *,
    fix_pattern: str | None = None,
    issue_pattern: str | None = None,
    ignore_revs: Path | None = None,
    max_fix_files: int | None = None,
    max_fix_lines: int | None = None,
    recent_days: int | None = None,
    outcomes_path: Path | None = None,
    jobs: int = 2,
) -> int:
    """`gate label`: the mined features plus bug / label_rules / labelled_until, to Parquet."""
    from training.label import label_table, summary
    from training.szz import MAX_FIX_FILES, MAX_FIX_LINES
    from training.train import TrainingError, read_table

    try:
        features = read_table(features_path)
        outcomes = read_outcomes(outcomes_path) if outcomes_path else []
        labelled = label_table(
            repo,
            features,
            fix_pattern=fix_pattern or DEFAULT_FIX_PATTERN,
            issue_pattern=issue_pattern,
            ignore_revs=ignore_revs,
            max_fix_files=max_fix_files if max_fix_files is not None else MAX_FIX_FILES,
            max_fix_lines=max_fix_lines if max_fix_lines is not None else MAX_FIX_LINES,
            recent_days=recent_days if recent_days is not None else 90,
            outcomes=outcomes,
            jobs=jobs,
        )
    except (TrainingError, GitError, ValueError, KeyError, OSError) as error:
        return _fail(str(error))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    labelled.to_parquet(out_path, index=False)
    table = Table("label", "changes")
    for key, count in summary(labelled).items():
        table.add_row(key.replace("_", " "), str(count))
    console.print(table)
    console.print(f"labelled table written to {out_path}")
    return 0


def train_command(
    table_path: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    hold_share: float | None = None,
    validation_share: float | None = None,
    test_share: float | None = None,
    search_configs: int | None = None,
    search_budget_s: float | None = None,
    as_json: bool = False,
) -> int:
    """`gate train`: fit, calibrate and threshold a model on a labelled table; write it."""
    from training.train import TrainConfig, TrainingError, train_model, with_overrides

    config = with_overrides(
        TrainConfig(seed=seed),
        hold_share=hold_share,
        validation_share=validation_share,
        test_share=test_share,
        search_configs=search_configs,
        search_budget_s=search_budget_s,
    )
    try:
        training = train_model(table_path, out_dir, config, log=_log)
    except (TrainingError, ModelError, OSError) as error:
        return _fail(str(error))
    if as_json:
        _print_json(training)
        return 0
    table = Table("part", "rows", "AUC", "PR-AUC", "Popt", "held", "failures held")
    for part in ("validation", "test"):
        figures = training["metrics"].get(part)
        if figures:
            table.add_row(
                part,
                str(figures["rows"]),
                *(
                    _cell(figures.get(key))
                    for key in ("auc_roc", "pr_auc", "popt", "held_share", "failures_caught_share")
                ),
            )
    console.print(table)
    console.print(f"model written to {out_dir} ({training['trees']} trees)")
    return 0


def evaluate_command(model_dir: Path, table_path: Path, out_dir: Path | None, as_json: bool) -> int:
    """`gate evaluate`: figures of a model on a labelled table; report.md and plots in out_dir."""
    from training.evaluate import evaluate, write_report
    from training.train import TrainingError, read_table

    try:
        figures, scored = evaluate(model_dir, read_table(table_path))
        if out_dir is not None:
            report = write_report(figures, scored, out_dir, str(table_path))
    except (TrainingError, ModelError, OSError) as error:
        return _fail(str(error))
    if as_json:
        _print_json(figures)
        return 0
    parts = [part for part in ("all", "out_of_time") if part in figures]
    table = Table("figure", *parts, title=f"model {figures['model_version']}")
    for key in (
        "rows",
        "auc_roc",
        "pr_auc",
        "recall_at_20_effort",
        "effort_at_20_recall",
        "popt",
        "brier",
        "ece",
        "held_share",
        "failures_caught_share",
    ):
        table.add_row(key, *(_cell(figures[part].get(key)) for part in parts))
    console.print(table)
    if out_dir is not None:
        console.print(f"report: {report}")
    return 0


def benchmark_command(
    data_dir: Path, as_json: bool, projects: list[str] | None = None, seed: int = 0
) -> int:
    """`gate evaluate --benchmark issta21 --data-dir DIR`: the paper's protocol, per project."""
    from training.benchmark import BEAT, BenchmarkConfig, run_issta21
    from training.issta21 import PROJECTS, DatasetError

    try:
        result = run_issta21(data_dir, projects or PROJECTS, BenchmarkConfig(seed=seed), log=_log)
    except DatasetError as error:
        return _fail(str(error))
    if as_json:
        _print_json(result)
        return 0
    table = Table("project", "AUC", *BEAT, "LR-JIT", "beats", title="ISSTA'21 JIT-DP, test AUC")
    for project, outcome in result["projects"].items():
        published = outcome["published"]
        table.add_row(
            project,
            _cell(outcome["auc"]),
            *(_cell(published[method]) for method in (*BEAT, "LR-JIT")),
            ", ".join(outcome["beats"]) or "-",
        )
    anchors = result["published_mean_auc"]
    table.add_row(
        "mean",
        _cell(result["mean_auc"]),
        *(_cell(anchors[method]) for method in (*BEAT, "LR-JIT")),
        "",
    )
    console.print(table)
    target = result["target"]
    console.print(
        f"target: mean AUC >= {target['mean_auc']} "
        f"({'met' if target['met'] else 'not met'}); every project above "
        f"{', '.join(BEAT)} ({'yes' if target['beaten_everywhere'] else 'no'})"
    )
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
