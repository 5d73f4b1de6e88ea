"""`approvers:`: names normalised, enough approvers to release, mistakes on their lines."""

from __future__ import annotations

import pytest

from tests.policy.policy_text import the_error, valid


def test_approvers_are_normalised():
    approvers = valid(
        'approvers:\n  users: ["@Alice", bob, alice]\n  teams: ["@Acme/Release", acme/sre]\n'
        "  required_approvals: 2\n"
    ).approvers
    assert approvers.users == ("alice", "bob")
    assert approvers.teams == ("acme/release", "acme/sre")
    assert approvers.required_approvals == 2


def test_required_approvals_with_no_approvers_is_an_error_on_its_line():
    message = "no approvers configured: nobody could release a held change"
    assert the_error("approvers:\n  required_approvals: 1\n") == (
        2,
        "approvers.required_approvals",
        message,
    )
    assert the_error("approvers:\n  users: []\n  teams: []\n  required_approvals: 2\n") == (
        4,
        "approvers.required_approvals",
        message,
    )


def test_more_approvals_than_listed_users_is_an_error_unless_a_team_is_listed():
    assert the_error("approvers:\n  users: [alice]\n  required_approvals: 2\n") == (
        3,
        "approvers.required_approvals",
        "2 approvals required but only 1 user listed",
    )
    valid("approvers:\n  users: [alice]\n  teams: [acme/sre]\n  required_approvals: 2\n")


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("users: [acme/sre]", 2, "approvers.users[0]", "'acme/sre' is a team: list it under teams"),
        ("teams: [alice]", 2, "approvers.teams[0]", "'alice' is not a team: write org/team-slug"),
        ('users: ["al ice"]', 2, "approvers.users[0]", "'al ice' is not a GitHub login"),
        ("users:\n    - bob\n    - 7", 4, "approvers.users[1]", "expected text, got 7"),
        ("users: [alice]\n  required_approvals: 0", 3, "approvers.required_approvals", ""),
        ("users: [alice]\n  required_approvals: true", 3, "approvers.required_approvals", ""),
        ("users: [alice]\n  required_approvals: 1.5", 3, "approvers.required_approvals", ""),
        ("users: alice", 2, "approvers.users", "expected a list, got 'alice'"),
    ],
)
def test_bad_approvers(text: str, line: int, field: str, message: str):
    found_line, found_field, found_message = the_error(f"approvers:\n  {text}\n")
    assert (found_line, found_field) == (line, field)
    assert message in found_message


def test_an_approver_starting_with_an_unquoted_at_gets_a_hint():
    line, _, message = the_error("approvers:\n  users:\n    - @alice\n")
    assert line == 3
    assert 'quote values that start with @, e.g. "@alice"' in message
