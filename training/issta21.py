"""Load the ISSTA'21 JIT-DP change metrics (six projects, SZZ labels) as one DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

PROJECTS: tuple[str, ...] = ("gerrit", "go", "jdt", "openstack", "platform", "qt")

# The dataset's 14 Kamei features, by the service's names, in model order.
FEATURES: tuple[str, ...] = tuple(
    "la ld nf nd ns entropy lt fix ndev age nuc exp rexp sexp".split()  # noqa: SIM905
)

# dataset column -> our column; "entrophy" is spelt that way in every file
_COLUMNS = {
    "_id": "commit",
    "date": "date",
    "bug": "bug",
    "la": "la",
    "ld": "ld",
    "nf": "nf",
    "nd": "nd",
    "ns": "ns",
    "entrophy": "entropy",
    **{name: name for name in ("lt", "fix", "ndev", "age", "nuc", "exp", "rexp", "sexp")},
}
_NUMERIC = ["date", "bug", *FEATURES]

# Published test AUCs (chronological 80/20 split, trained per project), from the paper's repo
# fmt: off
PUBLISHED_AUC: dict[str, dict[str, float]] = {
    "LApredict": {
        "qt": 0.744, "openstack": 0.749, "jdt": 0.676,
        "platform": 0.746, "gerrit": 0.750, "go": 0.683,
    },
    "LR-JIT": {
        "qt": 0.665, "openstack": 0.725, "jdt": 0.674,
        "platform": 0.640, "gerrit": 0.657, "go": 0.675,
    },
    "DeepJIT": {
        "qt": 0.693, "openstack": 0.713, "jdt": 0.670,
        "platform": 0.771, "gerrit": 0.703, "go": 0.689,
    },
    "CC2Vec": {
        "qt": 0.694, "openstack": 0.723, "jdt": 0.665,
        "platform": 0.761, "gerrit": 0.699, "go": 0.692,
    },
}
# fmt: on


class DatasetError(ValueError):
    """The dataset directory, a project file or a value in it is missing or malformed."""


def project_file(data_dir: Path, project: str) -> Path:
    return data_dir / f"{project}_k_feature.csv"


def load_projects(data_dir: Path, projects: Sequence[str] = PROJECTS) -> pd.DataFrame:
    """One row per change: project, commit, date (unix s), bug (0/1) and the FEATURES."""
    if not data_dir.is_dir():
        raise DatasetError(f"dataset directory {data_dir} does not exist")
    if not projects:
        raise DatasetError("no projects to load")
    frames = [load_project(project_file(data_dir, project), project) for project in projects]
    return pd.concat(frames, ignore_index=True)


def load_project(path: Path, project: str) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (project {project!r})")
    try:
        raw = pd.read_csv(path, dtype={"_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: not a readable CSV ({error})") from None
    missing = sorted(set(_COLUMNS) - set(raw.columns))
    if missing:
        raise DatasetError(f"{path}: missing columns {missing}")
    if raw.empty:
        raise DatasetError(f"{path}: no rows")
    frame = raw[list(_COLUMNS)].rename(columns=_COLUMNS)
    for column in _NUMERIC:
        frame[column] = _numeric_column(frame[column], path, column)
    _check_values(frame, path)
    frame["date"] = frame["date"].astype("int64")
    frame["bug"] = frame["bug"].astype("int8")
    frame.insert(0, "project", project)
    return frame


def _numeric_column(values: pd.Series, path: Path, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DatasetError(
            f"{path}: column {column!r} has a missing or non-numeric value "
            f"{values.iloc[row]!r} (data row {row + 1})"
        )
    return numbers.astype("float64")


def _check_values(frame: pd.DataFrame, path: Path) -> None:
    if not frame["bug"].isin([0, 1]).all():
        raise DatasetError(f"{path}: column 'bug' must be 0 or 1")
    negative = [column for column in FEATURES if (frame[column] < 0).any()]
    if negative:
        raise DatasetError(f"{path}: negative values in {negative}")
    if frame["commit"].isna().any():
        raise DatasetError(f"{path}: a row has no commit id")
