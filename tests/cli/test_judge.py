"""`gate judge FILE`: the verdict as JSON, and a clear line for a bad file."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from gate.cli.judge import judge_command
from tests.deploys.judge.builders import DEPLOYED, STEP, scenario_json


def test_judge_command_prints_the_verdict_as_json(tmp_path: Path):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario_json()))
    out, err = io.StringIO(), io.StringIO()
    assert judge_command(path, out, err) == 0
    assert err.getvalue() == ""
    result = json.loads(out.getvalue())
    assert set(result) == {"verdict", "decided_at", "metrics"}
    assert result["verdict"] == "regressed"
    assert DEPLOYED < result["decided_at"] <= DEPLOYED + 10 * STEP
    errors, latency = result["metrics"]
    assert set(errors) == {
        "name", "verdict", "before", "after", "effect", "confidence", "test", "explanation",
    }  # fmt: skip
    assert errors["name"] == "http_errors" and errors["verdict"] == "regressed"
    assert errors["before"] == pytest.approx(0.01) and errors["after"] == pytest.approx(0.04)
    assert errors["effect"] == pytest.approx(3.0)
    assert errors["confidence"] >= 0.99
    assert latency["name"] == "latency_p99"
    assert all(math.isfinite(m["confidence"]) for m in result["metrics"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON (line 1, column 2"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b'{"deployed_at": 1}', "invalid scenario: step_seconds"),
    ],
)
def test_judge_command_rejects_bad_files(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "scenario.json"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    assert judge_command(path, out, err) == 2
    assert out.getvalue() == ""
    assert message in err.getvalue()


def test_judge_command_reports_an_unreadable_file(tmp_path: Path):
    out, err = io.StringIO(), io.StringIO()
    assert judge_command(tmp_path / "missing.json", out, err) == 2
    assert "cannot read" in err.getvalue()
