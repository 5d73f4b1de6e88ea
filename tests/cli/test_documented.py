"""Every `gate ...` the README and docs/ show names a real command and options, and a contract
test (marked `@pytest.mark.covers("COMMAND --OPTION ...")`) runs each of them."""

from __future__ import annotations

import ast

import pytest

from gate.cli.main import app
from tests.cli.documented import ROOT, Usage, examples, parse

TESTS = ROOT / "tests"


def covered() -> dict[str, list[tuple[Usage, str]]]:
    """Each `covers` mark in the tests, parsed, with the test that declares it."""
    found: dict[str, list[tuple[Usage, str]]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "covers"
                ):
                    where = f"{path.relative_to(ROOT)}::{node.name}"
                    for arg in decorator.args:
                        text = arg.value if isinstance(arg, ast.Constant) else ""
                        found.setdefault(str(text), []).append((parse(f"gate {text}", app), where))
    return found


def test_the_documents_show_gate_commands():
    # the extraction itself: the quick start, the jobs section and docs/judge.md are in it
    texts = {example.text for example in examples()}
    assert "gate jobs retry --failed" in texts and "gate judge scenario.json" in texts
    assert sum(1 for text in texts if text.startswith("gate assess")) >= 5


@pytest.mark.parametrize(
    ("example", "unknown"),
    [
        ("gate assess --bogus", ("--bogus",)),
        ("gate nosuchcommand --x", ("nosuchcommand", "--x")),
        ("gate token --repo o/n", ("--repo", "token (a group: name one of its commands)")),
        ("gate jobs retry --failed", ()),
        ("gate --debug watches 3 --scenario", ()),
    ],
)
def test_a_wrong_command_or_option_is_caught(example: str, unknown: tuple[str, ...]):
    assert parse(example, app).unknown == unknown


def test_every_documented_command_and_option_exists():
    wrong = [
        f"{example.where}: `{example.text}`: no {', '.join(usage.unknown)}"
        for example in examples()
        if (usage := parse(example.text, app)).unknown
    ]
    assert wrong == []


def test_every_covers_mark_names_a_real_command():
    wrong = [
        f"{where}: covers({text!r}): no {', '.join(usage.unknown)}"
        for text, marks in covered().items()
        for usage, where in marks
        if usage.unknown or not usage.command
    ]
    assert wrong == []


def test_every_documented_command_and_option_has_a_contract_test():
    runs: dict[tuple[str, ...], set[str]] = {}
    for marks in covered().values():
        for usage, _where in marks:
            runs.setdefault(usage.command, set()).update(usage.options)
    missing = []
    for example in examples():
        usage = parse(example.text, app)
        if not usage.command:
            continue
        command = " ".join(usage.command)
        if usage.command not in runs:
            missing.append(f"{example.where}: `gate {command}` has no contract test")
            continue
        for option in sorted(usage.options - runs[usage.command] - {"--help"}):
            missing.append(f"{example.where}: `gate {command} {option}` has no contract test")
    assert missing == []
