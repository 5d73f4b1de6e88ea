"""A repository's services at a commit: risk-gate.yml, else CODEOWNERS; each blob parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.git.objects import ObjectReader
from gate.policy import repo_config
from gate.policy.repo_config import MAX_READ_BYTES, repo_services
from tests.gitrepo import GitRepo

CONFIG = """services:
  payments:
    paths: ["payments/"]
    tier: critical
"""


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def test_the_config_names_services_and_codeowners_fills_in(repo: GitRepo):
    sha = repo.commit(
        "config",
        {".github/risk-gate.yml": CONFIG, "docs/CODEOWNERS": "web/ @octo-org/web\n"},
    )
    services, notes = repo_services(repo.path, sha)
    touched = services.touched(["payments/charge.py", "web/app.py", "README.md"])
    assert [(s.name, s.tier, s.source) for s in touched] == [
        ("payments", "critical", "config"),
        ("@octo-org/web", "standard", "codeowners"),
        ("root", "standard", "directory"),
    ]
    assert notes == []


def test_the_first_codeowners_location_wins_and_a_directory_is_no_file(repo: GitRepo):
    sha = repo.commit(
        "owners",
        {
            ".github/CODEOWNERS/readme.txt": "a directory named CODEOWNERS\n",
            "CODEOWNERS": "* @alice\n",
            "docs/CODEOWNERS": "* @bob\n",
        },
    )
    services, _ = repo_services(repo.path, sha)
    assert services.touched(["x.py"])[0].owners == ("@alice",)


def test_a_broken_config_is_a_note_and_codeowners_decides(repo: GitRepo):
    sha = repo.commit(
        "broken", {".github/risk-gate.yml": "services: [", "CODEOWNERS": "* @alice\n"}
    )
    services, notes = repo_services(repo.path, sha)
    assert services.touched(["x.py"])[0].source == "codeowners"
    assert len(notes) == 1 and "services fall back to CODEOWNERS" in notes[0]


def test_a_config_too_large_to_read_is_refused_in_the_validators_words(repo: GitRepo):
    sha = repo.commit("huge", {".github/risk-gate.yml": "#" * (MAX_READ_BYTES + 10)})
    services, notes = repo_services(repo.path, sha)
    assert services.config is None
    assert len(notes) == 1 and "larger than" in notes[0]


def test_each_pair_of_blobs_is_parsed_once(repo: GitRepo, monkeypatch: pytest.MonkeyPatch):
    parsed: list[str] = []
    real = repo_config.parse_policy
    monkeypatch.setattr(repo_config, "parse_policy", lambda text: parsed.append(text) or real(text))
    config = f"{CONFIG}# {repo.path}\n"  # blobs of its own: parsed results are shared by SHA
    first = repo.commit("config", {".github/risk-gate.yml": config})
    second = repo.commit("unrelated", {"web/app.py": "print()\n"})
    changed = repo.commit("changed", {".github/risk-gate.yml": config.replace("critical", "low")})
    reader = ObjectReader(repo.path)
    try:
        at_first, _ = repo_services(repo.path, first, reader)
        at_second, _ = repo_services(repo.path, second, reader)
        at_changed, _ = repo_services(repo.path, changed, reader)
    finally:
        reader.close()
    assert at_second is at_first  # the same blobs: the same parsed services
    assert at_changed.touched(["payments/x.py"])[0].tier == "low"
    assert len(parsed) == 2
