"""Turn the model's per-feature contributions into reasons a developer can read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gate.features import CATALOG, FeatureVector
from gate.model.artifact import Score

# contributions smaller than this (log-odds) are noise, not reasons
MIN_CONTRIBUTION = 0.02
# more of these guards a change: a model may still give one a positive contribution (an
# experienced author's changes are larger), but telling a person it raises the risk is wrong
PROTECTIVE = frozenset(
    {"exp", "rexp", "sexp", "patch_coverage", "touched_files_coverage", "test_churn_ratio"}
)
# features that count lines or files of the whole change, whatever kind of file they are in
SIZE = frozenset({"la", "ld", "nf", "nd", "ns", "entropy", "hunks", "largest_file_churn", "lt"})


@dataclass(frozen=True)
class ExplainContext:
    """What the words may name beyond the numbers: the services touched, with their tiers, and
    how much of the change is source code (None: unknown)."""

    services: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (name, tier)
    churn: int | None = None  # lines added and deleted, all files
    source_churn: int | None = None  # of those, in source files

    def critical_services(self) -> list[str]:
        return [name for name, tier in self.services if tier == "critical"]


def _n(count: float, one: str, many: str) -> str:
    return f"{count:,.0f} {one if round(count) == 1 else many}"


def _services_words(value: float, context: ExplainContext) -> str:
    critical = context.critical_services()
    if critical:
        plural = "s" if len(critical) > 1 else ""
        return f"touches the {', '.join(critical)} service{plural} (critical)"
    return "touches no critical service" if value == 0 else "touches a critical service"


_TIER_WORDS = {2: "touches a critical service", 1: "touches a standard service", 0: "low tier only"}

Words = Callable[[float, ExplainContext], str]
_WORDS: dict[str, Words] = {
    "la": lambda v, _: _n(v, "line added", "lines added"),
    "ld": lambda v, _: _n(v, "line deleted", "lines deleted"),
    "nf": lambda v, _: _n(v, "file changed", "files changed"),
    "nd": lambda v, _: f"spans {_n(v, 'directory', 'directories')}",
    "ns": lambda v, _: f"touches {_n(v, 'top-level area', 'top-level areas')} of the repository",
    "entropy": lambda v, _: f"change spread across files (entropy {v:.1f} bits)",
    "hunks": lambda v, _: _n(v, "separate hunk", "separate hunks"),
    "largest_file_churn": lambda v, _: f"{v:,.0f} lines changed in a single file",
    "test_churn_ratio": lambda v, _: f"{v:.2f} test lines changed per source line",
    "files_deleted": lambda v, _: _n(v, "file deleted", "files deleted"),
    "files_renamed": lambda v, _: _n(v, "file renamed", "files renamed"),
    "services_touched": lambda v, _: f"touches {_n(v, 'service', 'services')}",
    "max_service_tier": lambda v, c: (
        _services_words(1, c) if v >= 2 else _TIER_WORDS.get(round(v), "tier unknown")
    ),
    "touches_critical": _services_words,
    "service_changes_30d": lambda v, _: f"the touched services changed {v:,.0f} times in 30 days",
    "service_changes_90d": lambda v, _: f"the touched services changed {v:,.0f} times in 90 days",
    "service_reverts_90d": lambda v, _: (
        f"{_n(v, 'revert', 'reverts')} in these services in 90 days"
    ),
    "service_incidents_90d": lambda v, _: (
        f"{_n(v, 'rollback or incident', 'rollbacks or incidents')} in these services in 90 days"
    ),
    "patch_coverage": lambda v, _: f"{v:.0%} of added lines covered by tests",
    "uncovered_added_lines": lambda v, _: f"{v:,.0f} added lines not covered by tests",
    "touched_files_coverage": lambda v, _: f"the changed files are {v:.0%} covered by tests",
    "lt": lambda v, _: f"{v:,.0f} lines in the changed files",
    "fix": lambda v, _: "fixes a bug" if v else "not a bug fix",
    "ndev": lambda v, _: f"{_n(v, 'developer has', 'developers have')} changed these files",
    "age": lambda v, _: f"the files last changed {v:,.0f} days ago on average",
    "nuc": lambda v, _: f"these files were changed {v:,.0f} times before",
    "exp": lambda v, _: f"the author's experience here: {_n(v, 'file change', 'file changes')}",
    "rexp": lambda v, _: f"the author's recent experience here: {v:,.1f}",
    "sexp": lambda v, _: (
        f"the author's experience in these areas: {_n(v, 'file change', 'file changes')}"
    ),
    "recent_fixes_90d": lambda v, _: f"{_n(v, 'bug fix', 'bug fixes')} in these files in 90 days",
    "recent_reverts_90d": lambda v, _: f"{_n(v, 'revert', 'reverts')} in these files in 90 days",
    "author_revert_share": lambda v, _: f"{v:.0%} of the author's earlier changes were reverted",
    "min_file_age_days": lambda v, _: f"a changed file was last changed {v:,.0f} days ago",
    "author_new_to_service": lambda v, _: (
        "first change by this author in this service"
        if v
        else "the author has changed these services before"
    ),
}


def words(name: str, value: float | None, context: ExplainContext | None = None) -> str:
    """One feature's value in plain words."""
    if value is None:
        return f"{CATALOG[name].definition}: unknown"
    if name.startswith("files_") and name not in _WORDS:
        kind = CATALOG[name].definition.removeprefix("files changed that are ")
        return f"{_n(value, 'file', 'files')} of {kind}"
    render = _WORDS.get(name)
    if render is None:
        return f"{CATALOG[name].definition}: {value:g}"
    return render(value, context or ExplainContext())


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | None
    contribution: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def reasons(
    vector: FeatureVector, score: Score, limit: int = 3, context: ExplainContext | None = None
) -> list[Reason]:
    """The features that raised the risk most, largest first, in plain words.

    A protective feature is never named as raising the risk; a change with no source code is
    never told it fixes a bug; size counted mostly outside source code says so.
    """
    context = context or ExplainContext()
    ranked = sorted(score.contributions.items(), key=lambda item: item[1], reverse=True)
    no_source = context.source_churn == 0
    mostly_elsewhere = (
        context.churn is not None
        and context.source_churn is not None
        and context.churn > 0
        and context.source_churn < context.churn / 2
    )
    found = []
    for feature, contribution in ranked:
        if contribution < MIN_CONTRIBUTION or len(found) == limit:
            break
        if feature in PROTECTIVE or (feature == "fix" and no_source):
            continue
        value = vector.values.get(feature)
        text = words(feature, value, context)
        if feature in SIZE and mostly_elsewhere and feature != "lt":
            text += f", mostly outside source code ({context.source_churn:,} source lines changed)"
        found.append(Reason(feature, value, round(contribution, 4), text))
    return found
