"""What a repository says about itself at a commit: its services (risk-gate.yml) and CODEOWNERS."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from gate.codeowners import CODEOWNERS_LOCATIONS, CodeOwners
from gate.features.assemble import Services
from gate.features.services import ServicesConfig
from gate.gitcmd import GitError, git

CONFIG_PATH = ".github/risk-gate.yml"
MAX_CONFIG_BYTES = 1024 * 1024


def read_file(repo: Path, rev: str, path: str) -> str | None:
    try:
        blob = git(repo, "show", f"{rev}:{path}", max_bytes=MAX_CONFIG_BYTES * 4)
    except GitError:
        return None
    return blob.decode("utf-8", "replace")


def repo_services(repo: Path, rev: str) -> tuple[Services, list[str]]:
    """The service mapping at `rev`; a broken file becomes a note and a fallback, never an error."""
    notes: list[str] = []
    config = None
    text = read_file(repo, rev, CONFIG_PATH)
    if text is not None:
        try:
            document = yaml.safe_load(text) or {}
            section = document.get("services") if isinstance(document, dict) else None
            if section is not None:
                config = ServicesConfig.model_validate(section)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            notes.append(f"{CONFIG_PATH}{where}: not valid YAML; services fall back to CODEOWNERS")
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            notes.append(
                f"{CONFIG_PATH}: services.{field}: {first['msg']}; services fall back to CODEOWNERS"
            )
    codeowners = None
    for location in CODEOWNERS_LOCATIONS:
        text = read_file(repo, rev, location)
        if text is not None:
            codeowners = CodeOwners.parse(text)
            if codeowners.errors:
                notes.append(f"{location}: {len(codeowners.errors)} invalid lines skipped")
            break
    return Services(config, codeowners), notes
