"""The feature vector of a live change (a PR, a deployment's change set, a local range)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gate.features import FeatureVector
from gate.features.assemble import Services, assemble
from gate.features.blobs import BlobReader
from gate.features.diff import Diff, FileChange, read_diff
from gate.features.history import HistoryIndex, MessageRules, change_of
from gate.features.services import Service
from gate.git.commit_range import head_commit
from gate.git.objects import ObjectReader


@dataclass
class ComputedFeatures:
    vector: FeatureVector
    diff: Diff
    services: list[Service] = field(default_factory=list)
    # the same change's vector had it held only these files (for "what would lower the risk")
    recompute: Callable[[Sequence[FileChange]], FeatureVector] | None = None


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

    def vector_of(changes: Sequence[FileChange]) -> FeatureVector:
        change = change_of(time, author, message, list(changes))
        if objects is not None:
            lines_before = objects.lines_before(base, change.paths)
        else:
            with BlobReader(repo) as blobs:
                lines_before = blobs.lines_before(base, change.paths)
        return assemble(
            list(changes),
            lines_before=lines_before,
            change=change,
            index=index,
            rules=rules,
            services=services,
            notes=diff.notes,
        )

    whole = change_of(time, author, message, diff.changes)
    return ComputedFeatures(
        vector_of(diff.changes), diff, services.touched(whole.new_paths), vector_of
    )
