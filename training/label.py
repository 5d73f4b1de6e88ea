"""Label mined changes: SZZ on bug fixes, reverts, and the service's rollbacks and incidents."""

from __future__ import annotations

import bisect
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gate.features.history import DAY, DEFAULT_FIX_PATTERN, MessageRules
from gate.git.cmd import resolve
from training.fixes import FixSource, MessageWords
from training.mechanical import commit_sizes, mechanical_reason
from training.szz import (
    MAX_FIX_FILES,
    MAX_FIX_LINES,
    Commit,
    FixRules,
    Limits,
    SzzResult,
    log_commits,
    szz,
)

RECENT_DAYS = 90  # the ripening period when the fix delays are too few to learn it from
RIPEN_QUANTILE = 0.75  # of the delays between an inducing commit and its fix
RIPEN_MIN_DAYS = 30
RIPEN_MAX_DAYS = 365
RIPEN_MIN_PAIRS = 20
LABEL_COLUMNS = ("bug", "label_rules", "labelled_until", "ripening_days", "fix_source")
DEFAULT_LIMITS = Limits()
RULE_ORDER = ("szz", "revert", "rollback", "incident")

OutcomeRule = Literal["rollback", "incident"]
Blame = Callable[..., SzzResult]  # training.szz.szz, or a caching stand-in


@dataclass(frozen=True)
class Outcome:
    """A deployed change the service saw fail: rolled back, or blamed in an incident."""

    sha: str
    rule: OutcomeRule
    ref: str | None = None  # the deployment or incident id, when there is one


@dataclass(frozen=True)
class Ripening:
    """How long a change waits before "no fix found" reads as clean, and why that long."""

    days: float
    learnt_from: int  # (inducing, fix) pairs whose delays set it; 0 when given or defaulted
    quantile: float | None = None


