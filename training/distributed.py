"""Train on a Dask cluster: the labelled rows stay partitioned over its workers and XGBoost
boosts there (xgboost.dask); this process keeps only each row's time, label and size."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xgboost as xgb

from training.train import (
    LABEL,
    TIME,
    Split,
    TrainConfig,
    TrainingError,
    expanding_folds,
    numeric,
    split_positions,
    tie_boundary,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

# what calibration, thresholds and the figures need of every row, brought to this process
OUTCOME_COLUMNS = (TIME, LABEL, "la", "ld")


@contextmanager
def dask_client(address: str, timeout_s: float = 30.0) -> Iterator[Client]:
    """A client of the scheduler at `address` (for example tcp://10.0.0.5:8786)."""
    try:
        from distributed import Client
    except ImportError:
        raise TrainingError(
            "training on Dask needs the dask extra: pip install 'riskgate[dask]'"
        ) from None
    try:
        client = Client(address, timeout=f"{timeout_s}s")
    except OSError as error:
        raise TrainingError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    with client:
        yield client


def read_table(path: Path) -> dd.DataFrame:
    """A Parquet (or CSV) table read by the workers: the path must be one they can read."""
    import dask.dataframe as dd

    if not path.exists():
        raise TrainingError(f"{path}: no such file")
    if path.suffix == ".csv":
        return dd.read_csv(str(path))
    return dd.read_parquet(str(path))


def partitioned(client: Client, table: pd.DataFrame) -> dd.DataFrame:
    """A table of this process spread over the cluster's workers, one partition each."""
    import dask.dataframe as dd

    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    return dd.from_pandas(table, npartitions=workers)


@dataclass(eq=False)
class Period:
    """The labelled rows with start <= time < end, kept in the workers' memory."""

    frame: dd.DataFrame
    times: np.ndarray  # sorted, on this process
    outcomes: pd.DataFrame | None = field(default=None, repr=False)


class OnDask:
    """The training backend (training.train.Backend) for a Dask cluster.

    Periods are cut at commit times, so rows with one time never straddle two, as in memory.
    """

    def __init__(self, client: Client, frame: dd.DataFrame) -> None:
        for column in (TIME, LABEL):
            if column not in frame.columns:
                raise TrainingError(f"the table has no {column!r} column")
        from xgboost import dask as xgb_dask  # the dask extra: imported only when used

        self.xgb_dask = xgb_dask
        self.client = client
        self.columns = list(frame.columns)
        self.labelled = client.persist(frame[frame[LABEL].notnull()])
        self.times = np.sort(self.labelled[TIME].compute().to_numpy())

    def split(self, config: TrainConfig) -> Split[Period]:
        validation_start, test_start = split_positions(
            self.times, config.validation_share, config.test_share
        )
        validation_from = self.times[validation_start]
        test_from = self.times[test_start] if test_start < len(self.times) else math.inf
        return Split(
            self._period(-math.inf, validation_from),
            self._period(validation_from, test_from),
            self._period(test_from, math.inf),
        )

    def _period(self, start: float, end: float) -> Period:
        times = self.labelled[TIME]
        frame = self.client.persist(self.labelled[(times >= start) & (times < end)])
        inside = self.times[(self.times >= start) & (self.times < end)]
        return Period(frame, inside)

    def outcomes(self, part: Period) -> pd.DataFrame:
        if part.outcomes is None:
            columns = [name for name in OUTCOME_COLUMNS if name in self.columns]
            outcomes = part.frame[columns].compute()
            outcomes[LABEL] = outcomes[LABEL].astype("int8")
            part.outcomes = outcomes
        return part.outcomes

    def features_with_values(self, part: Period, names: Sequence[str]) -> list[str]:
        if not names:
            return []
        has_values = part.frame[list(names)].notnull().any().compute()
        return [name for name in names if bool(has_values[name])]

    def search_folds(self, part: Period, config: TrainConfig) -> list[tuple[Period, Period]]:
        times = part.times
        if len(times) > config.search_rows:
            times = times[tie_boundary(times, len(times) - config.search_rows) :]
        folds = []
        for train_end, _start, end in expanding_folds(len(times), config.cv_folds):
            middle = tie_boundary(times, train_end)
            stop = tie_boundary(times, end)
            if 0 < middle < stop:
                upper = times[stop] if stop < len(times) else math.inf
                folds.append(
                    (
                        self._period(times[0], times[middle]),
                        self._period(times[middle], upper),
                    )
                )
        return folds

    def fit(
        self,
        train: Period,
        validation: Period,
        features: Sequence[str],
        params: dict[str, Any],
        config: TrainConfig,
    ) -> xgb.Booster:
        output = self.xgb_dask.train(
            self.client,
            params,
            self._matrix(train, features),
            num_boost_round=config.max_rounds,
            evals=[(self._matrix(validation, features), "validation")],
            early_stopping_rounds=config.early_stopping_rounds,
            verbose_eval=False,
        )
        booster = output["booster"]
        return booster[: booster.best_iteration + 1]

    def probability(
        self, booster: xgb.Booster, part: Period, features: Sequence[str]
    ) -> np.ndarray:
        margin = self.xgb_dask.predict(
            self.client, booster, self._matrix(part, features, labelled=False), output_margin=True
        )
        values = np.asarray(margin.compute(), dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-values))

    def _matrix(
        self, part: Period, features: Sequence[str], labelled: bool = True
    ) -> Any:  # xgboost.dask.DaskDMatrix
        names = list(features)
        meta = pd.DataFrame({name: pd.Series(dtype=np.float32) for name in names})
        values = part.frame.map_partitions(_float_columns, names, meta=meta)
        return self.xgb_dask.DaskDMatrix(
            self.client,
            values,
            part.frame[LABEL].astype(np.float32) if labelled else None,
            missing=np.nan,
            feature_names=names,
        )


def _float_columns(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Features as float32, anything missing or not a number as NaN (as training.train.matrix)."""
    return pd.DataFrame(
        {name: numeric(frame[name], np.float32) for name in names}, index=frame.index
    )
