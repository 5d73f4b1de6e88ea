"""`gate token create` and `gate token revoke`: API tokens for CI, approvers and admins."""

from __future__ import annotations

import sys
from typing import TextIO

from gate.reports.inputs import ReportError, check_repository
from gate.store.db import Database
from gate.store.tokens import ADMIN_SCOPE, create_token, revoke_tokens


def _scope(repository: str | None, admin: bool, err: TextIO) -> str | None:
    """The token's repository, ADMIN_SCOPE, or None after saying what is wrong."""
    if admin == (repository is not None):
        print("error: give either --repo OWNER/NAME or --admin", file=err)
        return None
    if repository is None:
        return ADMIN_SCOPE
    try:
        return check_repository(repository)
    except ReportError as error:
        print(f"error: {error}", file=err)
        return None


def create_command(
    db: Database,
    repository: str | None,
    admin: bool,
    user: str | None,
    name: str,
    out: TextIO,
    err: TextIO = sys.stderr,
) -> int:
    """Print a new token (shown this once; only its digest is stored); 2 on bad input."""
    scope = _scope(repository, admin, err)
    if scope is None:
        return 2
    if admin and user:
        print("error: an admin token reads; it acts for nobody (no --user)", file=err)
        return 2
    out.write(create_token(db, scope, name, actor=user.lstrip("@") if user else None) + "\n")
    return 0


def revoke_command(
    db: Database,
    repository: str | None,
    admin: bool,
    name: str,
    out: TextIO,
    err: TextIO = sys.stderr,
) -> int:
    """Revoke the live tokens of that repository (or the admin tokens) with that name."""
    scope = _scope(repository, admin, err)
    if scope is None:
        return 2
    revoked = revoke_tokens(db, scope, name)
    out.write(f"revoked {revoked} token(s) named {name!r}\n")
    return 0 if revoked else 1
