"""Structured logs carry the delivery being processed."""

from __future__ import annotations

import json
import logging

from gate.logs import JsonFormatter, TextFormatter, delivery_context


def record(message: str, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("gate.test", logging.WARNING, __file__, 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


def test_log_lines_are_json_with_the_delivery_id_inside_its_context():
    formatter = JsonFormatter()
    with delivery_context("72d3162e-cc78-11e3-81ab-4c9367dc0958"):
        inside = json.loads(formatter.format(record("job failed", job_id=7)))
    outside = json.loads(formatter.format(record("idle")))
    assert inside["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert inside["job_id"] == 7 and inside["level"] == "warning"
    assert inside["message"] == "job failed"
    assert "delivery_id" not in outside


def failed(level: int) -> logging.LogRecord:
    try:
        raise RuntimeError("GitHub said 502\n" + "x" * 10_000)
    except RuntimeError:
        import sys

        entry = logging.LogRecord(
            "gate.jobs", level, __file__, 1, "job failed", None, sys.exc_info()
        )
    entry.__dict__.update({"job_id": 7, "why": "GitHub said 502", "color_message": "\x1b[1mjob"})
    return entry


def test_json_lines_have_no_ansi_copy_and_a_bounded_traceback_only_for_errors():
    error = json.loads(JsonFormatter().format(failed(logging.ERROR)))
    warning = json.loads(JsonFormatter().format(failed(logging.WARNING)))
    assert "color_message" not in error and "\x1b" not in json.dumps(error)
    assert error["error"] == "RuntimeError: GitHub said 502"
    assert "Traceback" in error["traceback"] or error["traceback"].startswith("...")
    assert len(error["traceback"]) <= 4096 + 3
    assert "traceback" not in warning and warning["error"] == "RuntimeError: GitHub said 502"


def test_text_lines_are_one_line_with_the_delivery_and_the_reason():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # at DEBUG the traceback follows the line
    try:
        with delivery_context("72d3162e"):
            line = TextFormatter().format(failed(logging.ERROR))
    finally:
        root.setLevel(level)
    assert "\n" not in line
    assert line.startswith("ERROR gate.jobs: job failed delivery=72d3162e job_id=7")
    assert 'why="GitHub said 502"' in line and "color_message" not in line
