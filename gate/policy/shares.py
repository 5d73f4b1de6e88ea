"""Thresholds as shares of a repository's own changes, from its recent changes' scores. Pure."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from gate.model.artifact import Thresholds

MIN_CHANGES = 100  # fewer scored changes than this: the model's own thresholds stand


@dataclass(frozen=True)
class Distribution:
    """The model's scores of a repository's recent changes, and what they were computed from."""

    scores: tuple[float, ...]  # ascending
    model_version: str
    tip: str  # the branch tip the changes were read back from
    days: int | None  # the changes of the last `days` days; None: the last len(scores) changes
    calibrated_at: int  # unix seconds: "now" when the window was cut

    @classmethod
    def of(
        cls,
        scores: list[float],
        model_version: str,
        tip: str,
        days: int | None,
        calibrated_at: int,
    ) -> Distribution:
        return cls(tuple(sorted(scores)), model_version, tip, days, calibrated_at)

    @property
    def count(self) -> int:
        return len(self.scores)

    @property
    def enough(self) -> bool:
        return self.count >= MIN_CHANGES

    def described(self) -> str:
        """Which changes, in words: "250 changes in the last 90 days", "its last 200 changes"."""
        if self.days is not None:
            return f"{self.count} changes in the last {self.days} days"
        return f"its last {self.count} changes"

    def below(self, score: float) -> float:
        """The share of the changes that scored lower than `score`."""
        if not self.scores:
            return 0.0
        return bisect.bisect_left(self.scores, score) / self.count

    def thresholds(self, hold_share: float, review_share: float) -> Thresholds:
        """Hold the riskiest `hold_share` of these changes, review the next `review_share`."""
        n = self.count
        held = min(n, round(n * hold_share))
        flagged = min(n, max(held, round(n * (hold_share + review_share))))
        hold_at = self.scores[n - held] if held else 1.0
        pass_below = self.scores[n - flagged] if flagged else hold_at
        return Thresholds(low_below=min(pass_below, hold_at), high_at_or_above=hold_at)

    def to_json(self) -> str:
        return json.dumps(
            {
                "model_version": self.model_version,
                "tip": self.tip,
                "days": self.days,
                "calibrated_at": self.calibrated_at,
                "scores": [round(score, 6) for score in self.scores],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Distribution:
        data = json.loads(text)
        return cls.of(
            [float(score) for score in data["scores"]],
            str(data["model_version"]),
            str(data["tip"]),
            None if data["days"] is None else int(data["days"]),
            int(data["calibrated_at"]),
        )


def rank_sentence(score: float, distribution: Distribution) -> str:
    """Where a change ranks: "riskier than 97% of this repository's changes in the last 90 days"."""
    # floor, so that "riskier than 100%" is only said of a change above every one of them
    percent = int(distribution.below(score) * 100)
    if distribution.days is not None:
        return (
            f"riskier than {percent}% of this repository's changes in the last "
            f"{distribution.days} days ({distribution.count} changes)"
        )
    return f"riskier than {percent}% of this repository's last {distribution.count} changes"
