"""The slice of asyncpg that signaling's queries use, typed (asyncpg ships no type information).

`Db` is what a query needs of a pool or a connection: either satisfies it, so a query takes
either and mypy checks what it asks and what shape it gets back (a status string, rows, one row
or None, one value). A row stays `Record`, which mypy sees as Any: asyncpg.Record is read by
column name and by position and iterates its values, which no typing Mapping describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeAlias

import asyncpg

Record: TypeAlias = asyncpg.Record


class Db(Protocol):
    async def execute(self, query: str, *args: Any) -> str: ...

    async def executemany(self, query: str, args: Iterable[Sequence[Any]]) -> None: ...

    async def fetch(self, query: str, *args: Any) -> list[Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> Record | None: ...

    async def fetchval(self, query: str, *args: Any, column: int = 0) -> Any: ...
