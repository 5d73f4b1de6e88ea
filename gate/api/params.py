"""Path and query parameters shared by the API's routers."""

from typing import Annotated

from fastapi import Path

# ids are database integers: PostgreSQL's integer ends at 2**31 - 1
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
