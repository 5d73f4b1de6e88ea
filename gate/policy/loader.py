"""The policy in force for a repository: its default branch's risk-gate.yml, by blob SHA.

A broken file never silently changes behaviour: the last valid policy (or the defaults) applies,
and the problems travel with it so the check can say what is wrong.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from gate.git.objects import ObjectReader, ObjectReaders
from gate.policy.config import parse_policy
from gate.policy.problems import PolicyProblem
from gate.policy.repo_config import CONFIG_PATH, read_config_blob
from gate.policy.schema import DEFAULT_POLICY, Policy
from gate.store import audit
from gate.store.db import Database
from gate.store.tables import PolicyCache

DEFAULT_VERSION = "defaults"


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    version: str  # the blob SHA of the file in force, or "defaults"
    errors: list[PolicyProblem] = field(default_factory=list)  # of the file on the branch
    warnings: list[PolicyProblem] = field(default_factory=list)

    def notes(self) -> list[str]:
        if not self.errors:
            return [str(warning) for warning in self.warnings[:5]]
        fallback = (
            "the defaults"
            if self.version == DEFAULT_VERSION
            else (f"the last valid version ({self.version[:10]})")
        )
        return [f"{CONFIG_PATH} is broken, so {fallback} apply:"] + [
            str(error) for error in self.errors[:10]
        ]


class PolicyLoader:
    """Parses each blob once; remembers each repository's last valid policy in the store."""

    def __init__(self, db: Database, objects: ObjectReaders | None = None) -> None:
        self.db = db
        self.objects = objects or ObjectReaders()
        self._parsed: dict[str, tuple[Policy | None, list[PolicyProblem], list[PolicyProblem]]] = {}
        self._stored: dict[str, str] = {}  # repository -> the blob its stored last valid policy is
        self._lock = threading.Lock()

    def load(self, repository: str, mirror: Path, rev: str) -> LoadedPolicy:
        objects = self.objects.get(mirror)
        found = objects.blob_at(rev, CONFIG_PATH)
        if found is None:
            return LoadedPolicy(DEFAULT_POLICY, DEFAULT_VERSION)
        blob = found.sha
        policy, errors, warnings = self._parse(blob, objects)
        if policy is not None:
            self._remember(repository, blob, objects)
            return LoadedPolicy(policy, blob, [], warnings)
        audit.record(
            self.db,
            actor="riskgate",
            action="policy.error",
            repository=repository,
            reason="; ".join(str(error) for error in errors[:5]),
            policy_version=blob,
        )
        return self._last_valid(repository, errors)

    def _parse(
        self, blob: str, objects: ObjectReader
    ) -> tuple[Policy | None, list[PolicyProblem], list[PolicyProblem]]:
        with self._lock:
            cached = self._parsed.get(blob)
        if cached is None:
            result = parse_policy(read_config_blob(objects, blob))
            cached = (result.policy if result.ok else None, result.errors, result.warnings)
            with self._lock:
                self._parsed[blob] = cached
        return cached

    def _remember(self, repository: str, blob: str, objects: ObjectReader) -> None:
        with self._lock:
            if self._stored.get(repository) == blob:
                return
        with self.db.session() as session:
            row = session.get(PolicyCache, repository)
            if row is None or row.blob_sha != blob:
                text = read_config_blob(objects, blob)
                if row is None:
                    session.add(PolicyCache(repository=repository, blob_sha=blob, text=text))
                else:
                    row.blob_sha, row.text = blob, text
        with self._lock:
            self._stored[repository] = blob

    def _last_valid(self, repository: str, errors: list[PolicyProblem]) -> LoadedPolicy:
        with self.db.session() as session:
            row = session.get(PolicyCache, repository)
        if row is not None:
            result = parse_policy(row.text)
            if result.ok and result.policy is not None:
                return LoadedPolicy(result.policy, row.blob_sha, errors)
        return LoadedPolicy(DEFAULT_POLICY, DEFAULT_VERSION, errors)
