"""`gate train --repo`: mine, label and train one repository's model, judge it in shadow beside
the model the service uses now, register it, and promote it when it is better."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import xgboost as xgb

import gate
from gate.git.cmd import resolve
from gate.model.artifact import RiskModel, load_model
from gate.model.registry import HistoryMinimum, ModelRegistry
from gate.policy.repo_config import repo_services
from gate.store import audit
from gate.store import repo_models as registry
from gate.store.db import Database
from training.fixes import FixSource
from training.label import Outcome, label_table, summary
from training.mine import Progress, mine
from training.shadow import PromotionRule, ShadowVerdict, compare
from training.train import (
    LABEL,
    Backend,
    InMemory,
    Log,
    TrainConfig,
    TrainingError,
    chronological_split,
    labelled_rows,
    train_with,
    write_artifact,
)

ACTOR = "gate train"
IGNORE_REVS_FILE = ".git-blame-ignore-revs"  # the name GitHub's blame view honours too
REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

Promote = Literal["auto", "never"]
BackendFor = Callable[[pd.DataFrame], Backend[Any]]


@dataclass(frozen=True)
class RepoTraining:
    repository: str  # owner/name, as GitHub names it: the key the service looks models up by
    model_root: Path  # GATE_MODEL_DIR
    minimum: HistoryMinimum
    rule: PromotionRule = field(default_factory=PromotionRule)
    config: TrainConfig = field(default_factory=TrainConfig)
    out_dir: Path | None = None  # default: <model_root>/<owner>/<name>/<version>
    promote: Promote = "auto"
    recent_days: float | None = None  # None: learnt from the repository's own fix delays
    outcomes: Sequence[Outcome] = field(default_factory=list)
    fixes: FixSource | None = None  # an issue export or GitHub's bug issues; None: message words


@dataclass(frozen=True)
class RepoModelResult:
    repository: str
    model_version: str
    path: Path
    state: str  # promoted | shadow
    verdict: ShadowVerdict
    labelled_rows: int
    labelled_failures: int
    training: dict[str, Any]


def _quiet(_message: str) -> None:
    pass


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def train_repository(
    repo: Path,
    db: Database,
    default_model: RiskModel,
    options: RepoTraining,
    *,
    backend_for: BackendFor = InMemory,
    log: Log = _quiet,
    progress: Progress = _no_progress,
    show_progress: bool = True,
) -> RepoModelResult:
    """Train `repo`'s model; it goes into shadow, and is promoted when better (and allowed)."""
    head, table = mine_history(repo, options.repository, progress)
    log(f"mined {len(table)} changes")
    labelled = label_history(repo, head, table, options, show_progress)
    return train_labelled(labelled, head, db, default_model, options, backend_for, log)


def mine_history(
    repo: Path, repository: str, progress: Progress = _no_progress
) -> tuple[str, pd.DataFrame]:
    """HEAD and the feature row of every commit up to it, with the repository's own services
    map at HEAD, as the service computes them."""
    if not REPOSITORY_NAME.match(repository):
        raise TrainingError(f"{repository!r} is not an owner/name repository name")
    head = resolve(repo, "HEAD")
    if head is None:
        raise TrainingError(f"{repo}: no commits (is it a git repository?)")
    services, _notes = repo_services(repo, head)
    return head, pd.DataFrame(mine(repo, [head], services=services, progress=progress))


def label_history(
    repo: Path, head: str, table: pd.DataFrame, options: RepoTraining, show_progress: bool = True
) -> pd.DataFrame:
    ignore_revs = repo / IGNORE_REVS_FILE
    return label_table(
        repo,
        table,
        ignore_revs=ignore_revs if ignore_revs.is_file() else None,
        fixes=options.fixes,
        recent_days=options.recent_days,
        outcomes=options.outcomes,
        revisions=[head],
        show_progress=show_progress,
    )


