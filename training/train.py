"""Train a risk model on a labelled table: chronological split, time-series CV, calibration."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.isotonic import IsotonicRegression

import gate
from gate.features.catalog import CATALOG
from gate.model.artifact import BOOSTER_FILE, Artifact, Thresholds, load_model, save_model
from training.metrics import all_metrics, pick_thresholds, roc_auc

# The one map of known directions, used here and by training/bundle.py. +1: more of it never
# lowers the risk; -1: more of it never raises it; a feature not listed is left to the data.
MONOTONE: dict[str, int] = {
    "la": 1,
    "ld": 1,
    "nf": 1,
    "nd": 1,
    "ns": 1,
    "hunks": 1,
    "largest_file_churn": 1,
    "services_touched": 1,
    "max_service_tier": 1,
    "touches_critical": 1,
    "uncovered_added_lines": 1,
    "patch_coverage": -1,
}

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "eta": 0.1,
}
# a small grid, sampled: depth and leaf size set the bias/variance trade; row and column
# sampling and L2 regularise; the first entry is the default and is always tried
SEARCH_SPACE: dict[str, list[Any]] = {
    "max_depth": [4, 3, 6],
    "min_child_weight": [10, 1, 40],
    "subsample": [0.8, 1.0],
    "colsample_bytree": [0.8, 1.0],
    "lambda": [1.0, 10.0],
}
MAX_CALIBRATION_POINTS = 200
TIME = "time"
LABEL = "bug"


class TrainingError(ValueError):
    """The table cannot be trained on: missing columns, too few rows or a single class."""


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    validation_share: float = 0.2
    test_share: float = 0.2
    hold_share: float = 0.10  # hold at most this share of the validation changes
    low_share: float = 0.5  # this share of the validation changes scores low
    cv_folds: int = 3
    search_configs: int = 8  # sampled from SEARCH_SPACE; 1 means the default only
    search_budget_s: float = 120.0  # stop sampling once spent (recorded in the metadata)
    search_rows: int = 60_000  # the search uses the newest this many training rows
    max_rounds: int = 1000
    early_stopping_rounds: int = 40
    nthread: int = 2
    features: Sequence[str] | None = None  # default: every catalog feature in the table


Part = TypeVar("Part")


@dataclass(frozen=True)
class Split(Generic[Part]):
    train: Part
    validation: Part
    test: Part


@dataclass
class Trained:
    booster: xgb.Booster
    features: list[str]
    calibration: dict[str, Any]
    thresholds: Thresholds
    params: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)


Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


def labelled_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with a ripe label, oldest first (ties in time kept in a fixed order by SHA)."""
    if LABEL not in table.columns:
        raise TrainingError(
            f"the table has no {LABEL!r} column: it is not labelled; label it first with "
            "`gate label --repo PATH --features TABLE --out LABELLED.parquet`"
        )
    if TIME not in table.columns:
        raise TrainingError(f"the table has no {TIME!r} column")
    rows = table[table[LABEL].notna()]
    if "labelled_until" in rows.columns:
        # ripening: a change newer than its labels' horizon has no label to learn or judge by,
        # so the validation and test windows end before it too
        rows = rows[rows[TIME] <= rows["labelled_until"]]
    rows = rows.copy()
    rows[LABEL] = rows[LABEL].astype("int8")
    keys = [TIME, "sha"] if "sha" in rows.columns else [TIME]
    return rows.sort_values(keys, kind="stable").reset_index(drop=True)


def chronological_split(
    rows: pd.DataFrame, validation_share: float, test_share: float
) -> Split[pd.DataFrame]:
    """Oldest rows train, the next validate, the newest test; rows with the same time never
    straddle two parts. `rows` must be sorted by time."""
    validation_start, test_start = split_positions(
        rows[TIME].to_numpy(), validation_share, test_share
    )
    return Split(
        rows.iloc[:validation_start],
        rows.iloc[validation_start:test_start],
        rows.iloc[test_start:],
    )


