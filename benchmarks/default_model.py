"""The Apache-trained default model on real histories, judged by ApacheJIT's independent labels.

    python -m benchmarks.default_model --data-dir /tmp/model_work/labelled [--json OUT]

`--data-dir` holds one labelled table per repository (`gate mine` then `gate label --issues`,
see data/models/riskgate-apache4/README.md); ApacheJIT's labels (measurement only, never
trained on) come from ../shared/datasets/jit/apachejit. In one run, beside their anchors:

1. leave-one-project-out: trained on three repositories (riskgate's labels), every
   ApacheJIT-labelled commit of the fourth scored; beside lines added alone, a random forest on
   riskgate's 14 Kamei features trained on the same rows, and the previous bundled model;
2. within a project (ApacheJIT's split): trained on the project's changes up to 2016, tested
   on its ApacheJIT-labelled commits of 2017-2019; beside the same anchors;
3. hold shares of the shipped model and of each held-out model under its own thresholds;
4. the ISSTA'21 benchmark (per project, on its own CSVs; the relative features are not in them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from gate.model.artifact import load_model
from training.bundle import KAMEI, Recipe, Repository, fit, read_repositories, scores
from training.metrics import roc_auc
from training.train import LABEL, TIME, apply_calibration, numeric, probability, read_table

ROOT = Path(__file__).resolve().parents[1]
APACHEJIT = ROOT.parent / "shared" / "datasets" / "jit" / "apachejit"
ISSTA21 = ROOT.parent / "shared" / "datasets" / "jit" / "issta21-jit-dp"
BUNDLED = ROOT / "data" / "models" / "riskgate-apache4"
PREVIOUS_BUNDLED = "0c6a5bc"  # the last commit whose bundled model was the ISSTA'21-trained one
TEST_FROM = int(datetime(2017, 1, 1, tzinfo=UTC).timestamp())
TEST_UNTIL = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
TARGET_AUC = 0.80
TARGET_WITHIN_GAIN = 0.03
RF_TREES = 150


def apachejit_labels(project: str, directory: Path = APACHEJIT) -> pd.DataFrame:
    path = directory / f"{project}_labels.csv"
    if not path.is_file():
        raise SystemExit(f"ApacheJIT labels not at {path} (../shared/datasets/jit/apachejit)")
    return pd.read_csv(path)


def judged(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The mined rows of ApacheJIT's labelled commits, with their label as `truth`."""
    rows = table.merge(labels[["sha", "buggy"]], on="sha", how="inner")
    return rows.rename(columns={"buggy": "truth"})


def random_forest(train: pd.DataFrame, seed: int) -> RandomForestClassifier:
    forest = RandomForestClassifier(
        n_estimators=RF_TREES, min_samples_leaf=5, n_jobs=2, random_state=seed
    )
    forest.fit(_kamei(train), train[LABEL].to_numpy())
    return forest


def _kamei(rows: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num(np.column_stack([numeric(rows[name]) for name in KAMEI]), nan=-1.0)


def previous_model(directory: Path) -> Any | None:
    """The ISSTA'21-trained model that was bundled before, from git, or None."""
    for name in ("artifact.json", "model.json"):
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{PREVIOUS_BUNDLED}:data/models/default/{name}"],
            capture_output=True,
        )
        if shown.returncode:
            return None
        (directory / name).write_bytes(shown.stdout)
    return load_model(directory)


def _previous_scores(model: Any, rows: pd.DataFrame) -> np.ndarray:
    features = model.artifact.features
    raw = probability(model.booster, rows, features)
    return apply_calibration(raw, model.artifact.calibration)


def _auc(truth: np.ndarray, values: np.ndarray) -> float | None:
    auc = roc_auc(truth, values)
    return None if auc is None else round(float(auc), 4)


