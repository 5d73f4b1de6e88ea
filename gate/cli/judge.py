"""`gate judge SCENARIO.json`: replay a post-deploy scenario through the judge, print JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from gate.deploys.judge.replay import replay
from gate.deploys.judge.scenario import load_scenario
from gate.deploys.judge.verdict import verdict_to_dict

EXIT_OK = 0
EXIT_INVALID = 2
MAX_SCENARIO_BYTES = 64 * 1024 * 1024


def judge_command(path: Path, out: TextIO, err: TextIO | None = None) -> int:
    """0 and the verdict as JSON on out; 2 and a one-line reason on err for a bad file."""
    err = sys.stderr if err is None else err
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SCENARIO_BYTES + 1)
    except OSError as error:
        err.write(f"cannot read {path}: {error.strerror or error}\n")
        return EXIT_INVALID
    if len(data) > MAX_SCENARIO_BYTES:
        err.write(f"{path}: larger than {MAX_SCENARIO_BYTES // (1024 * 1024)} MiB\n")
        return EXIT_INVALID
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        err.write(f"{path}: not UTF-8 text\n")
        return EXIT_INVALID
    except json.JSONDecodeError as error:
        err.write(f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})\n")
        return EXIT_INVALID
    try:
        scenario = load_scenario(obj)
    except ValueError as error:
        err.write(f"{path}: invalid scenario: {error}\n")
        return EXIT_INVALID
    json.dump(verdict_to_dict(replay(scenario)), out, indent=2)
    out.write("\n")
    return EXIT_OK
