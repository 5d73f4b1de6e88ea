"""What every command group shares: the consoles, one-line errors, settings and the database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from gate.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from rich.table import Table

    from gate.store import Database

console = Console()
errors = Console(stderr=True)

EXIT_USAGE = 2


def print_error(message: str) -> None:
    """`error: ...` on stderr, the message as written (no markup, no traceback)."""
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Say what is wrong; the caller raises the result: `raise fail(...) from None`."""
    print_error(message)
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise fail(str(error)) from None


def open_database() -> Database:
    """The configured database, migrated to the current schema."""
    from gate.store import Database

    db = Database(settings().database_url)
    db.migrate()
    return db


TRAIN_EXTRA = ("sklearn", "matplotlib", "pyarrow")


def require_extra(modules: tuple[str, ...] = TRAIN_EXTRA, extra: str = "train") -> None:
    """Say which extra to install before any work starts, rather than after it."""
    import importlib.util

    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise fail(
            f"this command needs the {extra} extra ({', '.join(missing)} missing): "
            f"pip install 'riskgate[{extra}]'"
        )


def wrapping_table(*headers: str, **options: Any) -> Table:
    """A table whose cells wrap (long words fold) to fit the terminal: never cut off."""
    from rich.table import Table

    table = Table(**options)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table