def _anchors(
    rows: pd.DataFrame, model_scores: np.ndarray, forest: RandomForestClassifier, previous: Any
) -> dict[str, Any]:
    truth = rows["truth"].to_numpy()
    return {
        "rows": len(rows),
        "buggy": int(truth.sum()),
        "model": _auc(truth, model_scores),
        "la": _auc(truth, numeric(rows["la"])),
        "rf_kamei14": _auc(truth, forest.predict_proba(_kamei(rows))[:, 1]),
        "previous_bundled": _auc(truth, _previous_scores(previous, rows)) if previous else None,
    }


def leave_one_project_out(
    repositories: Sequence[Repository],
    tables: dict[str, pd.DataFrame],
    recipe: Recipe,
    previous: Any,
    seed: int,
) -> dict[str, Any]:
    """Every evaluated repository (labelled or only mined) scored by a model trained on the
    labelled others."""
    out = {}
    for held in tables:
        others = [repo.rows for repo in repositories if repo.name != held]
        if not others:
            continue
        trained_on = [repo.name for repo in repositories if repo.name != held]
        fitted = fit(others, recipe, seed)
        forest = random_forest(pd.concat(others, ignore_index=True), seed)
        rows = judged(tables[held], apachejit_labels(held))
        scored = scores(fitted, rows, recipe.features)
        out[held] = _anchors(rows, scored, forest, previous) | {
            "trained_on": trained_on,
            "held_share": round(float(np.mean(scored >= fitted.thresholds.high_at_or_above)), 4),
            "held_share_all_commits": round(
                float(
                    np.mean(
                        scores(fitted, tables[held], recipe.features)
                        >= fitted.thresholds.high_at_or_above
                    )
                ),
                4,
            ),
        }
        print(f"  leave-one-out {held}: {out[held]}", file=sys.stderr, flush=True)
    return out


def within_project(
    repositories: Sequence[Repository],
    tables: dict[str, pd.DataFrame],
    recipe: Recipe,
    previous: Any,
    seed: int,
) -> dict[str, Any]:
    out = {}
    for repo in repositories:
        train = repo.rows[repo.rows[TIME] < TEST_FROM]
        rows = judged(tables[repo.name], apachejit_labels(repo.name))
        rows = rows[(rows[TIME] >= TEST_FROM) & (rows[TIME] < TEST_UNTIL)]
        fitted = fit([train], recipe, seed)
        forest = random_forest(train, seed)
        out[repo.name] = _anchors(rows, scores(fitted, rows, recipe.features), forest, previous)
        out[repo.name]["train_rows"] = len(train)
        out[repo.name]["train_failing"] = int(train[LABEL].sum())
        print(f"  within {repo.name}: {out[repo.name]}", file=sys.stderr, flush=True)
    return out


