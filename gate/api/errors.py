"""The app's own 422s, in the shape its OpenAPI description declares for every 422."""

from __future__ import annotations

from fastapi import HTTPException


def unprocessable(message: str, *loc: str | int) -> HTTPException:
    """A 422 whose body is FastAPI's HTTPValidationError: one error at `loc` ("query", "since")."""
    return HTTPException(422, [{"loc": list(loc), "msg": message, "type": "value_error"}])
