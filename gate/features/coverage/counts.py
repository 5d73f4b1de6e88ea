"""Whole numbers (line numbers, hit counts) read from report text, at most 30 digits."""

from __future__ import annotations

import re

# at most 30 digits: enough for any 64-bit hit count, and int() refuses over 4,300 digits
_WHOLE = re.compile(r"\s*[+-]?[0-9]{1,30}\s*")


def whole(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    if value.isascii() and value.isdigit() and len(value) <= 30:  # the common case, fast
        return int(value)
    return int(value) if _WHOLE.fullmatch(value) else None
