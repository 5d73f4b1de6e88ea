"""Label mined changes: SZZ on bug fixes, reverts, and the service's rollbacks and incidents."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gate.features.history import DAY, DEFAULT_FIX_PATTERN, MessageRules
from gate.git.cmd import resolve
from training.szz import (
    MAX_FIX_FILES,
    MAX_FIX_LINES,
    Commit,
    FixRules,
    Limits,
    find_fixes,
    log_commits,
    szz,
)

RECENT_DAYS = 90
LABEL_COLUMNS = ("bug", "label_rules", "labelled_until")
RULE_ORDER = ("szz", "revert", "rollback", "incident")

OutcomeRule = Literal["rollback", "incident"]


@dataclass(frozen=True)
class Outcome:
    """A deployed change the service saw fail: rolled back, or blamed in an incident."""

    sha: str
    rule: OutcomeRule
    ref: str | None = None  # the deployment or incident id, when there is one


def label_table(
    repo: Path,
    features: pd.DataFrame,
    *,
    fix_pattern: str = DEFAULT_FIX_PATTERN,
    issue_pattern: str | None = None,
    ignore_revs: Path | None = None,
    max_fix_files: int = MAX_FIX_FILES,
    max_fix_lines: int = MAX_FIX_LINES,
    recent_days: int = RECENT_DAYS,
    outcomes: Iterable[Outcome | tuple[str, str]] = (),
    revisions: Sequence[str] = ("HEAD",),
    as_of: int | None = None,
    jobs: int = 2,
    show_progress: bool = True,
) -> pd.DataFrame:
    """The features with `bug` (1, 0, or <NA> when unlabelled), `label_rules` (which rules
    marked the change, e.g. "szz:<fix>,revert:<revert>") and `labelled_until` (unix seconds).

    Changes newer than `as_of` (default: the newest change in `features`) minus `recent_days`
    stay unlabelled: their bugs are not found yet, so "clean" would be a guess. Their rules are
    still listed.
    """
    if features.empty:
        return _with_labels(features, {}, 0)
    commits = log_commits(repo, revisions)
    known = _ShaIndex(features["sha"].astype(str))
    rules: dict[str, list[str]] = {}
    fixes = find_fixes(commits, FixRules(fix_pattern, issue_pattern))
    with _progress(show_progress) as progress:
        task = progress.add_task("SZZ: blaming bug fixes", total=len(fixes))
        found = szz(
            repo,
            fixes,
            ignore_revs=ignore_revs,
            limits=Limits(max_fix_files, max_fix_lines),
            jobs=jobs,
            progress=lambda done: progress.update(task, completed=done),
        )
    for inducing, by_fixes in found.inducing.items():
        _add(rules, known.find(inducing), [f"szz:{fix}" for fix in by_fixes])
    for reverted, revert in reverts(repo, commits, MessageRules(fix_pattern)):
        _add(rules, known.find(reverted), [f"revert:{revert}"])
    for outcome in outcomes:
        sha, rule, ref = _outcome(outcome)
        _add(rules, known.find(sha), [f"{rule}:{ref}" if ref else rule])
    newest = int(features["time"].max()) if as_of is None else as_of
    return _with_labels(features, rules, newest - recent_days * DAY)


def reverts(repo: Path, commits: Iterable[Commit], rules: MessageRules) -> list[tuple[str, str]]:
    """(reverted commit, revert commit) for every `This reverts commit <sha>` message."""
    out = []
    for commit in commits:
        reverted = rules.reverted_sha(commit.message)
        if reverted:
            full = resolve(repo, reverted)
            if full:
                out.append((full, commit.sha))
    return out


def _outcome(outcome: Outcome | tuple[str, str]) -> tuple[str, str, str | None]:
    if isinstance(outcome, Outcome):
        sha, rule, ref = outcome.sha, outcome.rule, outcome.ref
    else:
        sha, rule = outcome
        ref = None
    if rule not in ("rollback", "incident"):
        raise ValueError(f"outcome rule must be 'rollback' or 'incident', not {rule!r}")
    return sha, rule, ref


def _add(rules: dict[str, list[str]], sha: str | None, evidence: list[str]) -> None:
    if sha is not None:
        rules.setdefault(sha, []).extend(evidence)


def _with_labels(features: pd.DataFrame, rules: dict[str, list[str]], until: int) -> pd.DataFrame:
    out = features.copy()
    listed = out["sha"].astype(str).map(lambda sha: _rule_text(rules.get(sha, [])))
    labelled = out["time"].astype("int64") <= until
    bug = pd.Series(pd.NA, index=out.index, dtype="Int8")
    bug[labelled] = (listed[labelled] != "").astype("int8")
    out["bug"] = bug
    out["label_rules"] = listed
    out["labelled_until"] = int(until)
    return out


def _rule_text(evidence: list[str]) -> str:
    """Deterministic: by rule (szz, revert, rollback, incident), then as written."""
    unique = dict.fromkeys(evidence)
    return ",".join(sorted(unique, key=lambda item: (RULE_ORDER.index(item.split(":")[0]), item)))


class _ShaIndex:
    """Full or abbreviated SHAs -> the full SHA of a mined change (None when not mined)."""

    def __init__(self, shas: Iterable[str]) -> None:
        self._full = set(shas)
        self._sorted = sorted(self._full)

    def find(self, sha: str) -> str | None:
        if sha in self._full:
            return sha
        if len(sha) < 7:
            return None
        at = bisect.bisect_left(self._sorted, sha)
        matches = [s for s in self._sorted[at : at + 2] if s.startswith(sha)]
        return matches[0] if len(matches) == 1 else None


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
        transient=True,
    )


def summary(labelled: pd.DataFrame) -> dict[str, int]:
    """How many changes each rule marked, and how many are failing, clean and unlabelled."""
    counts = {
        "changes": len(labelled),
        "failing": int((labelled["bug"] == 1).sum()),
        "clean": int((labelled["bug"] == 0).sum()),
        "unlabelled": int(labelled["bug"].isna().sum()),
    }
    for rule in RULE_ORDER:
        counts[f"by_{rule}"] = int(
            labelled["label_rules"].str.contains(rf"(?:^|,){rule}(?::|,|$)").sum()
        )
    return counts
