"""Thresholds as shares of a repository's own changes, from its recent changes' scores. Pure."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from gate.model.artifact import Thresholds

MIN_CHANGES = 100  # fewer scored changes than this: the model's own thresholds stand
DIGITS = 6  # scores are kept, and compared with them, to this many decimals


def key(score: float) -> float:
    """A score as the distribution keeps it: a change scored again compares equal to itself."""
    return round(score, DIGITS)


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
        return cls(tuple(sorted(key(s) for s in scores)), model_version, tip, days, calibrated_at)

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
        return bisect.bisect_left(self.scores, key(score)) / self.count

    def thresholds(self, hold_share: float, review_share: float) -> Thresholds:
        """Hold the riskiest `hold_share` of these changes, review the next `review_share`.

        Changes that score alike fall on the same side, so each threshold is the score that
        comes closest to its share (the higher one of two as close).
        """
        hold_at = self._closest(hold_share, 1.0)
        return Thresholds(
            low_below=self._closest(hold_share + review_share, hold_at), high_at_or_above=hold_at
        )

    def _closest(self, share: float, highest: float) -> float:
        """The threshold at or below `highest` that leaves the share of changes at or above it
        closest to `share`; 1.0 when even the riskiest change is too many."""
        n = self.count
        wanted = share * n
        best, best_gap = highest, abs(n - bisect.bisect_left(self.scores, highest) - wanted)
        for value in sorted(set(self.scores), reverse=True):
            if value > highest:
                continue
            gap = abs(n - bisect.bisect_left(self.scores, value) - wanted)
            if gap < best_gap:
                best, best_gap = value, gap
            elif n - bisect.bisect_left(self.scores, value) > wanted:
                break  # lower values only flag more
        return best

    def to_json(self) -> str:
        return json.dumps(
            {
                "model_version": self.model_version,
                "tip": self.tip,
                "days": self.days,
                "calibrated_at": self.calibrated_at,
                "scores": list(self.scores),
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
