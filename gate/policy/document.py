"""risk-gate.yml's YAML as plain data with each path's lines, bounded against YAML bombs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gate.policy.problems import Problems, field_path

MAX_POLICY_BYTES = 1024 * 1024
# Aliases are counted each time they are used, so an alias bomb stops here, long before it explodes.
MAX_NODES = 10_000
MAX_DEPTH = 64
# YAML 1.1 (PyYAML) reads 1e-3 as text; YAML 1.2 and people read it as a number.
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+")
_YAML = "tag:yaml.org,2002:"
_TOO_MANY_NODES = f"more than {MAX_NODES:,} YAML nodes (each use of an alias counts)"


@dataclass(frozen=True)
class Where:
    key_line: int
    value_line: int
    scalar: bool


@dataclass
class Document:
    """The file's plain data and, for each path into it, the lines of its key and value."""

    data: Any
    lines: dict[tuple[str | int, ...], Where]

    def key_line(self, path: tuple[str | int, ...]) -> int | None:
        where = self.lines.get(path)
        return where.key_line if where else None

    def line_for(self, loc: tuple[str | int, ...]) -> int | None:
        """The deepest node on loc's path: its value's line when a scalar, else its key's line."""
        path = loc
        while path not in self.lines and path:
            path = path[:-1]
        where = self.lines.get(path)
        if where is None:
            return None
        return where.value_line if where.scalar else where.key_line


def load_document(text: str, problems: Problems) -> Document | None:
    """The document as plain data with each path's lines, or None after reporting why not."""
    if len(text) > MAX_POLICY_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_POLICY_BYTES
    ):
        problems.error(None, "", f"file is larger than {MAX_POLICY_BYTES // 1024} KiB")
        return None
    try:
        root = _compose(text)
    except _TooLarge as error:
        problems.error(error.line, "", error.message)
        return None
    except yaml.YAMLError as error:
        problems.error(*_yaml_error(error, text))
        return None
    if root is None or (isinstance(root, ScalarNode) and root.tag == f"{_YAML}null"):
        return Document({}, {(): Where(1, 1, False)})
    if not isinstance(root, MappingNode):
        problems.error(
            root.start_mark.line + 1,
            "",
            f"the file must be a mapping of keys (mode:, thresholds:, ...), not {_node_kind(root)}",
        )
        return None
    if not _small_enough(root, problems):
        return None
    document = Document(None, {})
    document.data = _convert(root, (), root.start_mark.line + 1, document, problems)
    return None if problems.errors else document


class _TooLarge(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """Stops composing at MAX_NODES written nodes or MAX_DEPTH levels, before the work grows."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooLarge(None, _TOO_MANY_NODES)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _TooLarge(line, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str) -> Node | None:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_error(error: yaml.YAMLError, text: str) -> tuple[int | None, str, str]:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        character = f"U+{error.character:04X}" if isinstance(error.character, int) else "?"
        return line, "", f"not valid YAML: the control character {character} is not allowed"
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"not valid YAML: {f'{context}, ' if context else ''}{problem}"
    if "'\\t'" in problem:
        message += "; YAML does not allow tabs for indentation, indent with spaces"
    elif "'@'" in problem:
        message += '; quote values that start with @, e.g. "@alice", or leave the @ out'
    return line, "", message


def _small_enough(root: Node, problems: Problems) -> bool:
    count = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            problems.error(None, "", _TOO_MANY_NODES)
            return False
        if depth > MAX_DEPTH:
            problems.error(
                node.start_mark.line + 1,
                "",
                f"nested more than {MAX_DEPTH} levels deep (an alias that contains itself?)",
            )
            return False
        if isinstance(node, MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
        elif isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
    return True


def _convert(
    node: Node, path: tuple[str | int, ...], key_line: int, document: Document, problems: Problems
) -> Any:
    line = node.start_mark.line + 1
    document.lines[path] = Where(key_line, line, isinstance(node, ScalarNode))
    if isinstance(node, MappingNode) and node.tag == f"{_YAML}map":
        result: dict[str, Any] = {}
        for key, (key_node, value_node) in _pairs(node, path, problems).items():
            result[key] = _convert(
                value_node, (*path, key), key_node.start_mark.line + 1, document, problems
            )
        return result
    if isinstance(node, SequenceNode) and node.tag == f"{_YAML}seq":
        return [
            _convert(item, (*path, index), item.start_mark.line + 1, document, problems)
            for index, item in enumerate(node.value)
        ]
    if isinstance(node, ScalarNode):
        value = _scalar(node)
        if value is not _UNSUPPORTED:
            return value
    tag = node.tag.replace(_YAML, "!!")
    problems.error(line, field_path(path), f"unsupported YAML tag {tag}")
    return None


def _pairs(
    node: MappingNode, path: tuple[str | int, ...], problems: Problems
) -> dict[str, tuple[Node, Node]]:
    """Key -> (key node, value node), merge keys (<<) expanded; explicit keys win."""
    merged: dict[str, tuple[Node, Node]] = {}
    explicit: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == f"{_YAML}merge":
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            # With several sources the first wins, so the later ones go in first.
            for source in reversed(sources):
                if not isinstance(source, MappingNode):
                    problems.error(
                        line, field_path(path), "<< (merge) needs a mapping or a list of them"
                    )
                    continue
                merged.update(_pairs(source, path, problems))
            continue
        if not isinstance(key_node, ScalarNode):
            problems.error(
                line, field_path(path), f"a key must be plain text, not {_node_kind(key_node)}"
            )
            continue
        key = key_node.value
        if key in explicit:
            first = explicit[key][0].start_mark.line + 1
            problems.error(
                line, field_path(path), f"duplicate key {key!r} at lines {first} and {line}"
            )
            continue
        explicit[key] = (key_node, value_node)
    return {**merged, **explicit}


_UNSUPPORTED = object()
_CONSTRUCTOR = SafeConstructor()


def _scalar(node: ScalarNode) -> Any:
    tag, text = node.tag, node.value
    try:
        if tag == f"{_YAML}str":
            return float(text) if node.style is None and _FLOAT.fullmatch(text) else text
        if tag == f"{_YAML}null":
            return None
        if tag == f"{_YAML}bool":
            return _CONSTRUCTOR.construct_yaml_bool(node)
        # YAML 1.1 reads 18:00 as the base-60 number 1080: keep such values as the text written.
        if tag in (f"{_YAML}int", f"{_YAML}float") and ":" in text:
            return text
        if tag == f"{_YAML}int":
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == f"{_YAML}float":
            return _CONSTRUCTOR.construct_yaml_float(node)
        if tag == f"{_YAML}timestamp":
            return _CONSTRUCTOR.construct_yaml_timestamp(node)
    # An explicit tag on a value that does not fit it (`!!timestamp soon`): PyYAML raises any of
    # these; the text goes on and validation says what is wrong.
    except (ValueError, KeyError, OverflowError, AttributeError, TypeError):
        return text
    return _UNSUPPORTED


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"the value {node.value[:40]!r}"
