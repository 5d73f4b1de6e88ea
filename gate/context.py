"""The services a job needs, built once per process and passed to handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gate.features.indexes import HistoryIndexes
from gate.git.mirror import Mirrors
from gate.github import GitHubAPI, GitHubAppAPI
from gate.model.artifact import RiskModel
from gate.model.registry import ModelChoice, ModelRegistry
from gate.policy.loader import PolicyLoader
from gate.settings import Settings
from gate.store import Database
from gate.store.tables import utcnow


@dataclass
class Services:
    settings: Settings
    db: Database
    model: RiskModel  # the bundled default
    mirrors: Mirrors
    github: Callable[[int], GitHubAPI]
    indexes: HistoryIndexes
    policies: PolicyLoader
    models: ModelRegistry
    # the worker's clock: tests compress hours of outage into seconds with their own
    clock: Callable[[], datetime] = utcnow
    app: GitHubAppAPI | None = None  # the App itself: its deliveries and installations

    def model_for(self, repository: str) -> ModelChoice:
        """The repository's own promoted model when it has one with enough history, else the
        default; and its model in shadow, if any."""
        return self.models.for_repository(repository)

    def details_url(self, assessment_id: int, token: str) -> str:
        """The assessment's page; its token keeps strangers from reading it by counting ids."""
        base = str(self.settings.public_url).rstrip("/")
        return f"{base}/assessments/{assessment_id}/{token}"
