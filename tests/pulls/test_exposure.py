"""The seeds' promise through `gate assess --coverage`, the console script a user runs.

A change to a critical service with its new lines uncovered is held, with the reason and a step
that would lower it; a small, fully covered change to a low-tier utility passes.
"""

from __future__ import annotations

import json
from pathlib import Path

from gate.policy.exposure import (
    ExposureFacts,
    ExposureOutcome,
    ExposurePolicy,
    ServiceCoverage,
    bound,
    judge_exposure,
)
from tests.conftest import gate
from tests.gitrepo import GitRepo, lines

POLICY = """\
services:
  payments:
    paths: ["services/payments/"]
    tier: critical
  utils:
    paths: ["libs/utils/"]
    tier: low
"""


def lcov(files: dict[str, tuple[range, set[int]]]) -> str:
    """An LCOV report: each file's executable lines and the ones that ran."""
    out = []
    for path, (executable, covered) in files.items():
        out.append(f"SF:{path}")
        out += [f"DA:{n},{1 if n in covered else 0}" for n in executable]
        out.append("end_of_record")
    return "\n".join(out) + "\n"


def project(tmp_path: Path) -> tuple[GitRepo, str]:
    repo = GitRepo(tmp_path / "shop")
    base = repo.commit(
        "base",
        {
            ".github/risk-gate.yml": POLICY,
            "services/payments/charge.py": lines(40, "charge"),
            "libs/utils/strings.py": lines(30, "strings"),
        },
    )
    return repo, base


def assess(repo: GitRepo, tmp_path: Path, base: str, head: str, report: str | None):
    args = ["assess", "--repo", str(repo.path), "--base", base, "--head", head, "--json"]
    if report is not None:
        path = tmp_path / "coverage.info"
        path.write_text(report)
        args += ["--coverage", str(path)]
    done = gate(*args, "--no-record", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_an_uncovered_change_to_a_critical_service_is_held_with_a_step(tmp_path: Path):
    repo, base = project(tmp_path)
    head = repo.commit(
        "charge in two currencies", {"services/payments/charge.py": lines(100, "charge")}
    )
    report = lcov({"services/payments/charge.py": (range(1, 101), set(range(1, 41)))})
    seen = assess(repo, tmp_path, base, head, report)

    assert seen["decision"] == "hold"
    assert any("payments is critical: 0 of 60 added lines covered (0%)" in r for r in seen["rules"])
    (cover,) = [step for step in seen["steps"] if step["kind"] == "cover"]
    assert "cover the 60 uncovered added lines in payments" in cover["action"]
    assert cover["after"]["verdict"] != "hold"
    assert cover["text"] in seen["advice"]


def test_the_same_change_covered_is_not_held(tmp_path: Path):
    repo, base = project(tmp_path)
    head = repo.commit(
        "charge in two currencies", {"services/payments/charge.py": lines(100, "charge")}
    )
    report = lcov({"services/payments/charge.py": (range(1, 101), set(range(1, 101)))})
    seen = assess(repo, tmp_path, base, head, report)

    assert seen["decision"] != "hold"
    assert not any("is critical" in rule for rule in seen["rules"])


def test_without_coverage_a_critical_change_is_shown_for_review_and_told_what_is_missing(
    tmp_path: Path,
):
    repo, base = project(tmp_path)
    head = repo.commit("tweak", {"services/payments/charge.py": lines(41, "charge")})
    seen = assess(repo, tmp_path, base, head, None)

    assert seen["decision"] in ("review", "hold")
    assert "no coverage report for this commit" in seen["notes"]
    assert any("no coverage report came" in rule for rule in seen["rules"])


def test_a_small_fully_covered_change_to_a_low_tier_utility_passes(tmp_path: Path):
    repo, base = project(tmp_path)
    head = repo.commit("trim helper", {"libs/utils/strings.py": lines(36, "strings")})
    report = lcov({"libs/utils/strings.py": (range(1, 37), set(range(1, 37)))})
    seen = assess(repo, tmp_path, base, head, report)

    assert seen["decision"] == "pass"
    assert seen["level"] in ("low", "medium")


def test_the_floor_raises_and_the_ceiling_lowers_one_step_at_most():
    held = ExposureOutcome(floor="hold")
    assert bound("pass", held) == "hold"
    eased = ExposureOutcome(ceiling="pass")
    assert bound("review", eased) == "pass"
    assert bound("hold", eased) == "hold"


def test_a_critical_service_without_executable_added_lines_fires_no_coverage_rule():
    facts = ExposureFacts(
        services=[ServiceCoverage("payments", "critical", 0, 0)], has_coverage=True
    )
    assert judge_exposure(facts, ExposurePolicy()).floor is None


def test_exposure_can_be_turned_off():
    facts = ExposureFacts(services=[ServiceCoverage("payments", "critical", 10, 0)])
    assert judge_exposure(facts, ExposurePolicy(enabled=False)) == ExposureOutcome()
