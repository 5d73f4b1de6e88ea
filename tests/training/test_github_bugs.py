"""Tests for fixes from GitHub: bug-labelled issues and the pull requests and commits closing them,
through the fake GitHub that validates every request against GitHub's OpenAPI description."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gate.github import Repo
from tests.fakes import FakeGitHub, FakeGitHubServer
from tests.gitrepo import GitRepo
from training.github_bugs import BUG_LABELS, GitHubBugs, parse_labels
from training.label import label_table

TOKEN = "ghp_" + "a" * 36
OWNER_REPO = "octo-org/shop"
API = f"https://api.github.com/repos/{OWNER_REPO}"
CODE = "def start():\n    value = 0\n    return value\n"
OTHER = "def stop():\n    return 9\n"


def issue(number: int, labels: list[str], pull: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "number": number,
        "state": "closed",
        "title": f"issue {number}",
        "labels": [{"name": name} for name in labels],
        "repository_url": API,
    }
    if pull is not None:
        found["pull_request"] = pull
    return found


def closing_pull(number: int, closes: int) -> dict[str, Any]:
    return {
        "event": "cross-referenced",
        "source": {
            "type": "issue",
            "issue": {
                **issue(number, []),
                "body": f"Start at zero again.\n\nFixes #{closes}",
                "pull_request": {"merged_at": "2024-05-01T10:00:00Z"},
            },
        },
    }


@pytest.fixture
def shop(tmp_path: Path, fake_github: FakeGitHub) -> dict[str, str]:
    """A repository whose fixes only GitHub knows: no commit message says "fix"."""
    repo = GitRepo(tmp_path / "shop")
    shas = {"base": repo.commit("add start and stop", {"start.py": CODE, "stop.py": OTHER})}
    shas["bad"] = repo.commit("tune the start", {"start.py": CODE.replace("= 0", "= 1")})
    shas["stop"] = repo.commit("stop later", {"stop.py": OTHER.replace("9", "10")})
    shas["squash"] = repo.commit("Start at zero again (#7)", {"start.py": CODE})
    shas["feature"] = repo.commit("Stop at eleven (#9)", {"stop.py": OTHER.replace("9", "11")})
    shas["path"] = str(repo.path)
    fake_github.tokens[TOKEN] = datetime.now(UTC) + timedelta(hours=1)
    fake_github.tracker = [
        issue(5, ["Bug"]),  # closed by pull request #7
        issue(8, ["enhancement"]),  # closed by pull request #9: not a bug
        issue(9, [], {"merged_at": "2024-05-02T10:00:00Z"}),
        issue(7, [], {"merged_at": "2024-05-01T10:00:00Z"}),
    ]
    fake_github.timelines = {
        5: [{"event": "labeled"}, closing_pull(7, 5), {"event": "closed", "commit_id": None}],
        8: [closing_pull(9, 8)],
    }
    fake_github.pulls = {
        7: {"number": 7, "merged": True, "merge_commit_sha": shas["squash"]},
        9: {"number": 9, "merged": True, "merge_commit_sha": shas["feature"]},
    }
    return shas


def table(path: Path) -> pd.DataFrame:
    out = subprocess.run(
        ["git", "-C", str(path), "log", "--reverse", "--format=%H %ct"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return pd.DataFrame(
        [
            {"sha": sha, "time": int(t), "la": 1.0}
            for sha, t in (r.split() for r in out.split("\n") if r)
        ]
    )


def test_the_closing_pull_request_of_a_bug_issue_is_a_fix(
    shop: dict[str, str], fake_github: FakeGitHub
) -> None:
    bugs = GitHubBugs(TOKEN, Repo.parse(OWNER_REPO), transport=fake_github.transport)

    fixes = bugs.fixes()

    assert fixes.commits == {shop["squash"]}
    assert fixes.bug_numbers == {5}
    assert fake_github.violations == []
    asked = {r.path for r in fake_github.calls("GET", r"/repos/octo-org/shop/.*")}
    assert f"/repos/{OWNER_REPO}/issues/5/timeline" in asked
    assert f"/repos/{OWNER_REPO}/issues/8/timeline" not in asked  # never read: not a bug
    labelled = label_table(
        Path(shop["path"]),
        table(Path(shop["path"])),
        fixes=fixes,
        recent_days=0,
        show_progress=False,
    ).set_index("sha")
    assert labelled.loc[shop["bad"], "label_rules"] == f"szz:{shop['squash']}"
    assert labelled.loc[shop["stop"], "bug"] == 0  # the enhancement's pull request blames nothing
    assert labelled["fix_source"].iloc[0].startswith(f"GitHub issues of {OWNER_REPO}")


def test_a_bug_closed_by_a_commit_and_a_bug_labelled_pull_request_are_fixes(
    shop: dict[str, str], fake_github: FakeGitHub
) -> None:
    fake_github.tracker = [
        issue(3, ["type: bug"]),
        issue(9, ["kind/bug"], {"merged_at": "2024-05-02T10:00:00Z"}),
        issue(4, ["bug"], {"merged_at": None}),  # never merged: fixed nothing
    ]
    fake_github.timelines = {3: [{"event": "closed", "commit_id": shop["squash"]}]}

    fixes = GitHubBugs(TOKEN, Repo.parse(OWNER_REPO), transport=fake_github.transport).fixes()

    assert fixes.commits == {shop["squash"], shop["feature"]}
    assert fixes.bug_numbers == {3}
    assert fake_github.violations == []


def test_bug_labels_are_configurable_and_a_token_is_required(fake_github: FakeGitHub) -> None:
    assert parse_labels(None) == BUG_LABELS
    assert parse_labels("bug, Type: Bug ,") == ("bug", "Type: Bug")
    with pytest.raises(ValueError, match="token"):
        GitHubBugs(None, Repo.parse(OWNER_REPO), transport=fake_github.transport)
    assert fake_github.requests == []


def test_gate_label_reads_fixes_from_github_with_a_token(
    shop: dict[str, str], fake_github: FakeGitHub, tmp_path: Path
) -> None:
    from gate.cli.training import mine_command

    mined = tmp_path / "mined.parquet"
    assert mine_command(Path(shop["path"]), mined) == 0

    def label(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "gate.cli.main", "label", "--repo", shop["path"]]
        command += ["--features", str(mined), "--out", str(out), "--repository", OWNER_REPO]
        return subprocess.run(
            [*command, "--recent-days", "0"], capture_output=True, text=True, timeout=120, env=env
        )

    with FakeGitHubServer(fake_github) as server:
        env = {**os.environ, "GATE_GITHUB_API_URL": server.url, "GATE_LOG_JSON": "false"}
        env.pop("GATE_GITHUB_TOKEN", None)
        done = label(tmp_path / "labelled.parquet", {**env, "GATE_GITHUB_TOKEN": TOKEN})
        without = label(tmp_path / "words.parquet", env)
    assert done.returncode == 0, done.stderr
    assert without.returncode == 0, without.stderr
    assert fake_github.violations == []
    assert "fixes from: GitHub issues of octo-org/shop" in done.stdout
    labelled = pd.read_parquet(tmp_path / "labelled.parquet").set_index("sha")
    assert labelled.loc[shop["bad"], "bug"] == 1
    # without a token nothing is asked of GitHub: message words, and none of these says "fix"
    assert len(fake_github.calls("GET", r".*/timeline")) == 1
    words = pd.read_parquet(tmp_path / "words.parquet")
    assert words["bug"].tolist() == [0, 0, 0, 0, 0]
    assert "fixes from: message words" in without.stdout
