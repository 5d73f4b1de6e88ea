"""What a repository says about itself at a commit: its services (risk-gate.yml) and CODEOWNERS.

The files are read through one `git cat-file` and parsed once per blob: a commit that leaves
them alone costs lookups, not parsing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from gate.features.assemble import Services
from gate.features.codeowners import CODEOWNERS_LOCATIONS, CodeOwners
from gate.git.objects import ObjectInfo, ObjectReader
from gate.policy.config import parse_policy
from gate.policy.schema import DEFAULT_POLICY, Policy

CONFIG_PATH = ".github/risk-gate.yml"
MAX_CONFIG_BYTES = 1024 * 1024
# beyond both validators' own limits (1 MiB, 3 MB): a larger file is not read at all
MAX_READ_BYTES = 4 * MAX_CONFIG_BYTES
PARSED_KEPT = 256

# (config blob, (CODEOWNERS location, blob)) -> what repo_services answers for them
_ServicesKey = tuple[str | None, tuple[str, str] | None]


def read_config_blob(objects: ObjectReader, blob: str) -> str:
    """A config file's text by blob SHA. One past MAX_READ_BYTES is not read: a stand-in of
    that size goes to the validator, which refuses it as too large in its own words."""
    found = objects.read(blob, MAX_READ_BYTES)
    if found is None:
        return "#" * (MAX_READ_BYTES + 1)
    return found[1].decode("utf-8", "replace")


def repo_services(
    repo: Path, rev: str, objects: ObjectReader | None = None
) -> tuple[Services, list[str]]:
    """The service mapping at `rev`; a broken file becomes a note and a fallback, never an error.

    `objects` is a kept reader of `repo`; without one, a reader is opened for this call.
    """
    if objects is not None:
        return _services_at(objects, rev)
    reader = ObjectReader(repo)
    try:
        return _services_at(reader, rev)
    finally:
        reader.close()


def repo_policy(repo: Path, rev: str) -> tuple[Policy, list[str]]:
    """The policy at `rev` for a local assessment; a broken or missing file gives the defaults
    and says so (the App also falls back to the last valid version it stored)."""
    reader = ObjectReader(repo)
    try:
        found = reader.blob_at(rev, CONFIG_PATH)
        if found is None:
            return DEFAULT_POLICY, []
        result = parse_policy(read_config_blob(reader, found.sha))
    finally:
        reader.close()
    if result.ok and result.policy is not None:
        return result.policy, []
    first = str(result.errors[0]) if result.errors else "unreadable"
    return DEFAULT_POLICY, [f"{CONFIG_PATH} is invalid, the defaults apply: {first}"]


def _services_at(objects: ObjectReader, rev: str) -> tuple[Services, list[str]]:
    config = objects.blob_at(rev, CONFIG_PATH)
    codeowners = _first_codeowners(objects, rev)
    key: _ServicesKey = (
        config.sha if config else None,
        (codeowners[0], codeowners[1].sha) if codeowners else None,
    )
    cached = _parsed.get(key)
    if cached is None:
        cached = _parse(objects, key)
        _parsed.put(key, cached)
    services, notes = cached
    return services, list(notes)


def _first_codeowners(objects: ObjectReader, rev: str) -> tuple[str, ObjectInfo] | None:
    for location in CODEOWNERS_LOCATIONS:
        found = objects.blob_at(rev, location)
        if found is not None:
            return location, found
    return None


def _parse(objects: ObjectReader, key: _ServicesKey) -> tuple[Services, tuple[str, ...]]:
    config_blob, codeowners_blob = key
    notes: list[str] = []
    config = None
    if config_blob is not None:
        result = parse_policy(read_config_blob(objects, config_blob))  # the file's one validator
        if result.ok and result.policy is not None:
            config = result.policy.services if result.policy.services.root else None
        elif result.errors:
            notes.append(f"{result.errors[0]}; services fall back to CODEOWNERS")
    codeowners = None
    if codeowners_blob is not None:
        location, blob = codeowners_blob
        codeowners = CodeOwners.parse(read_config_blob(objects, blob))
        if codeowners.errors:
            notes.append(f"{location}: {len(codeowners.errors)} invalid lines skipped")
    # one Services per pair of blobs: its path -> service memo then serves every change
    return Services(config, codeowners), tuple(notes)


class _Parsed:
    """The last PARSED_KEPT parsed pairs of blobs; blobs never change, so entries never stale."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._entries: OrderedDict[_ServicesKey, tuple[Services, tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _ServicesKey) -> tuple[Services, tuple[str, ...]] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: _ServicesKey, value: tuple[Services, tuple[str, ...]]) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.kept:
                self._entries.popitem(last=False)


_parsed = _Parsed(PARSED_KEPT)
