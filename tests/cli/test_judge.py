"""`gate judge FILE`: the verdict as JSON, and a clear line for a bad file."""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli.judge import judge_command
from tests.deploys.judge.builders import DEPLOYED, STEP, scenario_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "judge.md"


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


@pytest.mark.covers("judge")
def test_the_documented_example_replays_through_the_console_script_as_documented(tmp_path: Path):
    example = DOC.read_text().split("## Example", 1)[1]
    scenario, printed = re.findall(r"```json\n(.*?)\n```", example, re.S)[:2]
    (tmp_path / "scenario.json").write_text(scenario)
    script = Path(sys.executable).with_name("gate")  # the installed `gate` entry point
    done = subprocess.run(
        [str(script), "judge", "scenario.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "GATE_LOG_JSON": "false"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(printed)
    assert [m["kind"] for m in json.loads(scenario)["metrics"]] == ["error_ratio", "latency"]
