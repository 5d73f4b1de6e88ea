"""A repository's score distribution: its recent changes scored by the model, kept beside its
history index and computed again when the model changes or enough new changes arrive."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gate.features.assemble import Services
from gate.features.compute import compute_features
from gate.features.history import DAY, HistoryIndex, MessageRules
from gate.git.cmd import GitError, git
from gate.git.objects import ObjectReader
from gate.model.artifact import RiskModel
from gate.policy.repo_config import repo_services
from gate.policy.shares import Distribution

log = logging.getLogger(__name__)

WINDOW_DAYS = 90
AT_LEAST = 200  # fewer changes than this in the window: the last AT_LEAST changes instead
AT_MOST = 1000  # a busy repository's window is cut to its newest changes
# calibrate again when this many changes arrived since, or a tenth of those scored if more
RECALIBRATE_AFTER = 20


@dataclass(frozen=True)
class Window:
    changes: list[tuple[str, str]]  # (first parent, commit), newest first
    days: int | None  # None: not the window of days, the last len(changes) changes


def scores_file(mirror: Path) -> Path:
    """`<mirror>.scores.json`, beside the history index `<mirror>.history.jsonl`."""
    return mirror.with_name(mirror.name + ".scores.json")


def local_scores_file(repo: Path) -> Path:
    """Where `gate assess` keeps a local repository's distribution: inside its git directory."""
    common = git(repo, "rev-parse", "--git-common-dir").decode().strip()
    return (repo / common).resolve() / "riskgate-scores.json"


def commit_time(repo: Path, rev: str) -> int:
    return int(git(repo, "log", "-1", "--format=%ct", rev).decode().strip())


def recent_changes(
    repo: Path,
    tip: str,
    now: int,
    *,
    days: int = WINDOW_DAYS,
    at_least: int = AT_LEAST,
    at_most: int = AT_MOST,
) -> Window:
    """The first-parent changes of `tip` in the `days` before `now`, or its last `at_least`
    changes when the window holds fewer. A merge is the change it merged (against its first
    parent), as its pull request's check saw it."""
    listing = git(
        repo, "log", "--first-parent", f"--max-count={at_most}", "--format=%H %ct %P", tip
    )
    changes: list[tuple[str, str, int]] = []
    for line in listing.decode().splitlines():
        sha, time, *parents = line.split()
        if parents:  # a root commit has nothing to compare against
            changes.append((parents[0], sha, int(time)))
    recent = [(base, sha) for base, sha, time in changes if time >= now - days * DAY]
    if len(recent) >= at_least:
        return Window(recent, days)
    return Window([(base, sha) for base, sha, _ in changes[:at_least]], None)


def calibrate(
    repo: Path,
    tip: str,
    model: RiskModel,
    *,
    index: HistoryIndex,
    now: int,
    rules: MessageRules | None = None,
    objects: ObjectReader | None = None,
    window: Window | None = None,
    scored: dict[str, float] | None = None,
) -> Distribution:
    """Score the recent changes of `tip` as a pull request's check scores a change.

    `scored` (commit -> score, by this model) is read and filled: a calibration again after a
    few new changes scores only those.
    """
    scored = {} if scored is None else scored
    tip_sha = git(repo, "rev-parse", "--verify", f"{tip}^{{commit}}").decode().strip()
    window = window or recent_changes(repo, tip_sha, now)
    # a kept reader saves a few git processes per change: ten times faster on a long window
    reader = objects or ObjectReader(repo)
    try:
        services, _ = repo_services(repo, tip_sha, reader)
        scores = _scores(repo, window, model, index, rules, reader, services, scored)
    finally:
        if objects is None:
            reader.close()
    return Distribution.of(scores, model.version, tip_sha, window.days, now)


def _scores(
    repo: Path,
    window: Window,
    model: RiskModel,
    index: HistoryIndex,
    rules: MessageRules | None,
    objects: ObjectReader,
    services: Services,
    scored: dict[str, float],
) -> list[float]:
    scores = []
    for base, sha in window.changes:
        if sha in scored:
            scores.append(scored[sha])
            continue
        try:
            computed = compute_features(
                repo, base, sha, index=index, rules=rules, services=services, objects=objects
            )
            scored[sha] = model.score(computed.vector).probability
            scores.append(scored[sha])
        except Exception:
            # one change git cannot read leaves the others' scores standing
            log.warning("calibration: could not score %s in %s", sha, repo, exc_info=True)
    return scores


def stale(distribution: Distribution | None, repo: Path, tip: str, model_version: str) -> str:
    """Why the distribution must be computed again ("" when it need not)."""
    if distribution is None:
        return "not calibrated yet"
    if distribution.model_version != model_version:
        return f"calibrated for model {distribution.model_version}"
    try:
        new = git(repo, "rev-list", "--first-parent", "--count", f"{distribution.tip}..{tip}")
    except GitError:
        return "its calibration's tip is gone"
    arrived = int(new.decode().strip() or 0)
    if arrived >= max(RECALIBRATE_AFTER, distribution.count // 10):
        return f"{arrived} new changes since it was calibrated"
    return ""


def load(path: Path) -> Distribution | None:
    try:
        return Distribution.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("calibration: %s is unreadable; calibrating again", path, exc_info=True)
        return None


def save(path: Path, distribution: Distribution) -> None:
    """Write the file whole or not at all: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "w") as written:
        written.write(distribution.to_json())
    os.replace(temporary, path)


def ensure(
    path: Path,
    repo: Path,
    tip: str,
    model: RiskModel,
    *,
    index: HistoryIndex,
    now: int,
    rules: MessageRules | None = None,
    objects: ObjectReader | None = None,
) -> Distribution:
    """The stored distribution, calibrated again first when it is stale."""
    distribution = load(path)
    if stale(distribution, repo, tip, model.version) or distribution is None:
        distribution = calibrate(
            repo, tip, model, index=index, now=now, rules=rules, objects=objects
        )
        try:
            save(path, distribution)
        except OSError:
            log.warning("calibration: cannot keep %s", path, exc_info=True)
    return distribution
