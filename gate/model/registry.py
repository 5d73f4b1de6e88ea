"""Which model scores a repository's changes: its own promoted model, else the bundled default."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from gate.model.artifact import ModelError, RiskModel, load_model
from gate.store import repo_models
from gate.store.db import Database
from gate.store.tables import RepoModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryMinimum:
    """How much labelled history a repository's model must have learnt from to be used."""

    rows: int
    failures: int

    def met_by(self, rows: int, failures: int) -> bool:
        return rows >= self.rows and failures >= self.failures


@dataclass(frozen=True)
class ModelChoice:
    model: RiskModel  # decides
    shadow: RiskModel | None = None  # scored beside the decision, never affecting it


class ModelRegistry:
    """Looks a repository's models up in the store and keeps the loaded ones in memory.

    A version names its booster's content and lives in its own directory, so a loaded model
    never goes stale; a model that cannot be loaded is logged and the default used instead.
    """

    def __init__(self, db: Database, default: RiskModel, minimum: HistoryMinimum) -> None:
        self.db = db
        self.default = default
        self.minimum = minimum
        self._loaded: dict[str, RiskModel] = {}
        self._lock = threading.Lock()

    def for_repository(self, repository: str) -> ModelChoice:
        found = repo_models.active(self.db, repository)
        model = self.default
        promoted = found.promoted
        if promoted is not None:
            if self.minimum.met_by(promoted.labelled_rows, promoted.labelled_failures):
                model = self._load(promoted) or self.default
            else:
                log.info(
                    "%s: model %s learnt from %d changes and %d failures, fewer than the "
                    "%d and %d required; using the default",
                    repository,
                    promoted.model_version,
                    promoted.labelled_rows,
                    promoted.labelled_failures,
                    self.minimum.rows,
                    self.minimum.failures,
                )
        shadow = self._load(found.shadow) if found.shadow is not None else None
        return ModelChoice(model, shadow)

    def _load(self, row: RepoModel) -> RiskModel | None:
        with self._lock:
            cached = self._loaded.get(row.path)
            if cached is not None:
                return cached
            try:
                model = load_model(Path(row.path))
            except ModelError as error:
                log.warning("%s: model %s not used: %s", row.repository, row.model_version, error)
                return None
            if model.version != row.model_version:
                log.warning(
                    "%s: %s holds model %s, the registry expects %s; not used",
                    row.repository,
                    row.path,
                    model.version,
                    row.model_version,
                )
                return None
            self._loaded[row.path] = model
            return model
