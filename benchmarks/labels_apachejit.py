"""Labels against ApacheJIT's: inducing commits from an issue export, beside message words."""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from gate.features.history import REVERT_PATTERN
from training.fixes import FixSource, MessageWords, find_fixes, read_issue_export
from training.label import DEFAULT_LIMITS, fix_delays, inducing_commits, ripening
from training.szz import Commit, FixResult, Limits, SzzResult, log_commits, szz

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "datasets" / "jit" / "apachejit"
MIRRORS = Path("/work/.mirror")
PROJECTS = ("groovy", "activemq", "kafka", "zeppelin")
TARGET = {"precision": 0.75, "recall": 0.80}
# the default fix pattern before pull-request merge lines were set aside: "Closes #N from
# user/branch", the Apache merge script's line, read as a fixed bug
OLD_FIX_PATTERN = (
    r"(?i)\b(fix(e[sd]|ing)?|bug(s|fix(es)?)?|defect|hotfix|crash(es)?|regression|"
    r"(close[sd]?|resolve[sd]?)\s+#\d+)\b"
)


@dataclass(frozen=True)
class OldMessageWords:
    """The message-words labelling as it was: every match of the old pattern is a fix."""

    name: str = "message words (old default)"

    def is_fix(self, commit: Commit) -> bool:
        message = commit.message
        return bool(re.search(OLD_FIX_PATTERN, message)) and not REVERT_PATTERN.search(message)

    def choose(self, fixes: list[Commit]) -> list[Commit]:
        return fixes


class CachedBlame:
    """szz() that blames each (fix, ignore-revs) once: the labellings share most fixes. With a
    `path`, the results are kept there between runs (delete it after changing training/szz.py)."""

    def __init__(self, jobs: int, path: Path | None = None) -> None:
        self.jobs = jobs
        self.path = path
        self.results: dict[tuple[str, str], FixResult] = {}
        if path is not None and path.is_file():
            self.results = pickle.loads(path.read_bytes())
        self.blamed = 0

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(pickle.dumps(self.results))

    def __call__(
        self,
        repo: Path,
        fixes: Sequence[Commit],
        *,
        ignore_revs: Path | None = None,
        limits: Limits = DEFAULT_LIMITS,
        jobs: int = 2,
        progress: Callable[[int], None] = lambda _done: None,
    ) -> SzzResult:
        listed = hashlib.sha1(ignore_revs.read_bytes()).hexdigest() if ignore_revs else ""
        todo = [fix for fix in fixes if (fix.sha, listed) not in self.results]
        if todo:
            found = szz(repo, todo, ignore_revs=ignore_revs, limits=limits, jobs=self.jobs)
            for result in found.fixes:
                self.results[(result.fix, listed)] = result
            self.blamed += len(todo)
            self.save()
        return SzzResult.of(replace(self.results[(fix.sha, listed)]) for fix in fixes)


def old_labelling(repo: Path, commits: list[Commit], blame: CachedBlame) -> SzzResult:
    """No mechanical-commit rule: every old-pattern fix, blamed as it was."""
    return blame(repo, find_fixes(commits, OldMessageWords()))


def measure(found: set[str], labels: pd.DataFrame) -> dict[str, Any]:
    """Precision and recall of inducing commits on ApacheJIT's labelled commits."""
    labelled = set(labels["sha"])
    buggy = set(labels.loc[labels["buggy"] == 1, "sha"])
    predicted = found & labelled
    hits = len(predicted & buggy)
    return {
        "predicted": len(predicted),
        "buggy": len(buggy),
        "hits": hits,
        "precision": round(hits / len(predicted), 3) if predicted else None,
        "recall": round(hits / len(buggy), 3) if buggy else None,
    }


def run_project(
    project: str,
    jobs: int,
    log: Callable[[str], None],
    cache: Path | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    repo = MIRRORS / f"apache+{project}" / "repo"
    labels = pd.read_csv(DATA / f"{project}_labels.csv")
    links = pd.read_csv(DATA / f"{project}_szz_links.csv")
    export = read_issue_export(DATA / f"{project}_bug_issues.csv")
    # ApacheJIT looked at fixes up to its last linked fix: later fixes (of bugs it never saw)
    # would be counted against every labelling alike
    until = int(links["fix_date"].max())
    commits = [c for c in log_commits(repo) if c.time <= until]
    blame = CachedBlame(jobs, cache / f"{project}.pickle" if cache else None)
    words = MessageWords()
    modes: dict[str, tuple[FixSource | None, Callable[[], SzzResult]]] = {
        "issue export": (export, lambda: inducing_commits(repo, commits, export, blame=blame)),
        "message words (new fallback)": (
            words,
            lambda: inducing_commits(repo, commits, words, blame=blame),
        ),
        "message words (old default)": (None, lambda: old_labelling(repo, commits, blame)),
    }
    out: dict[str, Any] = {"project": project, "commits_until_cutoff": len(commits), "modes": {}}
    for name, (source, run) in modes.items():
        if only and name.split(" (")[0] not in only and name not in only:
            continue
        started = time.monotonic()
        found = run()
        seconds = time.monotonic() - started
        delays = fix_delays(found, commits)
        ripe = ripening(delays)
        figures = measure(set(found.inducing), labels)
        figures |= {
            "fixes": len(found.fixes),
            "inducing": len(found.inducing),
            "skipped": {k: v for k, v in found.counts().items() if k.startswith("skipped")},
            "ripening_days": ripe.days,
            "seconds": round(seconds, 1),
        }
        if source is not None:
            figures["fix_source"] = source.name
        out["modes"][name] = figures
        log(f"{project} {name}: {json.dumps(figures)}")
    out["blamed_fixes"] = blame.blamed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", default=",".join(PROJECTS))
    parser.add_argument("--jobs", type=int, default=2, help="fixes blamed at a time")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--cache", type=Path, help="keep blame results in this folder")
    parser.add_argument(
        "--modes", help="comma-separated: issue export, message words (default: all three)"
    )
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent", file=sys.stderr)
        return 0
    results = []
    for project in args.projects.split(","):
        if not (MIRRORS / f"apache+{project}" / "repo").is_dir():
            print(f"{project}: no repository at {MIRRORS}, skipped", file=sys.stderr)
            continue
        results.append(
            run_project(
                project,
                args.jobs,
                lambda m: print(m, file=sys.stderr),
                args.cache,
                args.modes.split(",") if args.modes else None,
            )
        )
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    met = all(
        "issue export" in r["modes"]
        and (figures := r["modes"]["issue export"])["precision"] is not None
        and figures["precision"] >= TARGET["precision"]
        and figures["recall"] >= TARGET["recall"]
        for r in results
    )
    print(
        f"target (issue export: precision >= {TARGET['precision']}, recall >= "
        f"{TARGET['recall']} on every project): {'met' if met else 'not met'}"
    )
    return 0


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| project | labelling | fixes | inducing (labelled) | precision | recall | ripening |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for name, f in result["modes"].items():
            rows.append(
                f"| {result['project']} | {name} | {f['fixes']:,} | {f['predicted']:,} | "
                f"{f['precision']} | {f['recall']} | {f['ripening_days']} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
