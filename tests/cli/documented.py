"""The `gate ...` examples of README.md and docs/*.md, and the commands and options they name."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```.*?$(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# `gate` as a command: at the start, after a shell separator, env assignments or a venv path;
# never `/gate approve` (a pull-request comment)
_START = re.compile(r"(?:^|[;&|(])\s*(?:\$\s+)?(?:[A-Z_]+=\S*\s+)*(?:\S*/bin/)?gate(?=\s|$)")
# "Options of `gate assess`:" then a list of "- `--base REV --head REV` ..." items
_OPTIONS_OF = re.compile(r"Options of `(gate [^`]+)`:\n\n((?:- .*\n(?:  .*\n)*)+)")
_ITEM_OPTIONS = re.compile(r"^- `(--[^`]+)`", re.M)


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    text: str


@dataclass(frozen=True)
class Usage:
    command: tuple[str, ...]  # ("jobs", "retry")
    options: frozenset[str]  # {"--failed"}
    unknown: tuple[str, ...]  # words that are neither a command nor an option of it


def examples() -> list[Example]:
    """Every `gate ...` in a code block (continued lines joined) or an inline code span."""
    found: list[Example] = []
    for path in DOCUMENTS:
        text = path.read_text()
        fenced_spans = []
        for block in _FENCE.finditer(text):
            fenced_spans.append(block.span())
            body = block.group(1).replace("\\\n", " ")
            first_line = text.count("\n", 0, block.start(1)) + 1
            for offset, line in enumerate(body.splitlines()):
                line = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
                for command in _commands(line):
                    found.append(Example(f"{path.name}:{first_line + offset}", command))
        for listing in _OPTIONS_OF.finditer(text):
            line = text.count("\n", 0, listing.start(2)) + 1
            for item in _ITEM_OPTIONS.finditer(listing.group(2)):
                where = f"{path.name}:{line + listing.group(2).count(chr(10), 0, item.start())}"
                found.append(Example(where, f"{listing.group(1)} {item.group(1)}"))
        for span in _INLINE.finditer(text):
            if any(start <= span.start() < end for start, end in fenced_spans):
                continue
            for command in _commands(span.group(1)):
                line = text.count("\n", 0, span.start()) + 1
                found.append(Example(f"{path.name}:{line}", command))
    return found


def _commands(text: str) -> list[str]:
    """`gate ...` up to the next shell separator, for each occurrence in the text."""
    out = []
    for match in _START.finditer(text):
        rest = text[match.end() :]
        rest = re.split(r"&&|\|\||;", rest, maxsplit=1)[0]
        out.append(("gate" + rest).strip())
    return out


def parse(example: str, app: typer.Typer) -> Usage:
    """Which command the example runs and which of its options it names."""
    root = typer.main.get_command(app)
    words = _words(example)[1:]  # without `gate`
    command: Any = root  # typer's own click: groups have .commands, options .opts
    path: list[str] = []
    options: set[str] = set()
    unknown: list[str] = []
    known = _option_names(root)
    for word in words:
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if name in known:
                options.add(name)
            else:
                unknown.append(name)
            continue
        if _is_group(command):
            sub = command.commands.get(word)
            if sub is not None:
                command, known = sub, _option_names(sub) | _option_names(root)
                path.append(word)
                continue
            if not path and not word.isupper() and word.isidentifier():
                unknown.append(word)  # `gate nosuchcommand`
    if _is_group(command) and not command.invoke_without_command and path:
        unknown.append(f"{' '.join(path)} (a group: name one of its commands)")
    return Usage(tuple(path), frozenset(options), tuple(unknown))


def _words(example: str) -> list[str]:
    cleaned = re.sub(r"[\[\]|]", " ", example)  # usage brackets: [--x N | --y]
    cleaned = cleaned.replace("...", " ")
    try:
        return shlex.split(cleaned)
    except ValueError:
        return cleaned.split()


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _option_names(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(
                name for name in (*param.opts, *param.secondary_opts) if name.startswith("--")
            )
    return names
