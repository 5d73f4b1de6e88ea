"""The training commands `gate` wires: mine, label, train, evaluate (and the public benchmark)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gate.cli.common import console, errors, print_error, wrapping_table
from gate.cli.training_inputs import fix_source, read_outcomes
from gate.features.history import DEFAULT_FIX_PATTERN
from gate.git.cmd import GitError
from gate.model.artifact import ModelError

if TYPE_CHECKING:
    from training.mine import Progress
    from training.train import TrainConfig


def _fail(message: str) -> int:
    print_error(message)
    return 2


def _log(message: str) -> None:
    errors.print(f"[dim]{message}[/dim]", soft_wrap=True, highlight=False)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


@contextmanager
def _mining_progress() -> Iterator[Progress]:
    """A bar per stage on stderr: commits done of the total, the rate, the time left (lines
    every few seconds where stderr is not a terminal)."""
    if not errors.is_terminal:
        from training.mine import ProgressLines

        yield ProgressLines(every=5.0)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("commits, {task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, refresh_per_second=4) as progress:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total, rate="-")
            task = progress.tasks[tasks[stage]]
            rate = f"{done / task.elapsed:,.0f}" if task.elapsed else "-"
            progress.update(tasks[stage], completed=done, total=total, rate=rate)

        yield report


def mine_command(repo: Path, out_path: Path, revisions: list[str] | None = None) -> int:
    """`gate mine`: every commit's feature row, oldest first, to Parquet."""
    from training.mine import mine

    rows = []
    try:
        with _mining_progress() as report:
            rows = list(mine(repo, revisions, progress=report))
    except GitError as error:
        return _fail(str(error))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(out_path, index=False)
    console.print(f"{len(rows)} changes mined to {out_path}")
    return 0


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
    issues_path: Path | None = None,
    issue_key: str | None = None,
    github_token: str | None = None,
    repository: str | None = None,
    bug_labels: str | None = None,
    jobs: int = 2,
    as_json: bool = False,
) -> int:
    """`gate label`: the mined features plus bug / label_rules / labelled_until / ripening_days
    / fix_source, to Parquet. Fixes from an issue export or GitHub's bug issues when given,
    else from message words."""
    from gate.github import GitHubError, GitHubUnavailable
    from gate.settings import SettingsError
    from training.label import label_table, summary
    from training.szz import MAX_FIX_FILES, MAX_FIX_LINES
    from training.train import TrainingError, read_table

    try:
        features = read_table(features_path)
        outcomes = read_outcomes(outcomes_path) if outcomes_path else []
        source = fix_source(
            repo,
            issues_path=issues_path,
            issue_key=issue_key,
            github_token=github_token,
            repository=repository,
            bug_labels=bug_labels,
        )
        labelled = label_table(
            repo,
            features,
            fix_pattern=fix_pattern or DEFAULT_FIX_PATTERN,
            issue_pattern=issue_pattern,
            fixes=source,
            ignore_revs=ignore_revs,
            max_fix_files=max_fix_files if max_fix_files is not None else MAX_FIX_FILES,
            max_fix_lines=max_fix_lines if max_fix_lines is not None else MAX_FIX_LINES,
            recent_days=recent_days,
            outcomes=outcomes,
            jobs=jobs,
        )
    except (
        TrainingError,
        GitError,
        GitHubError,
        GitHubUnavailable,
        SettingsError,
        ValueError,
        KeyError,
        OSError,
    ) as error:
        return _fail(str(error))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    labelled.to_parquet(out_path, index=False)
    if as_json:
        ripening, source = labelled.attrs.get("ripening", {}), _first(labelled, "fix_source")
        _print_json(
            {
                "table": str(out_path),
                "labels": summary(labelled),
                "fix_source": source,
                "ripening": ripening,
            }
        )
        return 0
    table = wrapping_table("label", "changes")
    for key, count in summary(labelled).items():
        table.add_row(key.replace("_", " "), str(count))
    console.print(table)
    console.print(f"fixes from: {_first(labelled, 'fix_source')}", soft_wrap=True)
    console.print(f"ripening: {_ripening_text(labelled.attrs.get('ripening', {}))}")
    console.print(f"labelled table written to {out_path}")
    return 0


def _first(table: pd.DataFrame, column: str) -> str:
    return str(table[column].iloc[0]) if len(table) else "n/a"


