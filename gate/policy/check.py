"""`gate policy check FILE`: validate a risk-gate.yml and say what it means or what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from gate.policy.config import parse_policy
from gate.policy.document import MAX_POLICY_BYTES
from gate.policy.problems import PolicyResult
from gate.policy.summary import policy_summary

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def check_file(path: Path, out: TextIO, err: TextIO) -> int:
    """0 and a summary when valid, 1 and each error with its line, 2 when unreadable."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        err.write(f"cannot read {path}: {error.strerror or error}\n")
        return EXIT_UNREADABLE
    name = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(data) <= MAX_POLICY_BYTES:
            line = data.count(b"\n", 0, error.start) + 1
            err.write(f"{name} line {line}: not UTF-8 text (byte 0x{data[error.start]:02x})\n")
            err.write(f"{name}: invalid\n")
            return EXIT_INVALID
        text = data.decode("utf-8", "replace")  # cut mid-character; the size error says enough
    result = parse_policy(text, filename=name)
    if not result.ok:
        _report_invalid(result, name, err)
        return EXIT_INVALID
    _report_valid(result, name, out)
    return EXIT_VALID


def _report_valid(result: PolicyResult, name: str, out: TextIO) -> None:
    assert result.policy is not None
    out.write(f"{name}: valid\n")
    for line in policy_summary(result.policy):
        out.write(f"  {line}\n")
    _write_warnings(result, out)


def _report_invalid(result: PolicyResult, name: str, err: TextIO) -> None:
    count = len(result.errors)
    err.write(f"{name}: invalid, {count} error{'s' if count > 1 else ''}\n")
    for problem in result.errors:
        err.write(f"  {problem}\n")
    _write_warnings(result, err)


def _write_warnings(result: PolicyResult, stream: TextIO) -> None:
    if result.warnings:
        stream.write(f"warnings ({len(result.warnings)}):\n")
        for problem in result.warnings:
            stream.write(f"  {problem}\n")
