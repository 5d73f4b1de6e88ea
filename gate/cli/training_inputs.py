"""What `gate label` and `gate train --repo` read besides the repository: outcomes and fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from training.label import Outcome

if TYPE_CHECKING:
    from training.fixes import FixSource


def _log(message: str) -> None:
    from gate.cli.common import errors

    errors.print(f"[dim]{message}[/dim]", soft_wrap=True, highlight=False)


def read_outcomes(path: Path) -> list[Outcome]:
    """Rollbacks and incidents: a CSV with columns sha,rule[,ref] or a JSON list of objects."""
    if path.suffix == ".json":
        records = json.loads(path.read_text())
    else:
        records = pd.read_csv(path, dtype=str).fillna("").to_dict("records")
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and r.get("sha") and r.get("rule") for r in records
    ):
        raise ValueError(
            f"{path}: not an outcomes table: each row needs sha and rule (rollback or incident), "
            "as `gate outcomes --out FILE` writes it"
        )
    return [Outcome(r["sha"], r["rule"], r.get("ref") or None) for r in records]


def fix_source(
    repo: Path,
    *,
    issues_path: Path | None = None,
    issue_key: str | None = None,
    github_token: str | None = None,
    repository: str | None = None,
    bug_labels: str | None = None,
) -> FixSource | None:
    """Where fixes come from: an issue export, else GitHub's bug issues when a token is given,
    else None (message words)."""
    if issues_path is not None:
        from training.fixes import read_issue_export

        return read_issue_export(issues_path, issue_key)
    if not github_token:
        return None
    from gate.github import Repo
    from gate.settings import load_settings
    from training.github_bugs import GitHubBugs, parse_labels
    from training.repo_model import repository_name

    name = repository or repository_name(repo)
    if name is None:
        raise ValueError(
            f"{repo}: cannot tell its GitHub name from an origin remote; give --repository "
            "owner/name to read its bug issues"
        )
    client = GitHubBugs(
        github_token, Repo.parse(name), base_url=str(load_settings().github_api_url).rstrip("/")
    )
    _log(f"reading the bug issues of {name} from GitHub")
    return client.fixes(parse_labels(bug_labels))