def _ripening_text(ripening: dict[str, Any]) -> str:
    days = ripening.get("days")
    if not ripening.get("learnt_from_pairs"):
        return f"the newest {days} days stay unlabelled"
    return (
        f"the newest {days} days stay unlabelled (the {ripening['quantile']:.0%} quantile of "
        f"{ripening['learnt_from_pairs']} fix delays)"
    )


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
    dask_scheduler: str | None = None,
) -> int:
    """`gate train`: fit, calibrate and threshold a model on a labelled table; write it.

    With a Dask scheduler, the cluster's workers read the table and XGBoost trains there.
    """
    from training.train import TrainConfig, TrainingError, train_model, with_overrides

    config = with_overrides(
        TrainConfig(seed=seed),
        hold_share=hold_share,
        validation_share=validation_share,
        test_share=test_share,
        search_configs=search_configs,
        search_budget_s=search_budget_s,
    )
    if dask_scheduler is not None and not _dask_installed():
        return _fail(DASK_MISSING)
    try:
        if dask_scheduler is None:
            training = train_model(table_path, out_dir, config, log=_log)
        else:
            from training.distributed import OnDask, dask_client, read_table

            frame = read_table(table_path)
            with dask_client(dask_scheduler) as client:
                backend = OnDask(client, frame)
                training = train_model(table_path, out_dir, config, log=_log, backend=backend)
    except (TrainingError, ModelError, OSError) as error:
        return _fail(str(error))
    if as_json:
        _print_json(training)
        return 0
    _print_training(training)
    console.print(f"model written to {out_dir} ({training['trees']} trees)")
    return 0


DASK_MISSING = "training on Dask needs the dask extra: pip install 'riskgate[dask]'"


def _dask_installed() -> bool:
    try:
        return all(importlib.util.find_spec(name) for name in ("distributed", "dask.dataframe"))
    except ModuleNotFoundError:  # dask.dataframe's parent, dask, is missing
        return False


def _print_training(training: dict[str, Any]) -> None:
    table = wrapping_table("part", "rows", "AUC", "PR-AUC", "Popt", "held", "failures held")
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


def train_repo_command(
    repo: Path,
    *,
    repository: str | None = None,
    out_dir: Path | None = None,
    promote: str = "auto",
    seed: int = 0,
    recent_days: int | None = None,
    outcomes_path: Path | None = None,
    issues_path: Path | None = None,
    issue_key: str | None = None,
    github_token: str | None = None,
    bug_labels: str | None = None,
    dask_scheduler: str | None = None,
    as_json: bool = False,
    config: TrainConfig | None = None,
) -> int:
    """`gate train --repo`: mine, label and train one repository's model; it goes into shadow
    beside the model the service uses now, and is promoted when it is better there."""
    from gate.github import GitHubError, GitHubUnavailable
    from gate.model.artifact import load_model
    from gate.model.registry import HistoryMinimum
    from gate.settings import SettingsError, load_settings
    from gate.store import Database
    from training.repo_model import (
        RepoTraining,
        label_history,
        mine_history,
        repository_name,
        train_labelled,
    )
    from training.shadow import PromotionRule
    from training.train import InMemory, TrainConfig, TrainingError

    if promote not in ("auto", "never"):
        return _fail(f"--promote must be auto or never, not {promote!r}")
    if dask_scheduler is not None and not _dask_installed():
        return _fail(DASK_MISSING)
    name = repository or repository_name(repo)
    if name is None:
        return _fail(
            f"{repo}: cannot tell its GitHub name from an origin remote; give --repository "
            "owner/name (the name the service knows it by)"
        )
    try:
        settings = load_settings()
        default_model = load_model(settings.model_path)
        options = RepoTraining(
            repository=name,
            model_root=settings.model_dir,
            minimum=HistoryMinimum(settings.repo_model_min_rows, settings.repo_model_min_failures),
            rule=PromotionRule(
                settings.promotion_min_window_failures, settings.promotion_min_auc_gain
            ),
            config=config or TrainConfig(seed=seed),
            out_dir=out_dir,
            promote="auto" if promote == "auto" else "never",
            recent_days=recent_days,
            outcomes=read_outcomes(outcomes_path) if outcomes_path else [],
            fixes=fix_source(
                repo,
                issues_path=issues_path,
                issue_key=issue_key,
                github_token=github_token,
                repository=name,
                bug_labels=bug_labels,
            ),
        )
        db = Database(settings.database_url)
        db.migrate()
        with _mining_progress() as report:
            head, table = mine_history(repo, name, report)
        labelled = label_history(repo, head, table, options)
        if dask_scheduler is None:
            result = train_labelled(labelled, head, db, default_model, options, InMemory, _log)
        else:
            from training.distributed import OnDask, dask_client, partitioned

            with dask_client(dask_scheduler) as client:
                result = train_labelled(
                    labelled,
                    head,
                    db,
                    default_model,
                    options,
                    lambda table: OnDask(client, partitioned(client, table)),
                    _log,
                )
        db.dispose()
    except (
        SettingsError,
        TrainingError,
        ModelError,
        GitError,
        GitHubError,
        GitHubUnavailable,
        OSError,
        KeyError,
        ValueError,
    ) as error:
        return _fail(str(error))
    if as_json:
        _print_json(
            {
                "repository": result.repository,
                "model_version": result.model_version,
                "path": str(result.path),
                "state": result.state,
                "shadow": result.verdict.to_json(),
                "labelled_history": {
                    "rows": result.labelled_rows,
                    "failures": result.labelled_failures,
                },
                "metrics": result.training["metrics"],
            }
        )
        return 0
    _print_training(result.training)
    verdict = result.verdict
    window = verdict.window
    table = wrapping_table(
        "model",
        "AUC",
        "PR-AUC",
        title=f"recent window: {window['rows']} changes, {window['failures']} failures",
    )
    for label, figures in (("new", verdict.candidate), ("current", verdict.current)):
        table.add_row(
            f"{label} {figures.model_version}"
            + (" (saw the window)" if figures.saw_window else ""),
            _cell(figures.auc_roc),
            _cell(figures.pr_auc),
        )
    console.print(table)
    console.print(f"{result.repository}: model {result.model_version} is {result.state}")
    console.print(f"  {verdict.reason}", soft_wrap=True)
    console.print(f"  written to {result.path}")
    return 0