def train_labelled(
    labelled: pd.DataFrame,
    head: str,
    db: Database,
    default_model: RiskModel,
    options: RepoTraining,
    backend_for: BackendFor = InMemory,
    log: Log = _quiet,
) -> RepoModelResult:
    """Train on the labelled history, compare in shadow, write the model and register it."""
    rows = labelled_rows(labelled)
    failures = int(rows[LABEL].sum())
    log(f"labelled {len(rows)} changes, {failures} of them failures")
    if not options.minimum.met_by(len(rows), failures):
        raise TrainingError(
            f"{options.repository} has {len(rows)} labelled changes and {failures} failures; "
            f"its own model needs at least {options.minimum.rows} and "
            f"{options.minimum.failures}: the default model stays in use"
        )
    trained = train_with(backend_for(labelled), options.config, log)
    training = {
        "data": {
            "source": f"git history of {options.repository}",
            "head": head,
            "changes_mined": len(labelled),
            "label": "bug: SZZ, reverts, rollbacks and incidents (gate label)",
            "fix_source": _first(labelled, "fix_source"),
            "ripening": labelled.attrs.get("ripening"),
            "labelled_until": _first(labelled, "labelled_until"),
            "labels": summary(labelled),
        },
        **trained.training,
        "repository_model": {
            "repository": options.repository,
            "labelled_history": {"rows": len(rows), "failures": failures},
            "minimum": {"rows": options.minimum.rows, "failures": options.minimum.failures},
        },
        "xgboost_version": xgb.__version__,
        "riskgate_version": gate.__version__,
        "trained_on": datetime.now(UTC).date().isoformat(),
    }
    # the window: the newest labelled changes, held out from the new model's fit, calibration
    # and thresholds (its test period)
    window = chronological_split(
        rows, options.config.validation_share, options.config.test_share
    ).test
    current = ModelRegistry(db, default_model, options.minimum).for_repository(options.repository)
    with tempfile.TemporaryDirectory() as staging:
        write_artifact(trained, training, Path(staging))
        candidate = load_model(Path(staging))
    verdict = compare(candidate, current.model, window, options.rule, options.repository)
    log(verdict.reason)
    training["shadow"] = verdict.to_json()
    path = options.out_dir or _model_dir(options.model_root, options.repository, candidate.version)
    version = write_artifact(trained, training, path)
    state = _register(db, options, version, path.resolve(), len(rows), failures, verdict)
    return RepoModelResult(
        options.repository, version, path, state, verdict, len(rows), failures, training
    )


def _first(table: pd.DataFrame, column: str) -> Any:
    if column not in table.columns or not len(table):
        return None
    value = table[column].iloc[0]
    return value.item() if hasattr(value, "item") else value


def _model_dir(root: Path, repository: str, version: str) -> Path:
    owner, name = repository.split("/")
    return root / owner / name / version


def _register(
    db: Database,
    options: RepoTraining,
    version: str,
    path: Path,
    rows: int,
    failures: int,
    verdict: ShadowVerdict,
) -> str:
    """Record first, then act: the audit log has the figures before the registry changes."""
    evaluation = verdict.to_json()
    audit.record(
        db,
        actor=ACTOR,
        action="model.shadow",
        reason=(
            f"trained on {rows} labelled changes ({failures} failures); in shadow beside "
            f"{verdict.current.model_version}"
        ),
        repository=options.repository,
        details={"path": str(path), **evaluation},
        model_version=version,
    )
    registry.register(
        db,
        repository=options.repository,
        model_version=version,
        path=str(path),
        labelled_rows=rows,
        labelled_failures=failures,
        evaluation=evaluation,
    )
    if verdict.promote and options.promote == "auto":
        audit.record(
            db,
            actor=ACTOR,
            action="model.promoted",
            reason=verdict.reason,
            repository=options.repository,
            details=evaluation,
            model_version=version,
        )
        registry.promote(db, options.repository, version)
        return registry.PROMOTED
    reason = verdict.reason
    if verdict.promote:
        reason = f"stays in shadow (--promote never); it would be {verdict.reason}"
    audit.record(
        db,
        actor=ACTOR,
        action="model.kept_in_shadow",
        reason=reason,
        repository=options.repository,
        details=evaluation,
        model_version=version,
    )
    return registry.SHADOW


def repository_name(repo: Path) -> str | None:
    """owner/name from the clone's origin URL (https, ssh or scp-like); None for a clone of a
    local path, whose directory names no repository."""
    from gate.git.remote import origin_name

    return origin_name(repo)
