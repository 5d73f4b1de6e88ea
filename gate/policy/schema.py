"""The whole of `.github/risk-gate.yml` as one model: a field per top-level key, each optional."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gate.features.services import ServicesConfig
from gate.policy.approvers import Approvers
from gate.policy.exposure import ExposurePolicy
from gate.policy.freezes import FreezeWindow
from gate.policy.globs import Glob
from gate.policy.rollback import RollbackPolicy
from gate.policy.section import Section
from gate.policy.thresholds import ThresholdsPolicy

Mode = Literal["enforce", "shadow"]
OnError = Literal["fail-open", "fail-closed"]


def _empty_services() -> ServicesConfig:
    return ServicesConfig({})


class Policy(Section):
    """The whole of `.github/risk-gate.yml`; every key is optional."""

    # A new key: a field here with a default (a section model gets a module of its own), a line in
    # summary.py and a section in docs/configuration.md (a test checks); cross-key checks go in
    # validation.py. Unknown-key warnings and line numbers follow the field with no extra code.
    mode: Mode = "enforce"
    thresholds: ThresholdsPolicy = Field(default_factory=ThresholdsPolicy)
    services: ServicesConfig = Field(default_factory=_empty_services)
    always_hold: tuple[Glob, ...] = ()
    never_hold: tuple[Glob, ...] = ()
    freeze: tuple[FreezeWindow, ...] = ()
    approvers: Approvers = Field(default_factory=Approvers)
    on_error: OnError = "fail-open"
    hold_expiry_hours: Annotated[float, Field(gt=0, strict=True, allow_inf_nan=False)] = 24.0
    rollback: RollbackPolicy | None = None
    exposure: ExposurePolicy = Field(default_factory=ExposurePolicy)


DEFAULT_POLICY = Policy()
