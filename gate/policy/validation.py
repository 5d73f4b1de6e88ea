"""The YAML's data checked against the schema: unknown keys warned, errors in words, by line."""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, RootModel, ValidationError
from pydantic.fields import FieldInfo

from gate.policy.document import Document
from gate.policy.problems import Problems, field_path, suggest
from gate.policy.schema import Policy


def validate(document: Document, problems: Problems) -> Policy | None:
    """The Policy the document describes, or None after reporting each error on its line."""
    data = _prune(document.data, Policy, (), document, problems)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as error:
        for item in error.errors(include_url=False):
            loc = tuple(item["loc"])
            problems.error(document.line_for(loc), field_path(loc), _message(item))
        return None
    _warn_across_keys(policy, document, problems)
    return policy


def _warn_across_keys(policy: Policy, document: Document, problems: Problems) -> None:
    """Valid on their own, doubtful together: warnings that need more than one key."""
    if policy.mode == "enforce" and policy.approvers.is_empty:
        problems.warn(
            document.key_line(("approvers",)),
            "approvers",
            "no approvers configured: only the repository's admins and maintainers can release "
            "a held change",
        )


def _prune(
    value: Any,
    annotation: Any,
    path: tuple[str | int, ...],
    document: Document,
    problems: Problems,
) -> Any:
    """Drop unknown keys (with a warning each) and empty values of keys that have a default."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return _prune(value, annotation.model_fields["root"].annotation, path, document, problems)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return (
            _prune_model(value, annotation, path, document, problems)
            if isinstance(value, dict)
            else value
        )
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {
            key: _prune(item, args[1], (*path, key), document, problems)
            for key, item in value.items()
        }
    if origin in (list, tuple) and isinstance(value, list) and args:
        return [
            _prune(item, args[0], (*path, index), document, problems)
            for index, item in enumerate(value)
        ]
    return value


def _prune_model(
    value: dict[str, Any],
    model: type[BaseModel],
    path: tuple[str | int, ...],
    document: Document,
    problems: Problems,
) -> dict[str, Any]:
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    kept: dict[str, Any] = {}
    for key, item in value.items():
        info = fields.get(key)
        if info is None:
            problems.warn(
                document.key_line((*path, key)),
                field_path(path),
                f"unknown key {key!r}{suggest(key, fields)}",
            )
        elif item is None and not info.is_required() and not _allows_none(info):
            continue  # `approvers:` with nothing under it means the defaults
        else:
            kept[key] = _prune(item, info.annotation, (*path, key), document, problems)
    return kept


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] -> X and X | None -> X, so that the walk can see the model or container."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _allows_none(info: FieldInfo) -> bool:
    annotation = info.annotation
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


_TYPE_MESSAGES = {
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "text",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": "a date",
    "datetime_type": "a date and time",
    "time_type": 'a time "HH:MM"',
}


def _message(error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind in _TYPE_MESSAGES:
        return f"expected {_TYPE_MESSAGES[kind]}, got {_describe_value(value)}"
    if kind == "too_short":
        return f"list at least {error['ctx']['min_length']} item"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        hint = suggest(value, choices) if isinstance(value, str) else ""
        return f"expected {expected}, got {_describe_value(value)}{hint}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
