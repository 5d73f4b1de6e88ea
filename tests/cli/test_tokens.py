"""`gate token create` and `gate token revoke`."""

from __future__ import annotations

import io

import pytest

from gate.cli.tokens import create_command, revoke_command
from gate.store.tokens import ADMIN_SCOPE, token_owner


def test_a_repository_token_acting_for_an_approver(db):
    out = io.StringIO()
    assert create_command(db, "octo-org/shop", False, "@alice", "release", out) == 0
    token = out.getvalue().strip()
    assert token.startswith("rg_") and token_owner(db, token) == ("octo-org/shop", "alice")


def test_an_admin_token_and_its_revocation(db):
    out = io.StringIO()
    assert create_command(db, None, True, None, "ops", out) == 0
    token = out.getvalue().strip()
    assert token_owner(db, token) == (ADMIN_SCOPE, None)
    assert revoke_command(db, None, True, "ops", io.StringIO()) == 0
    assert token_owner(db, token) is None
    assert revoke_command(db, None, True, "ops", io.StringIO()) == 1  # nothing left to revoke


@pytest.mark.parametrize(
    ("repository", "admin", "user", "says"),
    [
        (None, False, None, "either --repo"),
        ("octo-org/shop", True, None, "either --repo"),
        ("shop", False, None, "OWNER/NAME"),
        (None, True, "alice", "acts for nobody"),
    ],
)
def test_bad_requests_are_refused_with_status_2(db, repository, admin, user, says):
    out, err = io.StringIO(), io.StringIO()
    assert create_command(db, repository, admin, user, "ci", out, err) == 2
    assert says in err.getvalue() and out.getvalue() == ""