def split_positions(
    times: np.ndarray, validation_share: float, test_share: float
) -> tuple[int, int]:
    """Where validation and test start in the sorted `times` (test: len(times) when none)."""
    n = len(times)
    test_start = tie_boundary(times, round(n * (1 - test_share))) if test_share > 0 else n
    validation_start = tie_boundary(times, round(n * (1 - test_share - validation_share)))
    if validation_start == 0 or validation_start >= test_start or (test_share and test_start == n):
        raise TrainingError(f"{n} labelled rows are too few to split by time")
    return validation_start, test_start


def tie_boundary(times: np.ndarray, at: int) -> int:
    """The first index at or before `at` where a new time starts (ties stay together)."""
    if at <= 0 or at >= len(times):
        return max(min(at, len(times)), 0)
    return int(np.searchsorted(times, times[at], side="left")) or int(
        np.searchsorted(times, times[at], side="right")
    )


def expanding_folds(n: int, folds: int) -> list[tuple[int, int, int]]:
    """(train end, validation start, validation end) of each fold: the training period in
    folds + 1 blocks; fold k trains on blocks [0, k) and validates on block k."""
    block = n // (folds + 1)
    return [(k * block, k * block, (k + 1) * block) for k in range(1, folds + 1) if block > 0]


def requested_features(columns: Iterable[str], requested: Sequence[str] | None) -> list[str]:
    """The features asked for (default: every catalog feature) that the table has."""
    present = set(columns)
    names = list(requested) if requested is not None else [n for n in CATALOG if n in present]
    unknown = [name for name in names if name not in CATALOG]
    if unknown:
        raise TrainingError(f"not features the service computes: {unknown}")
    return [name for name in names if name in present]


def model_features(rows: pd.DataFrame, requested: Sequence[str] | None) -> list[str]:
    """The catalog's features present in the table and not all missing in training."""
    return [
        name for name in requested_features(rows.columns, requested) if rows[name].notna().any()
    ]


def monotone_constraints(features: Sequence[str]) -> str:
    return "(" + ",".join(str(MONOTONE.get(name, 0)) for name in features) + ")"


def numeric(values: pd.Series, dtype: type = np.float64) -> np.ndarray:
    """A column as floats, anything missing or not a number (None, pd.NA, text) as NaN."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=dtype, na_value=np.nan)


def matrix(rows: pd.DataFrame, features: Sequence[str], labelled: bool = True) -> xgb.DMatrix:
    values = np.column_stack(
        [
            numeric(rows[name], np.float32)
            if name in rows
            else np.full(len(rows), np.nan, np.float32)
            for name in features
        ]
    )
    return xgb.DMatrix(
        values,
        label=rows[LABEL].to_numpy() if labelled else None,
        feature_names=list(features),
        missing=np.nan,
    )


def fit_booster(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    features: Sequence[str],
    params: dict[str, Any],
    config: TrainConfig,
) -> xgb.Booster:
    """Fit on train, early-stopped on validation; only the trees up to the best round are kept
    (the service predicts with every tree it loads)."""
    booster = xgb.train(
        params,
        matrix(train, features),
        num_boost_round=config.max_rounds,
        evals=[(matrix(validation, features), "validation")],
        early_stopping_rounds=config.early_stopping_rounds,
        verbose_eval=False,
    )
    return booster[: booster.best_iteration + 1]


def full_params(choice: dict[str, Any], features: Sequence[str], config: TrainConfig) -> dict:
    return {
        **BASE_PARAMS,
        **choice,
        "seed": config.seed,
        "nthread": config.nthread,
        "monotone_constraints": monotone_constraints(features),
    }


def candidates(config: TrainConfig) -> list[dict[str, Any]]:
    """The default first, then a seeded sample of the rest of the grid."""
    keys = list(SEARCH_SPACE)
    grid = [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*SEARCH_SPACE.values())
    ]
    rng = np.random.default_rng(config.seed)
    rest = [grid[i] for i in rng.permutation(np.arange(1, len(grid)))]
    return [grid[0], *rest][: max(config.search_configs, 1)]


def search(
    backend: Backend[Part],
    train: Part,
    features: Sequence[str],
    config: TrainConfig,
    log: Log = _quiet,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Pick parameters by mean AUC over expanding-window folds of the training period."""
    folds = backend.search_folds(train, config)
    options = candidates(config)
    if len(options) == 1 or not folds:
        return options[0], []
    started = time.monotonic()
    tried = []
    for choice in options:
        if tried and time.monotonic() - started > config.search_budget_s:
            log(f"search: budget of {config.search_budget_s:.0f} s spent after {len(tried)}")
            break
        aucs, rounds = [], []
        for fold_train, fold_valid in folds:
            booster = backend.fit(
                fold_train, fold_valid, features, full_params(choice, features, config), config
            )
            raw = backend.probability(booster, fold_valid, features)
            aucs.append(roc_auc(backend.outcomes(fold_valid)[LABEL].to_numpy(), raw))
            rounds.append(booster.num_boosted_rounds())
        scored = [auc for auc in aucs if auc is not None]
        mean = float(np.mean(scored)) if scored else float("nan")
        tried.append({"params": choice, "cv_auc": round(mean, 4), "rounds": rounds})
        log(f"search: {choice} -> CV AUC {mean:.4f}")
    best = max(tried, key=lambda entry: -1.0 if np.isnan(entry["cv_auc"]) else entry["cv_auc"])
    return best["params"], tried


