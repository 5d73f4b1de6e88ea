"""`thresholds:` in risk-gate.yml: the model's own, or an explicit pass/hold pair."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from gate.model.artifact import Thresholds
from gate.policy.section import Section

Probability = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


class ThresholdsPolicy(Section):
    """The model's own thresholds, or both explicit ones."""

    use_model_thresholds: bool = True
    pass_below: Probability | None = None
    hold_at_or_above: Probability | None = None

    @model_validator(mode="before")
    @classmethod
    def _explicit_values_imply_false(cls, data: Any) -> Any:
        if isinstance(data, dict) and "use_model_thresholds" not in data:
            explicit = any(data.get(key) is not None for key in ("pass_below", "hold_at_or_above"))
            return {**data, "use_model_thresholds": not explicit}
        return data

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

    @model_validator(mode="after")
    def _both_or_neither(self) -> ThresholdsPolicy:
        if self.use_model_thresholds:
            return self
        if self.pass_below is None and self.hold_at_or_above is None:
            raise ValueError(
                "use_model_thresholds is false but pass_below and hold_at_or_above are not set"
            )
        if self.pass_below is None or self.hold_at_or_above is None:
            missing = "pass_below" if self.pass_below is None else "hold_at_or_above"
            raise ValueError(
                f"{missing} is missing: explicit thresholds need both pass_below and "
                "hold_at_or_above"
            )
        return self

    def resolve(self, model: Thresholds) -> Thresholds:
        """The thresholds to apply: the model's, or both explicit ones."""
        if self.use_model_thresholds or self.pass_below is None or self.hold_at_or_above is None:
            return model
        return Thresholds(low_below=self.pass_below, high_at_or_above=self.hold_at_or_above)
