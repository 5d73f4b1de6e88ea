"""Choose the default model's features and parameters by leave-one-project-out validation.

    python -m training.select --data-dir DIR [--json OUT]

Each candidate recipe is trained on all repositories but one and judged on the one left out, by
riskgate's own labels (never by ApacheJIT's, which are the test); the best mean AUC wins.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.bundle import (
    EVERY_MINED,
    KAMEI,
    PARAMS,
    RELATIVE,
    Recipe,
    Repository,
    leave_one_out,
    read_repositories,
)

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "kamei14": KAMEI,
    "kamei14+relative": (*KAMEI, *RELATIVE),
    "every mined feature": EVERY_MINED,
}
PARAM_CHOICES: dict[str, dict[str, Any]] = {
    "depth 4, leaf 20": {"max_depth": 4, "min_child_weight": 20},
    "depth 3, leaf 50": {"max_depth": 3, "min_child_weight": 50},
    "depth 6, leaf 20": {"max_depth": 6, "min_child_weight": 20},
}


def candidates() -> list[tuple[str, Recipe]]:
    """Every feature set with every parameter choice; then the default recipe weighted by rows
    instead of by repository."""
    out = [
        (f"{set_name}; {params_name}", Recipe(features, tuple({**PARAMS, **params}.items())))
        for set_name, features in FEATURE_SETS.items()
        for params_name, params in PARAM_CHOICES.items()
    ]
    out.append(("the default recipe, by rows", Recipe(equal_weight=False)))
    return out


def select(
    repositories: Sequence[Repository],
    recipes: Sequence[tuple[str, Recipe]],
    seed: int = 0,
) -> list[dict[str, Any]]:
    tried = []
    for name, recipe in recipes:
        started = time.monotonic()
        table = leave_one_out(repositories, recipe, seed)
        aucs = [row["auc"] for row in table.values()]
        tried.append(
            {
                "name": name,
                "recipe": recipe.describe(),
                "mean_auc": round(float(np.mean(aucs)), 4),
                "min_auc": round(float(np.min(aucs)), 4),
                "per_repository": table,
            }
        )
        per = ", ".join(f"{key} {row['auc']:.3f}" for key, row in table.items())
        print(
            f"{name}: mean {tried[-1]['mean_auc']:.4f}, min {tried[-1]['min_auc']:.4f} "
            f"({per}) "
            f"in {time.monotonic() - started:.0f} s",
            flush=True,
        )
    return sorted(tried, key=lambda entry: -entry["mean_auc"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.select")
    parser.add_argument("--data-dir", type=Path, required=True, help="labelled tables")
    parser.add_argument("--json", type=Path, help="write every candidate's figures here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="run only candidates whose name contains this")
    args = parser.parse_args(argv)
    repositories = read_repositories(args.data_dir)
    recipes = [(n, r) for n, r in candidates() if not args.only or args.only in n]
    ranked = select(repositories, recipes, args.seed)
    print(f"best: {ranked[0]['name']} (mean LOPO AUC {ranked[0]['mean_auc']})")
    if args.json:
        args.json.write_text(json.dumps(ranked, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