def probability(booster: xgb.Booster, rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The uncalibrated probability, as gate.model.artifact computes it (sigmoid of margin)."""
    margin = booster.predict(matrix(rows, features, labelled=False), output_margin=True)
    return 1.0 / (1.0 + np.exp(-margin.astype(np.float64)))


def fit_calibration(
    raw: np.ndarray, labels: np.ndarray, max_points: int = MAX_CALIBRATION_POINTS
) -> dict[str, Any]:
    """Isotonic regression, stored as (mean score, failure rate) of each of its blocks.

    Blocks smaller than 1/max_points of the rows are merged into a neighbour first, so no
    single change sets the curve's end; joining the blocks' centres keeps the curve strictly
    increasing between the first and last centre, so calibration keeps the ranking there and
    thresholds can cut anywhere.
    """
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    fitted = isotonic.fit_transform(raw, labels)
    order = np.argsort(raw, kind="stable")
    blocks: list[list[float]] = []  # [count, sum of scores, sum of labels]
    for _value, group in itertools.groupby(order, key=lambda i: fitted[i]):
        members = np.fromiter(group, dtype=np.int64)
        blocks.append([len(members), float(raw[members].sum()), float(labels[members].sum())])
    blocks = merge_small_blocks(blocks, max(int(np.ceil(len(raw) / max_points)), 1))
    x = [total / count for count, total, _ in blocks]
    y = [failures / count for count, _, failures in blocks]
    return {"method": "isotonic", "x": [float(v) for v in x], "y": [float(v) for v in y]}


def merge_small_blocks(blocks: list[list[float]], min_rows: int) -> list[list[float]]:
    """Join neighbouring blocks, left to right, until each holds `min_rows`; the remainder joins
    the last. Neighbours of an isotonic fit join into a value between theirs: still increasing."""
    merged: list[list[float]] = []
    pending: list[float] | None = None
    for block in blocks:
        pending = block if pending is None else [a + b for a, b in zip(pending, block, strict=True)]
        if pending[0] >= min_rows:
            merged.append(pending)
            pending = None
    if pending is not None:
        if merged:
            merged[-1] = [a + b for a, b in zip(merged[-1], pending, strict=True)]
        else:
            merged.append(pending)
    return merged


def apply_calibration(raw: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """Vectorised gate.model.artifact.calibrate: the same piecewise-linear map."""
    return np.interp(raw, calibration["x"], calibration["y"])


class Backend(Protocol[Part]):
    """Where the labelled rows live and where the boosting runs: this process, or a cluster."""

    columns: list[str]

    def split(self, config: TrainConfig) -> Split[Part]: ...

    def outcomes(self, part: Part) -> pd.DataFrame:
        """The part's time, label, la and ld, in this process, in the order it predicts in."""
        ...

    def features_with_values(self, part: Part, names: Sequence[str]) -> list[str]: ...

    def search_folds(self, part: Part, config: TrainConfig) -> list[tuple[Part, Part]]: ...

    def fit(
        self,
        train: Part,
        validation: Part,
        features: Sequence[str],
        params: dict[str, Any],
        config: TrainConfig,
    ) -> xgb.Booster: ...

    def probability(self, booster: xgb.Booster, part: Part, features: Sequence[str]) -> np.ndarray:
        """The uncalibrated probability of each of the part's rows."""
        ...


class InMemory:
    """The labelled table in this process's memory; XGBoost on this machine (the default)."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = labelled_rows(table)
        self.columns = list(self.table.columns)

    def split(self, config: TrainConfig) -> Split[pd.DataFrame]:
        return chronological_split(self.table, config.validation_share, config.test_share)

    def outcomes(self, part: pd.DataFrame) -> pd.DataFrame:
        return part

    def features_with_values(self, part: pd.DataFrame, names: Sequence[str]) -> list[str]:
        return [name for name in names if part[name].notna().any()]

    def search_folds(
        self, part: pd.DataFrame, config: TrainConfig
    ) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
        rows = part.iloc[-config.search_rows :] if len(part) > config.search_rows else part
        return [
            (rows.iloc[:train_end], rows.iloc[start:end])
            for train_end, start, end in expanding_folds(len(rows), config.cv_folds)
        ]

    def fit(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame,
        features: Sequence[str],
        params: dict[str, Any],
        config: TrainConfig,
    ) -> xgb.Booster:
        return fit_booster(train, validation, features, params, config)

    def probability(
        self, booster: xgb.Booster, part: pd.DataFrame, features: Sequence[str]
    ) -> np.ndarray:
        return probability(booster, part, features)


def train_rows(
    table: pd.DataFrame, config: TrainConfig = TrainConfig(), log: Log = _quiet
) -> Trained:
    """Search, fit, calibrate and set thresholds on a table in memory."""
    return train_with(InMemory(table), config, log)


def train_with(backend: Backend[Part], config: TrainConfig, log: Log = _quiet) -> Trained:
    """Search, fit, calibrate and set thresholds; figures on validation and test."""
    split = backend.split(config)
    requested = requested_features(backend.columns, config.features)
    features = backend.features_with_values(split.train, requested)
    if not features:
        raise TrainingError("no feature has a value in the training period")
    outcomes = Split(
        *(backend.outcomes(part) for part in (split.train, split.validation, split.test))
    )
    for part, name in ((outcomes.train, "training"), (outcomes.validation, "validation")):
        if part[LABEL].nunique() < 2:
            raise TrainingError(f"the {name} period has a single class")
    log(
        f"split: {len(outcomes.train)} train, {len(outcomes.validation)} validation, "
        f"{len(outcomes.test)} test"
    )
    started = time.monotonic()
    choice, tried = search(backend, split.train, features, config, log)
    search_seconds = time.monotonic() - started
    params = full_params(choice, features, config)
    booster = backend.fit(split.train, split.validation, features, params, config)
    log(f"model: {booster.num_boosted_rounds()} trees, {len(features)} features")

    raw_validation = backend.probability(booster, split.validation, features)
    calibration = fit_calibration(raw_validation, outcomes.validation[LABEL].to_numpy())
    validation_scores = apply_calibration(raw_validation, calibration)
    thresholds = pick_thresholds(validation_scores, config.hold_share, config.low_share)
    figures = {"validation": _figures(outcomes.validation, validation_scores, thresholds)}
    if len(outcomes.test):
        test_scores = apply_calibration(
            backend.probability(booster, split.test, features), calibration
        )
        figures["test"] = _figures(outcomes.test, test_scores, thresholds)
    training = {
        "rows": {part: len(getattr(outcomes, part)) for part in ("train", "validation", "test")},
        "periods": {
            part: _period(getattr(outcomes, part)) for part in ("train", "validation", "test")
        },
        "features": features,
        "dropped_features": [name for name in requested if name not in features],
        "metrics": figures,
        "search": {
            "folds": config.cv_folds,
            "configs_tried": len(tried),
            "seconds": round(search_seconds, 1),
            "budget_s": config.search_budget_s,
            "stopped_by_budget": 0
            < len(tried)
            < min(config.search_configs, len(candidates(config))),
            "results": tried,
        },
        "params": {
            **params,
            "max_rounds": config.max_rounds,
            "early_stopping_rounds": config.early_stopping_rounds,
        },
        "trees": booster.num_boosted_rounds(),
        "seed": config.seed,
        "protocol": (
            f"sorted by commit time; oldest {1 - config.validation_share - config.test_share:.0%} "
            f"train (time-series CV search, {config.cv_folds} expanding folds), next "
            f"{config.validation_share:.0%} validation (early stopping, isotonic calibration, "
            f"thresholds: hold at most {config.hold_share:.0%}), "
            f"newest {config.test_share:.0%} test"
        ),
    }
    return Trained(booster, features, calibration, thresholds, params, training)


def _figures(rows: pd.DataFrame, scores: np.ndarray, thresholds: Thresholds) -> dict[str, Any]:
    return all_metrics(
        rows[LABEL].to_numpy(),
        scores,
        _column(rows, "la"),
        _column(rows, "ld"),
        thresholds,
    )


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    if name in rows:
        return numeric(rows[name], np.float64)
    return np.zeros(len(rows))


def _period(rows: pd.DataFrame) -> dict[str, str] | None:
    if rows.empty:
        return None
    return {"from": _iso(rows[TIME].min()), "to": _iso(rows[TIME].max())}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).isoformat()


def read_table(path: Path) -> pd.DataFrame:
    """A Parquet (or CSV) table as `gate mine` / `gate label` write them."""
    if not path.is_file():
        raise TrainingError(f"{path}: no such file")
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def train_model(
    table_path: Path,
    out_dir: Path,
    config: TrainConfig = TrainConfig(),
    log: Log = _quiet,
    backend: Backend[Any] | None = None,
) -> dict[str, Any]:
    """Train on the labelled table at `table_path` (in memory unless a backend that reads it
    elsewhere is given), write the model to `out_dir`."""
    trained = train_with(backend or InMemory(read_table(table_path)), config, log)
    training = {
        "data": {
            "source": str(table_path),
            # a Parquet dataset (a directory, read by Dask's workers) has no single digest
            "sha256": hashlib.sha256(table_path.read_bytes()).hexdigest()[:16]
            if table_path.is_file()
            else None,
            "label": "bug: SZZ, reverts, rollbacks and incidents (gate label)",
        },
        **trained.training,
        "xgboost_version": xgb.__version__,
        "riskgate_version": gate.__version__,
        "trained_on": datetime.now(UTC).date().isoformat(),
    }
    write_artifact(trained, training, out_dir)
    return training


def write_artifact(trained: Trained, training: dict[str, Any], out_dir: Path) -> str:
    """Save the booster and its artifact; the version names the booster's content."""
    save_model(trained.booster, _artifact(trained, training, "pending"), out_dir)
    digest = hashlib.sha256((out_dir / BOOSTER_FILE).read_bytes()).hexdigest()[:12]
    version = f"xgb-{digest}"
    save_model(trained.booster, _artifact(trained, training, version), out_dir)
    load_model(out_dir)  # fail here, not in the service, if the artifact does not load
    return version


def _artifact(trained: Trained, training: dict[str, Any], version: str) -> Artifact:
    return Artifact(
        model_version=version,
        features=trained.features,
        thresholds=trained.thresholds,
        calibration=trained.calibration,
        training=training,
    )


def with_overrides(config: TrainConfig, **overrides: Any) -> TrainConfig:
    return replace(config, **{key: value for key, value in overrides.items() if value is not None})
