"""What would lower the risk: steps a person can take, each applied to the change and rescored."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from gate.features import FeatureVector
from gate.features.diff import FileChange
from gate.features.kinds import file_kind
from gate.policy.exposure import RANK, ExposureFacts, ServiceCoverage

LARGE_SOURCE_LINES = 400
MIN_DROP = 0.005  # a step must lower the score by more than this, or lower the verdict
MAX_STEPS = 3
LOCK_NAMES = frozenset(
    {
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "uv.lock",
        "pipfile.lock",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "mix.lock",
        "go.sum",
        "gradle.lockfile",
        "flake.lock",
    }
)


@dataclass(frozen=True)
class Outcome:
    probability: float
    level: str
    verdict: str

    def words(self) -> str:
        return f"{self.level} {self.probability:.2f}"


@dataclass(frozen=True)
class Step:
    kind: str  # cover | coverage_report | split_mechanical | split_area | split_size
    action: str
    before: Outcome
    after: Outcome

    @property
    def text(self) -> str:
        change = f"{self.before.words()} -> {self.after.words()}"
        if self.after.verdict != self.before.verdict:
            change += f", {self.after.verdict} instead of {self.before.verdict}"
        return f"{self.action}: {change}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


@dataclass(frozen=True)
class Advice:
    steps: list[Step]
    none_because: str | None = None  # a held change without a step is told why

    def lines(self) -> list[str]:
        texts = [step.text for step in self.steps]
        return texts + ([self.none_because] if self.none_because else [])


# (vector, exposure facts, paths) -> what the policy would then decide
Rescore = Callable[[FeatureVector, ExposureFacts | None, Sequence[str]], Outcome]
Recompute = Callable[[Sequence[FileChange]], FeatureVector]
FactsOf = Callable[[Sequence[FileChange]], ExposureFacts]


@dataclass(frozen=True)
class Change:
    """The change as advice sees it: its files, vector, exposure and what the policy decided."""

    changes: Sequence[FileChange]
    vector: FeatureVector
    facts: ExposureFacts | None
    uncovered: Mapping[str, int]  # uncovered added lines per file
    now: Outcome
    rules: Sequence[str]  # the decision's rules, in words


def advise(
    change: Change,
    rescore: Rescore,
    recompute: Recompute | None,
    facts_of: FactsOf | None,
    min_patch_coverage: float,
) -> Advice:
    """The steps that lower the score or the verdict, best first; a hold is told if none does."""
    paths = [c.path for c in change.changes]
    steps: list[Step] = []
    tried: list[str] = []

    def consider(kind: str, action: str, outcomes: Sequence[Outcome]) -> None:
        tried.append(kind)
        # a split is as risky as its riskiest part
        after = max(outcomes, key=lambda o: (RANK[o.verdict], o.probability))  # type: ignore[index]
        lowers_verdict = RANK[after.verdict] < RANK[change.now.verdict]  # type: ignore[index]
        if lowers_verdict or after.probability < change.now.probability - MIN_DROP:
            steps.append(Step(kind, action, change.now, after))

    for kind, action, vector, facts in _cover(change) + _report(change, min_patch_coverage):
        consider(kind, action, [rescore(vector, facts, paths)])
    if recompute is not None:
        for kind, action, parts in _splits(change.changes):
            outcomes = []
            for part in parts:
                facts = facts_of(part) if facts_of is not None and change.facts else None
                outcomes.append(rescore(recompute(part), facts, [c.path for c in part]))
            consider(kind, action, outcomes)
    steps.sort(key=lambda s: (RANK[s.after.verdict], s.after.probability))  # type: ignore[index]
    steps = steps[:MAX_STEPS]
    if steps or change.now.verdict != "hold":
        return Advice(steps)
    return Advice([], _why_none(change, tried))


Candidate = tuple[str, str, FeatureVector, ExposureFacts | None]


def _cover(change: Change) -> list[Candidate]:
    facts = change.facts
    uncovered = {path: n for path, n in change.uncovered.items() if n > 0}
    missing = sum(s.uncovered or 0 for s in facts.services) if facts else sum(uncovered.values())
    if not missing:
        return []
    worst = sorted(uncovered.items(), key=lambda item: item[1], reverse=True)[:3]
    where = ", ".join(f"`{path}` ({count})" for path, count in worst)
    critical = [s.name for s in facts.critical() if s.uncovered] if facts else []
    scope = f" in {', '.join(critical)}" if critical else ""
    action = f"cover the {missing:,} uncovered added lines{scope}" + (
        f" ({where})" if where else ""
    )
    vector = _with(change.vector, {"patch_coverage": 1.0, "uncovered_added_lines": 0.0})
    covered_facts = (
        replace(
            facts,
            services=[_covered(s) for s in facts.services],
            patch_coverage=1.0 if facts.patch_coverage is not None else None,
        )
        if facts
        else None
    )
    return [("cover", action, vector, covered_facts)]


def _report(change: Change, minimum: float) -> list[Candidate]:
    facts = change.facts
    if facts is None or facts.has_coverage or not facts.critical():
        return []
    names = ", ".join(s.name for s in facts.critical())
    assumed = replace(
        facts,
        has_coverage=True,
        patch_coverage=minimum,
        services=[
            replace(s, executable_added=100, covered_added=round(minimum * 100))
            for s in facts.services
        ],
    )
    action = (
        f"upload a coverage report for this commit showing at least {minimum:.0%} of the added "
        f"lines in {names} covered"
    )
    return [("coverage_report", action, change.vector, assumed)]


def _splits(changes: Sequence[FileChange]) -> list[tuple[str, str, list[list[FileChange]]]]:
    """Ways to split the change into pull requests, each as its parts."""
    found: list[tuple[str, str, list[list[FileChange]]]] = []
    mechanical = [c for c in changes if _mechanical(c)]
    rest = [c for c in changes if not _mechanical(c)]
    if mechanical and any(_is_source(c) for c in rest):
        names = ", ".join(f"`{c.path}`" for c in mechanical[:3])
        more = f" and {len(mechanical) - 3} more" if len(mechanical) > 3 else ""
        what = "lock-file update" if all(_is_lock(c) for c in mechanical) else "generated files"
        found.append(
            # scored on what stays: the mechanical part is judged as such in its own request
            (
                "split_mechanical",
                f"move the {what} ({names}{more}) into its own pull request",
                [rest],
            )
        )
    areas = _areas(rest)
    if len(areas) >= 2:
        ranked = sorted(areas.items(), key=lambda item: -_source_churn(item[1]))
        kept_name, kept = ranked[0]
        others = [name for name, _ in ranked[1:]]
        shared = [c for c in rest if not any(c in files for files in areas.values())]
        found.append(
            (
                "split_area",
                f"move the changes to {', '.join(others)} into their own pull request, apart from "
                f"{kept_name} (tests stay with the code they test)",
                [kept + shared, *(files for _, files in ranked[1:])],
            )
        )
    source = _source_churn(rest)
    parts = _pieces(rest)
    if source > LARGE_SOURCE_LINES and len(parts) >= 2:
        found.append(
            (
                "split_size",
                f"split the {source:,} changed source lines into {len(parts)} pull requests of "
                f"at most about {LARGE_SOURCE_LINES} lines each",
                parts,
            )
        )
    return found


def _areas(changes: Sequence[FileChange]) -> dict[str, list[FileChange]]:
    """Source files grouped by top-level area; each test joins the area of the code it tests."""
    areas: dict[str, list[FileChange]] = {}
    for change in changes:
        if _is_source(change):
            areas.setdefault(_area(change.path), []).append(change)
    stems = {PurePosixPath(c.path).stem: _area(c.path) for files in areas.values() for c in files}
    for change in changes:
        if file_kind(change.path, change.binary) != "test" or not areas:
            continue
        stem = PurePosixPath(change.path).stem
        tested = stem.removeprefix("test_").removesuffix("_test").removesuffix("Test")
        home = stems.get(tested) or (_area(change.path) if _area(change.path) in areas else None)
        if home is None:
            home = max(areas, key=lambda name: _source_churn(areas[name]))
        areas[home].append(change)
    return areas


def _pieces(changes: Sequence[FileChange]) -> list[list[FileChange]]:
    """Whole files in path order, cut into parts of about LARGE_SOURCE_LINES source lines."""
    parts: list[list[FileChange]] = [[]]
    total = 0
    for change in sorted(changes, key=lambda c: c.path):
        lines = change.churn if _is_source(change) else 0
        if parts[-1] and total + lines > LARGE_SOURCE_LINES:
            parts.append([])
            total = 0
        parts[-1].append(change)
        total += lines
    return [part for part in parts if part]


WHAT_WAS_TRIED = {
    "cover": "covering the uncovered lines",
    "coverage_report": "a coverage report",
    "split_mechanical": "moving mechanical files out",
    "split_area": "splitting by area",
    "split_size": "splitting into smaller pull requests",
}


def _why_none(change: Change, tried: Sequence[str]) -> str:
    fired = [rule for rule in change.rules if "always_hold" in rule or "freeze" in rule]
    if fired:
        return f"No change to this pull request lowers it: {fired[0]}. An approver can release it."
    attempts = ", ".join(WHAT_WAS_TRIED[kind] for kind in tried) or "nothing applies"
    return (
        f"No step lowers the risk (tried: {attempts}): what raises it is the history of the "
        "files and services touched, which this pull request cannot change. An approver can "
        "release it."
    )


def _covered(service: ServiceCoverage) -> ServiceCoverage:
    return replace(service, covered_added=service.executable_added)


def _with(vector: FeatureVector, values: Mapping[str, float]) -> FeatureVector:
    present = {name: value for name, value in values.items() if name in vector.values}
    return vector.merge(present) if present else vector


def _area(path: str) -> str:
    parts = path.split("/")
    return f"{parts[0]}/" if len(parts) > 1 else "the repository root"


def _is_source(change: FileChange) -> bool:
    return file_kind(change.path, change.binary) == "source"


def _is_lock(change: FileChange) -> bool:
    return PurePosixPath(change.path).name.lower() in LOCK_NAMES


def _mechanical(change: FileChange) -> bool:
    return _is_lock(change) or file_kind(change.path, change.binary) == "generated"


def _source_churn(changes: Sequence[FileChange]) -> int:
    return sum(c.churn for c in changes if _is_source(c))