def label_table(
    repo: Path,
    features: pd.DataFrame,
    *,
    fix_pattern: str = DEFAULT_FIX_PATTERN,
    issue_pattern: str | None = None,
    fixes: FixSource | None = None,
    ignore_revs: Path | None = None,
    max_fix_files: int = MAX_FIX_FILES,
    max_fix_lines: int = MAX_FIX_LINES,
    recent_days: float | None = None,
    outcomes: Iterable[Outcome | tuple[str, str]] = (),
    revisions: Sequence[str] = ("HEAD",),
    as_of: int | None = None,
    jobs: int = 2,
    show_progress: bool = True,
) -> pd.DataFrame:
    """The features with `bug` (1, 0, or <NA> when unlabelled), `label_rules` (which rules
    marked the change, e.g. "szz:<fix>,revert:<revert>"), `labelled_until` (unix seconds),
    `ripening_days` and `fix_source` (what decided which commits are fixes).

    Fixes come from `fixes` (an issue export, GitHub's bug issues); without one, from message
    words (`fix_pattern`, `issue_pattern`). Changes newer than `as_of` (default: the newest
    change in `features`) minus the ripening period stay unlabelled: their bugs are not found
    yet, so "clean" would be a guess. The period is `recent_days` when given, else learnt from
    the fix delays found here (see `ripening`). Their rules are still listed.
    """
    source = fixes or MessageWords(FixRules(fix_pattern, issue_pattern))
    if features.empty:
        return _with_labels(features, {}, 0, Ripening(float(recent_days or 0), 0), source)
    commits = log_commits(repo, revisions)
    known = _ShaIndex(features["sha"].astype(str))
    rules: dict[str, list[str]] = {}
    with _progress(show_progress) as progress:
        task = progress.add_task("SZZ: blaming bug fixes", total=None)
        found = inducing_commits(
            repo,
            commits,
            source,
            ignore_revs=ignore_revs,
            limits=Limits(max_fix_files, max_fix_lines),
            jobs=jobs,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    for inducing, by_fixes in found.inducing.items():
        _add(rules, known.find(inducing), [f"szz:{fix}" for fix in by_fixes])
    for reverted, revert in reverts(repo, commits, MessageRules(fix_pattern)):
        _add(rules, known.find(reverted), [f"revert:{revert}"])
    for outcome in outcomes:
        sha, rule, ref = _outcome(outcome)
        _add(rules, known.find(sha), [f"{rule}:{ref}" if ref else rule])
    ripe = (
        Ripening(float(recent_days), 0)
        if recent_days is not None
        else ripening(fix_delays(found, commits))
    )
    newest = int(features["time"].max()) if as_of is None else as_of
    return _with_labels(features, rules, newest - int(ripe.days * DAY), ripe, source)


def inducing_commits(
    repo: Path,
    commits: Sequence[Commit],
    source: FixSource,
    *,
    ignore_revs: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    jobs: int = 2,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
    blame: Blame = szz,
) -> SzzResult:
    """SZZ on the fixes `source` names. Huge and mechanical commits (training/mechanical.py)
    are neither fixes nor blamed: a fix that is one is dropped, and blame looks through them
    (as through the ignore-revs) to the commit that wrote the line before."""
    candidates = [commit for commit in commits if commit.parent and source.is_fix(commit)]
    sizes = commit_sizes(repo, [fix.sha for fix in candidates])
    # mechanical ones go before choosing: "the last commit of a bug" is its last real change
    fixes = source.choose([fix for fix in candidates if not mechanical_reason(sizes[fix.sha])])
    total = len(fixes)
    found = blame(
        repo,
        fixes,
        ignore_revs=ignore_revs,
        limits=limits,
        jobs=jobs,
        progress=lambda done: progress(done, total),
    )
    sizes = commit_sizes(repo, found.inducing)
    mechanical = {sha for sha in found.inducing if mechanical_reason(sizes[sha])}
    if not mechanical:
        return found
    again = {fix for sha in mechanical for fix in found.inducing[sha]}
    redo = [fix for fix in fixes if fix.sha in again]
    with tempfile.TemporaryDirectory() as folder:
        ignored = Path(folder) / "ignore-revs"
        listed = ignore_revs.read_text() if ignore_revs is not None else ""
        ignored.write_text(listed + "\n" + "\n".join(sorted(mechanical)) + "\n")
        total = len(fixes) + len(redo)
        redone = blame(
            repo,
            redo,
            ignore_revs=ignored,
            limits=limits,
            jobs=jobs,
            progress=lambda done: progress(len(fixes) + done, total),
        )
    by_fix = {result.fix: result for result in found.fixes}
    for result in redone.fixes:
        # a line git could not blame past a mechanical commit stays unblamed
        by_fix[result.fix] = replace(result, inducing=result.inducing - mechanical)
    return SzzResult.of([by_fix[fix.sha] for fix in fixes])


def fix_delays(found: SzzResult, commits: Iterable[Commit]) -> list[float]:
    """Days from each inducing commit to each fix that blamed it."""
    times = {commit.sha: commit.time for commit in commits}
    return [
        (times[fix] - times[inducing]) / DAY
        for inducing, fixes in found.inducing.items()
        for fix in fixes
        if inducing in times and fix in times and times[fix] >= times[inducing]
    ]


def ripening(
    delays: Sequence[float],
    quantile: float = RIPEN_QUANTILE,
    bounds: tuple[float, float] = (RIPEN_MIN_DAYS, RIPEN_MAX_DAYS),
    min_pairs: int = RIPEN_MIN_PAIRS,
) -> Ripening:
    """The ripening period learnt from the repository's own fix delays: by then `quantile` of
    its bugs were found, within `bounds` days; RECENT_DAYS when the delays are too few."""
    if len(delays) < min_pairs:
        return Ripening(float(RECENT_DAYS), 0)
    learnt = float(np.quantile(np.asarray(delays, dtype=float), quantile))
    return Ripening(round(min(max(learnt, bounds[0]), bounds[1]), 1), len(delays), quantile)


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


def _with_labels(
    features: pd.DataFrame,
    rules: dict[str, list[str]],
    until: int,
    ripe: Ripening,
    source: FixSource,
) -> pd.DataFrame:
    out = features.copy()
    listed = out["sha"].astype(str).map(lambda sha: _rule_text(rules.get(sha, [])))
    labelled = out["time"].astype("int64") <= until
    bug = pd.Series(pd.NA, index=out.index, dtype="Int8")
    bug[labelled] = (listed[labelled] != "").astype("int8")
    out["bug"] = bug
    out["label_rules"] = listed
    out["labelled_until"] = int(until)
    out["ripening_days"] = float(ripe.days)
    out["fix_source"] = source.name
    out.attrs["ripening"] = {
        "days": ripe.days,
        "learnt_from_pairs": ripe.learnt_from,
        "quantile": ripe.quantile,
    }
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
