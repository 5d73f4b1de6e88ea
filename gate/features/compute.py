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
from gate.git.commit_range import head_commit
from gate.git.objects import ObjectReader


@dataclass
class ComputedFeatures:
    vector: FeatureVector
    diff: Diff
    services: list[Service] = field(default_factory=list)


def compute_features(
    repo: Path,
    base: str,
    head: str,
    *,
    index: HistoryIndex | None = None,
    rules: MessageRules | None = None,
    services: Services | None = None,
    objects: ObjectReader | None = None,
) -> ComputedFeatures:
    """The change's features; `objects`, a kept reader of `repo`, saves starting git processes."""
    rules = rules or MessageRules()
    services = services or Services()
    diff = read_diff(repo, base, head, objects)
    time, author, message = head_commit(repo, base, head, objects)
    change = change_of(time, author, message, diff.changes)
    if objects is not None:
        lines_before = objects.lines_before(base, change.paths)
    else:
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
