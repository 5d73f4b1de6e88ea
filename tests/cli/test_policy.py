"""`gate policy check FILE`, as README and docs/configuration.md describe it, run as a user does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import gate

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "risk-gate.example.yml"


@pytest.mark.covers("policy check")
def test_the_documented_example_is_valid_and_summarised(tmp_path: Path):
    done = gate("policy", "check", str(EXAMPLE), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{EXAMPLE}: valid\n")
    assert "  approvers: users alice, bob" in done.stdout
    assert "warnings" not in done.stdout and done.stderr == ""


@pytest.mark.covers("policy check")
def test_a_broken_file_gets_each_error_with_its_line_and_exit_1(tmp_path: Path):
    broken = tmp_path / "risk-gate.yml"
    broken.write_text("mode: sometimes\nthresholds:\n  pass_below: 0.2\n  hold_at_or_above: lots\n")
    done = gate("policy", "check", "risk-gate.yml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "risk-gate.yml: invalid, 2 errors",
        "  risk-gate.yml line 1, mode: expected 'enforce' or 'shadow', got 'sometimes'",
        "  risk-gate.yml line 4, thresholds.hold_at_or_above: expected a number, got 'lots'",
    ]


def test_a_missing_file_is_one_line_and_exit_2(tmp_path: Path):
    done = gate("policy", "check", "absent.yml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "cannot read absent.yml: No such file or directory\n"
