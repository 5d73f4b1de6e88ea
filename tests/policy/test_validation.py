"""Unknown keys become warnings with lines and suggestions; warnings across keys."""

from __future__ import annotations

from gate.policy.config import parse_policy
from tests.policy.policy_text import APPROVERS, warnings


def test_no_approvers_is_a_warning_in_enforce_mode_only():
    assert warnings("") == [
        (
            None,
            "approvers",
            "no approvers configured: only the repository's admins and maintainers can release "
            "a held change",
        )
    ]
    assert warnings("approvers:\n  users: []\n")[0][0] == 1
    assert warnings("mode: shadow\n") == []
    assert warnings(APPROVERS) == []


def test_unknown_keys_are_warnings_with_lines_and_suggestions():
    text = (
        f"{APPROVERS}"  # lines 1-2
        "mode: shadow\n"
        "thresholdz:\n"
        "  pass_below: 0.3\n"
        "freeze:\n"
        "  - days: [sat]\n"
        "    reasn: weekend\n"
        "wibble: 1\n"
    )
    result = parse_policy(text)
    assert result.ok
    assert [str(problem) for problem in result.warnings] == [
        ".github/risk-gate.yml line 4: unknown key 'thresholdz' (did you mean 'thresholds'?)",
        ".github/risk-gate.yml line 8, freeze[0]: unknown key 'reasn' (did you mean 'reason'?)",
        ".github/risk-gate.yml line 9: unknown key 'wibble'",
    ]
    assert result.policy is not None
    assert result.policy.thresholds.source == "shares"


def test_unknown_keys_in_nested_sections():
    text = "thresholds:\n  pass_bellow: 0.2\napprovers:\n  user: [alice]\n  teams: [a/b]\n"
    assert warnings(text) == [
        (2, "thresholds", "unknown key 'pass_bellow' (did you mean 'pass_below'?)"),
        (4, "approvers", "unknown key 'user' (did you mean 'users'?)"),
    ]


def test_unknown_keys_in_rollback_are_warnings_too():
    assert warnings(f"{APPROVERS}rollback:\n  watch_minute: 1\n") == [
        (4, "rollback", "unknown key 'watch_minute' (did you mean 'watch_minutes'?)")
    ]
