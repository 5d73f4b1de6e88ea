"""Path and query parameters shared by the API's routers."""

from datetime import datetime
from typing import Annotated

from fastapi import Path

from gate.api.errors import unprocessable
from gate.reports.inputs import ReportError, check_repository, parse_when

# ids are database integers: PostgreSQL's integer ends at 2**31 - 1
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def query_time(value: str, name: str) -> datetime:
    """A query parameter's ISO date or datetime as aware UTC; a clear 422 when it is not one."""
    try:
        return parse_when(value, name)
    except ReportError as error:
        raise unprocessable(str(error), "query", name) from None


def query_repository(value: str, name: str = "repo") -> str:
    """A query parameter's OWNER/NAME; a clear 422 when it is not one."""
    try:
        return check_repository(value)
    except ReportError as error:
        raise unprocessable(str(error), "query", name) from None
