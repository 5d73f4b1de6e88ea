"""What a repository says about itself at a commit: its services (risk-gate.yml) and CODEOWNERS."""

from __future__ import annotations

from pathlib import Path

from gate.codeowners import CODEOWNERS_LOCATIONS, CodeOwners
from gate.features.assemble import Services
from gate.gitcmd import GitError, git
from gate.policy_config import parse_policy

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
        result = parse_policy(text)  # the one validator of the file, with line numbers
        if result.ok and result.policy is not None:
            config = result.policy.services if result.policy.services.root else None
        elif result.errors:
            notes.append(f"{result.errors[0]}; services fall back to CODEOWNERS")
    codeowners = None
    for location in CODEOWNERS_LOCATIONS:
        text = read_file(repo, rev, location)
        if text is not None:
            codeowners = CodeOwners.parse(text)
            if codeowners.errors:
                notes.append(f"{location}: {len(codeowners.errors)} invalid lines skipped")
            break
    return Services(config, codeowners), notes
