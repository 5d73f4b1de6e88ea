"""The scoring chain shared by the worker, the CLI and the API: features -> score -> decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gate.explain import ExplainContext, Reason, reasons, suggestions
from gate.features import FeatureVector
from gate.features.assemble import Services
from gate.features.compute import compute_features
from gate.features.coverage import CoverageReport, added_line_numbers, coverage_features
from gate.features.history import HistoryIndex, MessageRules
from gate.features.services import Service
from gate.model import RiskModel, Score
from gate.policy import Decision, DecisionContext, decide

if TYPE_CHECKING:
    from gate.policy_config import Policy


@dataclass
class AssessmentResult:
    base: str
    head: str
    features: FeatureVector
    score: Score
    decision: Decision
    reasons: list[Reason]
    suggestions: list[str] = field(default_factory=list)
    model_version: str = ""
    services: list[Service] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the changed files


def assess_change(
    repo: Path,
    base: str,
    head: str,
    model: RiskModel,
    *,
    index: HistoryIndex | None = None,
    services: Services | None = None,
    rules: MessageRules | None = None,
    coverage: CoverageReport | None = None,
    notes: list[str] | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> AssessmentResult:
    computed = compute_features(repo, base, head, index=index, rules=rules, services=services)
    added = added_line_numbers(computed.diff.patch) if computed.diff.patch else {}
    touched = [change.path for change in computed.diff.changes]
    coverage_values, coverage_notes = coverage_features(coverage, added, touched)
    report_notes = coverage.notes[:3] if coverage is not None else []
    vector = computed.vector.merge(
        coverage_values, [*(notes or []), *coverage_notes, *report_notes]
    )
    score = model.score(vector)
    context = ExplainContext(services=[(s.name, s.tier) for s in computed.services])
    decision = decide(
        score.probability,
        score.level,
        policy,
        DecisionContext(paths=touched, now=now or datetime.now(UTC)),
    )
    return AssessmentResult(
        base=base,
        head=head,
        features=vector,
        score=score,
        decision=decision,
        reasons=reasons(vector, score, context=context),
        suggestions=suggestions(vector, _uncovered_by_file(coverage, added)),
        model_version=model.version,
        services=computed.services,
        paths=touched,
    )


def _uncovered_by_file(
    coverage: CoverageReport | None, added: dict[str, list[int]]
) -> dict[str, int]:
    if coverage is None:
        return {}
    counts = {}
    for path, numbers in added.items():
        lines = coverage.get(path)
        if lines is not None:
            missing = sum(1 for n in numbers if n in lines.executable and n not in lines.covered)
            if missing:
                counts[path] = missing
    return counts
