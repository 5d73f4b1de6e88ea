"""The feature vector of a live change (a PR, a deployment's change set, a local range)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gate.features import FeatureVector
from gate.features.assemble import Services, assemble
from gate.features.blobs import BlobReader
from gate.features.diff import Diff, read_diff
from gate.features.history import HistoryIndex, MessageRules, change_of
from gate.features.services import Service
from gate.gitcmd import git

_SEP = "\x1f"


@dataclass
class ComputedFeatures:
    vector: FeatureVector
    diff: Diff
    services: list[Service] = field(default_factory=list)


def head_commit(repo: Path, base: str, head: str) -> tuple[int, str, str]:
    """(committer time, author email, messages of base..head) of the change."""
    time, author = git(repo, "log", "-1", f"--format=%ct{_SEP}%ae", head).decode().split(_SEP)
    messages = git(repo, "log", "--format=%B", f"{base}..{head}", "--").decode("utf-8", "replace")
    return int(time), author.strip(), messages.strip()


def compute_features(
    repo: Path,
    base: str,
    head: str,
    *,
    index: HistoryIndex | None = None,
    rules: MessageRules | None = None,
    services: Services | None = None,
) -> ComputedFeatures:
    rules = rules or MessageRules()
    services = services or Services()
    diff = read_diff(repo, base, head)
    time, author, message = head_commit(repo, base, head)
    change = change_of(time, author, message, diff.changes)
    with BlobReader(repo) as blobs:
        lines_before = blobs.lines_before(base, change.paths)
    vector = assemble(
        diff.changes,
        lines_before=lines_before,
        change=change,
        index=index,
        rules=rules,
        services=services,
        notes=diff.notes,
    )
    return ComputedFeatures(vector, diff, services.touched(change.new_paths))
