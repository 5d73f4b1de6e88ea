"""Structured logs carry the delivery being processed."""

from __future__ import annotations

import json
import logging

from gate.logs import JsonFormatter, delivery_context


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