def models_command(repository: str | None, as_json: bool) -> int:
    """`gate models`: every repository's models, promoted, in shadow or retired, with figures."""
    from gate.settings import SettingsError, load_settings
    from gate.store import Database
    from gate.store import repo_models as registry

    try:
        db = Database(load_settings().database_url)
    except SettingsError as error:
        return _fail(str(error))
    db.migrate()
    rows = registry.listing(db, repository)
    live = registry.live_shadow_scores(db, repository)
    db.dispose()
    listed = [
        {
            "repository": row.repository,
            "model_version": row.model_version,
            "state": row.state,
            "trained_at": row.trained_at.isoformat(),
            "promoted_at": row.promoted_at.isoformat() if row.promoted_at else None,
            "labelled_rows": row.labelled_rows,
            "labelled_failures": row.labelled_failures,
            "window": row.evaluation.get("window"),
            "new": row.evaluation.get("candidate"),
            "current": row.evaluation.get("current"),
            "reason": row.evaluation.get("reason"),
            "live_shadow_scores": live.get((row.repository, row.model_version), 0),
            "path": row.path,
        }
        for row in rows
    ]
    if as_json:
        _print_json(listed)
        return 0
    if not listed:
        console.print("No repository models: every repository uses the default model.")
        return 0
    table = wrapping_table(
        "repository", "model", "state", "trained", "changes (failures)", "window AUC", "live"
    )
    for entry in listed:
        new, current = entry["new"] or {}, entry["current"] or {}
        table.add_row(
            entry["repository"],
            entry["model_version"],
            entry["state"],
            entry["trained_at"][:10],
            f"{entry['labelled_rows']} ({entry['labelled_failures']})",
            f"{_cell(new.get('auc_roc'))} vs {_cell(current.get('auc_roc'))} "
            f"({current.get('model_version', '?')})",
            str(entry["live_shadow_scores"]),
        )
    console.print(table)
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
    table = wrapping_table("figure", *parts, title=f"model {figures['model_version']}")
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
    table = wrapping_table(
        "project", "AUC", *BEAT, "LR-JIT", "beats", title="ISSTA'21 JIT-DP, test AUC"
    )
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
