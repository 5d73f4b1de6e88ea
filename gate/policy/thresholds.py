"""`thresholds:` in risk-gate.yml: shares of the repository's own changes (the default), the
model's own thresholds, or an explicit pass/hold pair."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from gate.model.artifact import Thresholds
from gate.policy.section import Section
from gate.policy.shares import Distribution

Probability = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]
Source = Literal["shares", "model", "absolute"]


class ThresholdsPolicy(Section):
    """Shares of the repository's recent changes; or the model's own; or both explicit ones."""

    use_model_thresholds: bool = False
    pass_below: Probability | None = None
    hold_at_or_above: Probability | None = None
    # the riskiest share of the repository's recent changes is held, the next one shown for review
    hold_share: Probability = 0.05
    review_share: Probability = 0.15

    @field_validator("pass_below", "hold_at_or_above")
    @classmethod
    def _not_both_styles(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("use_model_thresholds") is True:
            raise ValueError(
                "conflicts with use_model_thresholds: true; "
                "drop use_model_thresholds or this explicit threshold"
            )
        return value

    @field_validator("hold_at_or_above")
    @classmethod
    def _not_below_pass(cls, value: float | None, info: ValidationInfo) -> float | None:
        pass_below = info.data.get("pass_below")
        if value is not None and pass_below is not None and value < pass_below:
            raise ValueError(f"{value} is below pass_below ({pass_below})")
        return value

    @field_validator("hold_share", "review_share")
    @classmethod
    def _shares_alone(cls, value: float, info: ValidationInfo) -> float:
        # runs only for a share written in the file: a default is never validated
        if info.data.get("use_model_thresholds") is True:
            raise ValueError(
                "conflicts with use_model_thresholds: true; drop use_model_thresholds or this share"
            )
        if any(info.data.get(key) is not None for key in ("pass_below", "hold_at_or_above")):
            raise ValueError(
                "conflicts with pass_below / hold_at_or_above: explicit thresholds replace the "
                "shares; drop one or the other"
            )
        if info.field_name == "review_share" and value + info.data.get("hold_share", 0.0) > 1:
            raise ValueError(
                f"hold_share + review_share is {value + info.data.get('hold_share', 0.0):g}, over 1"
            )
        return value

    @model_validator(mode="after")
    def _pairs(self) -> ThresholdsPolicy:
        if (self.pass_below is None) != (self.hold_at_or_above is None):
            missing = "pass_below" if self.pass_below is None else "hold_at_or_above"
            raise ValueError(
                f"{missing} is missing: explicit thresholds need both pass_below and "
                "hold_at_or_above"
            )
        return self

    @property
    def source(self) -> Source:
        if self.use_model_thresholds:
            return "model"
        return "shares" if self.pass_below is None else "absolute"

    def resolve(self, model: Thresholds, distribution: Distribution | None = None) -> Thresholds:
        """The thresholds to apply: explicit ones; else the shares of `distribution` when it has
        enough changes; else the model's."""
        if self.pass_below is not None and self.hold_at_or_above is not None:
            return Thresholds(low_below=self.pass_below, high_at_or_above=self.hold_at_or_above)
        if self.source == "shares" and distribution is not None and distribution.enough:
            return distribution.thresholds(self.hold_share, self.review_share)
        return model
