"""The scoring chain shared by the worker, the CLI and the API: features -> score -> decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gate.explain import Reason, reasons, suggestions
from gate.features import FeatureVector
from gate.features.diff import changed_files, diff_features
from gate.model import RiskModel, Score
from gate.policy import Decision, decide


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


def assess_change(repo: Path, base: str, head: str, model: RiskModel) -> AssessmentResult:
    changes, notes = changed_files(repo, base, head)
    vector = diff_features(changes)
    vector.notes.extend(notes)
    score = model.score(vector)
    return AssessmentResult(
        base=base,
        head=head,
        features=vector,
        score=score,
        decision=decide(score.level),
        reasons=reasons(vector, score),
        suggestions=suggestions(vector),
        model_version=model.version,
    )
