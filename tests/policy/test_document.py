"""Broken YAML: syntax, duplicate keys, bombs, tags and YAML 1.1 surprises, on their lines."""

from __future__ import annotations

from datetime import time

import pytest

from gate.policy.document import MAX_NODES, MAX_POLICY_BYTES
from tests.policy.policy_text import APPROVERS, the_error, valid, warnings


def test_a_yaml_syntax_error_has_its_line():
    line, field, message = the_error("mode: shadow\nthresholds:\n  pass_below: [0.3\non_error: x\n")
    assert line == 4 and field == ""
    assert message.startswith("not valid YAML: ")


def test_tabs_are_named():
    line, _, message = the_error("approvers:\n\tusers: [alice]\n")
    assert line == 2
    assert "YAML does not allow tabs for indentation, indent with spaces" in message


def test_duplicate_keys_name_both_lines():
    assert the_error("mode: shadow\non_error: fail-open\nmode: enforce\n") == (
        3,
        "",
        "duplicate key 'mode' at lines 1 and 3",
    )
    assert the_error("approvers:\n  users: [a]\n  teams: [a/b]\n  users: [b]\n") == (
        4,
        "approvers",
        "duplicate key 'users' at lines 2 and 4",
    )


def test_a_top_level_that_is_not_a_mapping():
    assert the_error("- mode: shadow\n") == (
        1,
        "",
        "the file must be a mapping of keys (mode:, thresholds:, ...), not a list",
    )
    assert the_error("\n\nenforce\n")[0] == 3


def test_a_huge_file_is_refused():
    assert the_error("#" * MAX_POLICY_BYTES + "\n") == (None, "", "file is larger than 1024 KiB")
    assert the_error("# " + "é" * (MAX_POLICY_BYTES // 2)) == (
        None,
        "",
        "file is larger than 1024 KiB",
    )


def test_an_alias_bomb_is_refused():
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    line, _, message = the_error("\n".join(lines) + "\n")
    assert line is None
    assert message == f"more than {MAX_NODES:,} YAML nodes (each use of an alias counts)"


def test_an_alias_that_contains_itself_is_refused():
    assert "an alias that contains itself" in the_error("rollback: &a {x: *a}\n")[2]
    assert "an alias that contains itself" in the_error("rollback: &a {<<: *a}\n")[2]


def test_deep_nesting_and_too_many_nodes_are_refused_early():
    assert the_error("rollback: " + "[" * 1_000 + "]" * 1_000) == (
        1,
        "",
        "nested more than 64 levels deep",
    )
    many = "rollback:\n" + "".join(f"  k{i}: {i}\n" for i in range(MAX_NODES))
    assert the_error(many)[2].startswith(f"more than {MAX_NODES:,} YAML nodes")


def test_anchors_aliases_and_merge_keys_work():
    policy = valid(
        "approvers:\n  users: [alice]\n"
        "freeze:\n"
        "  - &berlin {timezone: Europe/Berlin, days: [sat]}\n"
        "  - <<: *berlin\n"
        "    days: [sun]\n"
        "always_hold: &held [migrations/]\n"
        "never_hold: *held\n"
    )
    assert [window.days for window in policy.freeze] == [("sat",), ("sun",)]
    assert policy.freeze[1].timezone == "Europe/Berlin"
    assert policy.never_hold == policy.always_hold == ("migrations/",)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("mode: !!binary ZW5mb3JjZQ==\n", 1, "unsupported YAML tag !!binary"),
        ("rollback: !custom {a: 1}\n", 1, "unsupported YAML tag !custom"),
        ("mode: shadow\nrollback: !!set {a}\n", 2, "unsupported YAML tag !!set"),
        ("? [a, b]\n: 1\n", 1, "a key must be plain text, not a list"),
        ("mode: shadow\n---\nmode: enforce\n", 2, "not valid YAML: expected a single document"),
        ("mode: \x07\n", 1, "not valid YAML: the control character U+0007 is not allowed"),
        ("mode: shadow\n<<: 5\n", 2, "<< (merge) needs a mapping or a list of them"),
        ("mode: !!timestamp soon\n", 1, "expected 'enforce' or 'shadow', got 'soon'"),
        ("hold_expiry_hours: !!int 1.5\n", 1, "expected a number, got '1.5'"),
    ],
)
def test_other_broken_documents(text: str, line: int, message: str):
    found_line, _, found_message = the_error(text)
    assert found_line == line
    assert found_message.startswith(message)


def test_yaml_11_surprises_are_read_as_written():
    # 18:00 is the number 1080 in YAML 1.1; `on` would be true as a key
    window = valid("freeze:\n  - days: [fri]\n    start: 18:00\n    end: 23:30\n").freeze[0]
    assert (window.start, window.end) == (time(18), time(23, 30))
    assert warnings(f"{APPROVERS}on: push\n") == [(3, "", "unknown key 'on'")]
