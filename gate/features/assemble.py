"""One feature vector from a change's parts; the service and the miner both build it here."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from gate.features import FeatureVector
from gate.features.codeowners import CodeOwners
from gate.features.diff import FileChange, diff_features
from gate.features.history import HISTORY_FEATURES, Change, HistoryIndex, MessageRules
from gate.features.services import Service, ServicesConfig, service_features, touched_services


@dataclass(frozen=True)
class Services:
    """How paths map to services: .github/risk-gate.yml, else CODEOWNERS, else directories."""

    config: ServicesConfig | None = None
    codeowners: CodeOwners | None = None
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def touched(self, paths: Sequence[str]) -> list[Service]:
        return touched_services(paths, self.config, self.codeowners)

    @cached_property
    def fingerprint(self) -> Hashable:
        """Equal for mappings that send every path to the same service (the history's cache key)."""
        config = self.config.model_dump_json() if self.config else None
        rules = self.codeowners.rules if self.codeowners else ()
        return config, tuple((rule.pattern.text, rule.owners) for rule in rules)

    def service_of(self, path: str) -> str:
        name = self._cache.get(path)
        if name is None:
            name = self._cache[path] = touched_services([path], self.config, self.codeowners)[
                0
            ].name
        return name


def assemble(
    changes: list[FileChange],
    *,
    lines_before: int,
    change: Change,
    index: HistoryIndex | None,
    rules: MessageRules,
    services: Services,
    notes: Sequence[str] = (),
) -> FeatureVector:
    """Diff, service and history features of one change (coverage is merged by the caller)."""
    vector = diff_features(changes).merge({"lt": float(lines_before)}, list(notes))
    vector = vector.merge(service_features(services.touched(change.new_paths)))
    vector = vector.merge(line_shares(vector.get("la"), vector.get("ld"), float(lines_before)))
    if index is None:
        missing = dict.fromkeys(HISTORY_FEATURES) | {"fix": float(rules.is_fix(change.message))}
        return vector.merge(missing, ["no history index yet: history features are missing"])
    return vector.merge(index.features(change, rules, services))


def line_shares(la: float, ld: float, lt: float) -> dict[str, float | None]:
    """`added_share` and `deleted_share`: the change's lines against the files' size (Kamei's
    normalisation, comparable across repositories where raw line counts are not)."""
    return {
        "added_share": la / (la + lt) if la + lt > 0 else None,
        "deleted_share": min(ld / lt, 1.0) if lt > 0 else None,
    }