def shipped_hold_shares(model_dir: Path, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The shipped model's hold and low shares on each repository (every mined commit, and
    ApacheJIT's labelled ones), under the artifact's thresholds."""
    model = load_model(model_dir)
    high = model.artifact.thresholds.high_at_or_above
    low = model.artifact.thresholds.low_below
    out = {}
    for name, table in tables.items():
        every = _previous_scores(model, table)
        labelled = _previous_scores(model, judged(table, apachejit_labels(name)))
        out[name] = {
            "commits": len(table),
            "held_share": round(float(np.mean(every >= high)), 4),
            "low_share": round(float(np.mean(every < low)), 4),
            "held_share_apachejit_commits": round(float(np.mean(labelled >= high)), 4),
        }
    return out


def issta21(seed: int) -> dict[str, Any] | None:
    if not ISSTA21.is_dir():
        return None
    from training.benchmark import BenchmarkConfig, run_issta21

    return run_issta21(ISSTA21, BenchmarkConfig(seed=seed))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_tables(results: dict[str, Any]) -> None:
    lopo = results["leave_one_project_out"]
    print("## Leave one project out (trained on the other three), ApacheJIT's labels\n")
    print("| project | trained on | commits (buggy) | model | lines added alone | RF, 14 Kamei | "
          "previous bundled | held (labelled / all) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, row in lopo.items():
        print(
            f"| {name} | {', '.join(row['trained_on'])} | {row['rows']:,} ({row['buggy']:,}) | "
            f"**{_cell(row['model'])}** | "
            f"{_cell(row['la'])} | {_cell(row['rf_kamei14'])} | "
            f"{_cell(row['previous_bundled'])} | {row['held_share']:.1%} / "
            f"{row['held_share_all_commits']:.1%} |"
        )
    ok = all(r["model"] >= TARGET_AUC and r["model"] > r["la"] for r in lopo.values())
    print(f"\ntarget (AUC >= {TARGET_AUC} and above lines added alone on each): {_verdict(ok)}\n")
    within = results["within_project"]
    print("## Within a project (train up to 2016, test 2017-2019), ApacheJIT's labels\n")
    print("| project | train (failing, riskgate) | test (buggy) | model | lines added alone | "
          "RF, 14 Kamei | previous bundled |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in within.items():
        print(
            f"| {name} | {row['train_rows']:,} ({row['train_failing']:,}) | {row['rows']:,} "
            f"({row['buggy']:,}) | **{_cell(row['model'])}** | {_cell(row['la'])} | "
            f"{_cell(row['rf_kamei14'])} | {_cell(row['previous_bundled'])} |"
        )
    ok = all(
        r["model"] >= r["la"] + TARGET_WITHIN_GAIN and r["model"] > r["rf_kamei14"]
        for r in within.values()
    )
    print(f"\ntarget (>= lines added alone + {TARGET_WITHIN_GAIN}, above the RF): {_verdict(ok)}\n")
    print("## The shipped model's hold shares, under its thresholds\n")
    print("| project | commits | held | low | held of ApacheJIT's labelled commits |")
    print("|---|---:|---:|---:|---:|")
    for name, row in results["shipped"].items():
        print(
            f"| {name} | {row['commits']:,} | {row['held_share']:.1%} | {row['low_share']:.1%} "
            f"| {row['held_share_apachejit_commits']:.1%} |"
        )
    benchmark = results.get("issta21")
    if benchmark:
        print("\n## ISSTA'21 (per project on its CSVs, riskgate's ISSTA recipe)\n")
        published = benchmark["published_mean_auc"]
        print("| project | AUC | LApredict (published) |\n|---|---:|---:|")
        for name, row in benchmark["projects"].items():
            print(f"| {name} | {_cell(row['auc'])} | {_cell(row['published']['LApredict'])} |")
        print(f"| mean | {_cell(benchmark['mean_auc'])} | {_cell(published['LApredict'])} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.default_model")
    parser.add_argument("--data-dir", type=Path, required=True, help="labelled tables")
    parser.add_argument(
        "--mined-dir",
        type=Path,
        help="mined tables (gate mine) of more repositories to evaluate on, not to train on",
    )
    parser.add_argument("--model", type=Path, default=BUNDLED, help="the shipped model")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-issta21", action="store_true", help="skip the ISSTA'21 benchmark")
    args = parser.parse_args(argv)
    started = time.monotonic()
    repositories = read_repositories(args.data_dir)
    tables = {
        repo.name: read_table(args.data_dir / repo.provenance["table"]) for repo in repositories
    }
    if args.mined_dir:
        for path in sorted(args.mined_dir.glob("*.parquet")):
            if path.stem not in tables and (APACHEJIT / f"{path.stem}_labels.csv").is_file():
                tables[path.stem] = read_table(path)
    recipe = Recipe()
    with tempfile.TemporaryDirectory() as scratch:
        previous = previous_model(Path(scratch))
        results: dict[str, Any] = {
            "recipe": recipe.describe(),
            "leave_one_project_out": leave_one_project_out(
                repositories, tables, recipe, previous, args.seed
            ),
            "within_project": within_project(repositories, tables, recipe, previous, args.seed),
        }
    results["shipped"] = shipped_hold_shares(args.model, tables)
    results["model_version"] = load_model(args.model).version
    if not args.no_issta21:
        results["issta21"] = issta21(args.seed)
    results["seconds"] = round(time.monotonic() - started, 1)
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
