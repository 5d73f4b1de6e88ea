"""`gate token create` and `gate token revoke`: API tokens for CI, approvers and admins."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from gate.cli.common import open_database

if TYPE_CHECKING:
    from gate.store.db import Database

app = typer.Typer(help="API tokens: for CI jobs, approvers and admins.", no_args_is_help=True)


def _scope(repository: str | None, admin: bool, err: TextIO) -> str | None:
    """The token's repository, ADMIN_SCOPE, or None after saying what is wrong."""
    from gate.reports.inputs import ReportError, check_repository
    from gate.store.tokens import ADMIN_SCOPE

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
    from gate.store.tokens import ADMIN_SCOPE, TokenNameTaken, create_token

    scope = _scope(repository, admin, err)
    if scope is None:
        return 2
    if admin and user:
        print("error: an admin token reads; it acts for nobody (no --user)", file=err)
        return 2
    which = "--admin" if scope == ADMIN_SCOPE else f"--repo {scope}"
    try:
        token = create_token(db, scope, name, actor=user.lstrip("@") if user else None)
    except TokenNameTaken:
        print(
            f"error: a live token named {name!r} exists for {which}: choose another --name, "
            f"or revoke it first (gate token revoke {name} {which})",
            file=err,
        )
        return 2
    out.write(token + "\n")
    print(
        f"This token is shown once (only its digest is stored): keep it now. "
        f"Revoke it with: gate token revoke {name} {which}",
        file=err,
    )
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
    from gate.store.tokens import revoke_tokens

    scope = _scope(repository, admin, err)
    if scope is None:
        return 2
    revoked = revoke_tokens(db, scope, name)
    out.write(f"revoked {revoked} token(s) named {name!r}\n")
    return 0 if revoked else 1


@app.command("create")
def token_create(
    repo: Annotated[str | None, typer.Option(help="OWNER/NAME: the token's repository")] = None,
    admin: Annotated[
        bool, typer.Option(help="read every repository's assessments, decisions and reports")
    ] = False,
    user: Annotated[
        str | None, typer.Option(help="the GitHub login it acts for (approvals through the API)")
    ] = None,
    name: Annotated[str, typer.Option(help="what it is for, to revoke it by")] = "ci",
) -> None:
    """Print a new API token; it is shown once and stored only as a digest."""
    raise typer.Exit(create_command(open_database(), repo, admin, user, name, sys.stdout))


@app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="the name it was created with")],
    repo: Annotated[str | None, typer.Option(help="OWNER/NAME")] = None,
    admin: Annotated[bool, typer.Option(help="revoke admin tokens of that name")] = False,
) -> None:
    """Revoke a repository's (or the admin) tokens of that name."""
    raise typer.Exit(revoke_command(open_database(), repo, admin, name, sys.stdout))
