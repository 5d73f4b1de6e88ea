"""Train the default model on riskgate's own features of mined, labelled repositories.

The inputs are one labelled table per repository, as `gate mine` and `gate label` write them
(`<name>.parquet` in one directory). The model learns only from features riskgate computes itself,
so training and serving agree by construction.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

import gate
from gate.features.catalog import CATALOG
from gate.model.artifact import Artifact, Thresholds, load_model, save_model
from training.metrics import pick_thresholds, roc_auc
from training.train import (
    LABEL,
    TIME,
    TrainingError,
    apply_calibration,
    fit_calibration,
    labelled_rows,
    matrix,
    monotone_constraints,
    probability,
    read_table,
)

MODEL_VERSION = "riskgate-apache4-1"
LABEL_COLUMNS = ("bug", "labelled_until", "fix_source")

# Riskgate's 14 Kamei features (its own definitions of the ISSTA'21 columns).
KAMEI = (
    "la", "ld", "nf", "nd", "ns", "entropy", "lt", "fix",
    "ndev", "age", "nuc", "exp", "rexp", "sexp",
)  # fmt: skip
RELATIVE = ("nf_recent_rank", "exp_share", "ndev_share", "added_share", "deleted_share")
# features never present in mined history (coverage, services' tiers, the store's incidents)
NEVER_MINED = (
    "patch_coverage",
    "uncovered_added_lines",
    "touched_files_coverage",
    "max_service_tier",
    "touches_critical",
    "service_incidents_90d",
)
EVERY_MINED = tuple(name for name in CATALOG if name not in NEVER_MINED)
# Chosen by leave-one-project-out validation on riskgate's own labels (`python -m training.select`,
# on activemq, kafka and zeppelin): every mined feature at depth 4, mean AUC 0.783 (min 0.780),
# against 0.781 for the 14 Kamei features with the relative ones and 0.747 for the 14 alone;
# never by the ApacheJIT figures.
FEATURES: tuple[str, ...] = EVERY_MINED
PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "eta": 0.1,
    "max_depth": 4,
    "min_child_weight": 20,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "nthread": 2,
}
MAX_ROUNDS = 1000
EARLY_STOPPING_ROUNDS = 30
VALIDATION_SHARE = 0.2  # per repository: early stopping, calibration, thresholds
VALIDATION_BLOCK = 100  # changes in time order per block; every fifth block validates
HOLD_SHARE = 0.10
LOW_SHARE = 0.5
EQUAL_REPOSITORY_WEIGHT = True  # each repository weighs the same, whatever its size

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True)
class Recipe:
    """What a default model is trained with: features, booster parameters, weighting."""

    features: tuple[str, ...] = FEATURES
    params: tuple[tuple[str, Any], ...] = tuple(PARAMS.items())
    equal_weight: bool = EQUAL_REPOSITORY_WEIGHT
    max_rounds: int = MAX_ROUNDS
    early_stopping_rounds: int = EARLY_STOPPING_ROUNDS

    def booster_params(self, seed: int) -> dict[str, Any]:
        return {
            **dict(self.params),
            "seed": seed,
            "monotone_constraints": monotone_constraints(self.features),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "params": dict(self.params),
            "equal_repository_weight": self.equal_weight,
            "max_rounds": self.max_rounds,
            "early_stopping_rounds": self.early_stopping_rounds,
            "validation_share": VALIDATION_SHARE,
            "validation_block": VALIDATION_BLOCK,
        }


@dataclass(frozen=True)
class Repository:
    """One repository's labelled changes (ripe labels only, oldest first) and where they came
    from."""

    name: str
    rows: pd.DataFrame
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Fitted:
    booster: xgb.Booster
    calibration: dict[str, Any]
    thresholds: Thresholds
    validation_rows: int


def read_repository(path: Path, name: str | None = None) -> Repository:
    """A labelled table (`gate label`'s output) as a Repository named after its file."""
    table = read_table(path)
    missing = [column for column in (*LABEL_COLUMNS, "sha", TIME) if column not in table]
    if missing:
        raise TrainingError(f"{path}: not a labelled table (no {missing}); run gate label first")
    rows = labelled_rows(table)
    if rows.empty or rows[LABEL].nunique() < 2:
        raise TrainingError(f"{path}: needs ripe labels of both classes")
    newest = table.sort_values(TIME, kind="stable").iloc[-1]
    provenance = {
        "table": path.name,
        "table_sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "commits_mined": len(table),
        "newest_commit": str(newest["sha"]),
        "newest_commit_time": _iso(newest[TIME]),
        "labelled_until": _iso(rows["labelled_until"].iloc[0]),
        "fix_source": str(rows["fix_source"].iloc[0]),
        "labelled": len(rows),
        "failing": int(rows[LABEL].sum()),
        "first_labelled": {"sha": str(rows["sha"].iloc[0]), "time": _iso(rows[TIME].iloc[0])},
        "last_labelled": {"sha": str(rows["sha"].iloc[-1]), "time": _iso(rows[TIME].iloc[-1])},
    }
    return Repository(name or path.stem, rows, provenance)


def read_repositories(data_dir: Path) -> list[Repository]:
    """Every `*.parquet` labelled table in `data_dir`, by name."""
    if not data_dir.is_dir():
        raise TrainingError(f"{data_dir}: no such directory")
    paths = sorted(data_dir.glob("*.parquet"))
    if not paths:
        raise TrainingError(f"{data_dir}: expected a labelled table per repository (*.parquet)")
    return [read_repository(path) for path in paths]


def validation_block(rows: int) -> int:
    """VALIDATION_BLOCK, smaller for a table of under 25 blocks (so that it has 5 or more)."""
    return max(1, min(VALIDATION_BLOCK, rows // 25))


def split_repository(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every fifth block of VALIDATION_BLOCK changes (in time order) validates, the rest train.

    Interleaved, not the newest: the newest labels are the least ripe (bugs found late), so a
    newest-window validation set learns too low a failure rate and sets thresholds that hold a
    third of a repository; blocks keep neighbouring commits together.
    """
    blocks = np.arange(len(rows)) // validation_block(len(rows))
    validating = blocks % round(1 / VALIDATION_SHARE) == round(1 / VALIDATION_SHARE) - 1
    if validating.all() or not validating.any():
        raise TrainingError(f"{len(rows)} labelled rows are too few to split")
    return rows[~validating], rows[validating]


def _weights(parts: Sequence[pd.DataFrame], equal: bool) -> np.ndarray:
    if not equal:
        return np.ones(sum(len(part) for part in parts))
    total = sum(len(part) for part in parts)
    return np.concatenate([np.full(len(part), total / (len(parts) * len(part))) for part in parts])


def fit(
    parts: Sequence[pd.DataFrame], recipe: Recipe = Recipe(), seed: int = 0, log: Log = _quiet
) -> Fitted:
    """Fit on the older part of each table, early-stopped, calibrated and thresholded on the
    newer parts pooled."""
    splits = [split_repository(rows) for rows in parts]
    train = [older for older, _ in splits]
    validation = [newer for _, newer in splits]
    features = list(recipe.features)
    train_matrix = matrix(pd.concat(train, ignore_index=True), features)
    train_matrix.set_weight(_weights(train, recipe.equal_weight))
    pooled_validation = pd.concat(validation, ignore_index=True)
    validation_matrix = matrix(pooled_validation, features)
    validation_matrix.set_weight(_weights(validation, recipe.equal_weight))
    booster = xgb.train(
        recipe.booster_params(seed),
        train_matrix,
        num_boost_round=recipe.max_rounds,
        evals=[(validation_matrix, "validation")],
        early_stopping_rounds=recipe.early_stopping_rounds,
        verbose_eval=False,
    )
    booster = booster[: booster.best_iteration + 1]
    raw = probability(booster, pooled_validation, features)
    calibration = fit_calibration(raw, pooled_validation[LABEL].to_numpy())
    thresholds = pick_thresholds(apply_calibration(raw, calibration), HOLD_SHARE, LOW_SHARE)
    log(f"fit: {booster.num_boosted_rounds()} trees on {train_matrix.num_row()} rows")
    return Fitted(booster, calibration, thresholds, len(pooled_validation))


def scores(fitted: Fitted, rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Calibrated scores, as the service computes them."""
    return apply_calibration(probability(fitted.booster, rows, features), fitted.calibration)


def leave_one_out(
    repositories: Sequence[Repository], recipe: Recipe = Recipe(), seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per repository: a model fit on the others scores every one of its labelled changes,
    judged by riskgate's own labels, beside lines added alone."""
    table: dict[str, dict[str, Any]] = {}
    for held in repositories:
        others = [repo.rows for repo in repositories if repo.name != held.name]
        if not others:
            continue
        fitted = fit(others, recipe, seed)
        scored = scores(fitted, held.rows, recipe.features)
        labels = held.rows[LABEL].to_numpy()
        table[held.name] = {
            "rows": len(labels),
            "failing": int(labels.sum()),
            "auc": _round(roc_auc(labels, scored)),
            "la_auc": _round(roc_auc(labels, held.rows["la"].to_numpy(np.float64))),
            "held_share": _round(float(np.mean(scored >= fitted.thresholds.high_at_or_above))),
        }
    return table


def train_default_model(
    data_dir: Path,
    out_dir: Path,
    seed: int = 0,
    recipe: Recipe = Recipe(),
    log: Log = _quiet,
    *,
    repositories: Sequence[Repository] | None = None,
) -> dict[str, Any]:
    """Train on the labelled tables in `data_dir`, write the model to `out_dir`, return what
    the artifact records of its training."""
    repositories = list(repositories or read_repositories(data_dir))
    log(f"{len(repositories)} repositories: {', '.join(repo.name for repo in repositories)}")
    fitted = fit([repo.rows for repo in repositories], recipe, seed, log)
    shipped = {}
    for repo in repositories:
        scored = scores(fitted, repo.rows, recipe.features)
        shipped[repo.name] = {
            "held_share": _round(float(np.mean(scored >= fitted.thresholds.high_at_or_above))),
            "low_share": _round(float(np.mean(scored < fitted.thresholds.low_below))),
        }
    log("leave-one-project-out on riskgate's labels")
    training = {
        "data": {
            "repositories": {repo.name: repo.provenance for repo in repositories},
            "label": (
                "bug=1: blamed by riskgate's SZZ (gate label) from fixes of bug issues in an "
                "issue export, or reverted; changes newer than labelled_until unlabelled"
            ),
            "features_from": "riskgate's own miner (gate mine): the service's definitions",
        },
        "recipe": recipe.describe(),
        "trees": fitted.booster.num_boosted_rounds(),
        "validation_rows": fitted.validation_rows,
        "hold_share_target": HOLD_SHARE,
        "shipped_on_training_repositories": shipped,
        "leave_one_project_out": leave_one_out(repositories, recipe, seed),
        "seed": seed,
        "xgboost_version": xgb.__version__,
        "riskgate_version": gate.__version__,
    }
    artifact = Artifact(
        model_version=MODEL_VERSION,
        features=list(recipe.features),
        thresholds=fitted.thresholds,
        calibration=fitted.calibration,
        training=training,
    )
    save_model(fitted.booster, artifact, out_dir)
    load_model(out_dir)  # fail here, not in the service, if the artifact does not load
    log(f"wrote {MODEL_VERSION} to {out_dir}")
    return training


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _iso(timestamp: Any) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).isoformat()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.bundle",
        description="Train the bundled default model on labelled tables (gate mine + gate label).",
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="one labelled table a repo")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        train_default_model(args.data_dir, args.out, args.seed, log=_print)
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _print(message: str) -> None:
    print(f"[training] {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
