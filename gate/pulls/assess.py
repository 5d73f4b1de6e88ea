"""The scoring chain shared by the worker, the CLI and the API: features -> score -> decision."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.features import FeatureVector
from gate.features.assemble import Services
from gate.features.compute import compute_features
from gate.features.coverage.features import added_line_numbers, coverage_features
from gate.features.coverage.report import CoverageReport
from gate.features.diff import FileChange
from gate.features.history import HistoryIndex, MessageRules
from gate.features.kinds import file_kind
from gate.features.services import Service
from gate.git.objects import ObjectReader
from gate.model.artifact import Level, RiskModel, Score
from gate.model.explain import ExplainContext, Reason, reasons
from gate.policy.decide import Decision, DecisionContext, decide
from gate.policy.exposure import ExposureFacts, ExposurePolicy
from gate.policy.shares import Distribution
from gate.pulls.advice import Advice, Outcome, advise
from gate.pulls.advice import Change as AdviceInput
from gate.pulls.exposure_facts import exposure_facts

if TYPE_CHECKING:
    from gate.policy.schema import Policy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowScore:
    """What the repository's model in shadow says of a change; recorded, never acted on."""

    model_version: str
    probability: float
    level: Level


@dataclass
class AssessmentResult:
    base: str
    head: str
    features: FeatureVector
    score: Score
    decision: Decision
    reasons: list[Reason]
    advice: Advice = field(default_factory=lambda: Advice([]))
    model_version: str = ""
    services: list[Service] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the changed files
    shadow: ShadowScore | None = None

    @property
    def suggestions(self) -> list[str]:
        """What would lower the risk, in words: each step with the level and score it gives."""
        return self.advice.lines()

    def row_fields(self) -> dict[str, Any]:
        """The assessments table's columns this result fills."""
        fields: dict[str, Any] = {
            "features": dict(self.features.values),
            "feature_schema_version": self.features.schema_version,
            "notes": list(self.features.notes),
            "model_version": self.model_version,
            "score": self.score.probability,
            "level": self.decision.level,
            "decision": self.decision.verdict,
            "would_decide": self.decision.would,
            "mode": self.decision.mode,
            "reasons": [reason.to_json() for reason in self.reasons],
            "rank": self.decision.rank,
        }
        if self.shadow is not None:
            fields["shadow_model_version"] = self.shadow.model_version
            fields["shadow_score"] = self.shadow.probability
            fields["shadow_level"] = self.shadow.level
        return fields


def incident_features(
    touched: Sequence[Service], incidents: Mapping[str, int] | None
) -> dict[str, float | None]:
    """service_incidents_90d: regressions the watch found in the touched services (or in no one
    service); missing where the store's outcomes are not at hand (`gate assess`, training)."""
    if incidents is None:
        return {}
    count = incidents.get("*", 0) + sum(incidents.get(service.name, 0) for service in touched)
    return {"service_incidents_90d": float(count)}


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
    shadow: RiskModel | None = None,
    objects: ObjectReader | None = None,
    service_incidents: Mapping[str, int] | None = None,
    distribution: Distribution | None = None,
) -> AssessmentResult:
    computed = compute_features(
        repo, base, head, index=index, rules=rules, services=services, objects=objects
    )
    # only coverage needs the added lines, and finding them parses the whole patch again
    patch = computed.diff.patch if coverage is not None else None
    added = added_line_numbers(patch) if patch else {}
    touched = [change.path for change in computed.diff.changes]
    coverage_values, coverage_notes = coverage_features(coverage, added, touched)
    report_notes = coverage.notes[:3] if coverage is not None else []
    distribution, distribution_notes = usable(distribution, model)
    vector = computed.vector.merge(
        {**coverage_values, **incident_features(computed.services, service_incidents)},
        [*(notes or []), *coverage_notes, *report_notes, *distribution_notes],
    )
    services = services or Services()
    when = now or datetime.now(UTC)
    changes = computed.diff.changes
    facts = exposure_facts(changes, services, coverage, added)

    def judged(
        scored_vector: FeatureVector, scored_facts: ExposureFacts | None, paths: Sequence[str]
    ) -> tuple[Score, Decision]:
        scored = model.score(scored_vector)
        context = DecisionContext(
            paths=paths, now=when, exposure=scored_facts, distribution=distribution
        )
        return scored, decide(scored.probability, scored.level, policy, context)

    def rescore(
        step_vector: FeatureVector, step_facts: ExposureFacts | None, paths: Sequence[str]
    ) -> Outcome:
        scored, decided = judged(step_vector, step_facts, paths)
        return Outcome(scored.probability, decided.level, decided.effective)

    def subset_vector(subset: Sequence[FileChange]) -> FeatureVector:
        assert computed.recompute is not None
        paths = [change.path for change in subset]
        kept = {path: lines for path, lines in added.items() if path in paths}
        values, _ = coverage_features(coverage, kept, paths) if coverage is not None else ({}, [])
        extra = incident_features(services.touched(paths), service_incidents)
        return computed.recompute(subset).merge({**values, **extra})

    score, decision = judged(vector, facts, touched)
    source_churn = sum(c.churn for c in changes if file_kind(c.path, c.binary) == "source")
    context = ExplainContext(
        services=[(s.name, s.tier) for s in computed.services],
        churn=sum(c.churn for c in changes),
        source_churn=source_churn,
    )
    exposure_policy = policy.exposure if policy is not None else ExposurePolicy()
    advice = advise(
        AdviceInput(
            changes,
            vector,
            facts,
            _uncovered_by_file(coverage, added),
            Outcome(score.probability, decision.level, decision.effective),
            decision.rules,
        ),
        rescore,
        subset_vector if computed.recompute is not None else None,
        lambda subset: exposure_facts(subset, services, coverage, added),
        exposure_policy.min_patch_coverage,
    )
    return AssessmentResult(
        base=base,
        head=head,
        features=vector,
        score=score,
        decision=decision,
        reasons=reasons(vector, score, context=context),
        advice=advice,
        model_version=model.version,
        services=computed.services,
        paths=touched,
        shadow=shadow_score(shadow, vector) if shadow is not None else None,
    )


def usable(
    distribution: Distribution | None, model: RiskModel
) -> tuple[Distribution | None, list[str]]:
    """The distribution when the model that scores the change computed it; else None, said."""
    if distribution is None or distribution.model_version == model.version:
        return distribution, []
    return None, [
        f"this repository's changes were scored by model {distribution.model_version}, not "
        f"{model.version}: the model's own thresholds stand until they are scored again"
    ]


def shadow_score(shadow: RiskModel, vector: FeatureVector) -> ShadowScore | None:
    """The shadow model's score of the vector the decision used, or None when it cannot score."""
    try:
        scored = shadow.score(vector)
    except Exception:
        # a model under trial must never cost a change its decision
        log.warning("shadow model %s could not score the change", shadow.version, exc_info=True)
        return None
    return ShadowScore(shadow.version, scored.probability, scored.level)


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
