"""Row access by table name: what the concerns without a hot path are written against.

The catalog, index migrations and events, evals, config versions and shadow reads issue
only these calls (constant SQL pieces with ``?`` placeholders; values only through
``args``), so one implementation of each concern runs on SQLite and on PostgreSQL alike.
The write log and the embedding cache keep hand-written SQL of each database: they are the
hot path of every write and replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Tables(Protocol):
    """Rows of named tables, read and written inside one re-entrant ``atomic()``."""

    def atomic(self) -> AbstractContextManager[object]:
        """One transaction for every write inside (re-entrant per thread)."""
        ...

    def rows(
        self,
        table: str,
        where: str | None = None,
        args: Sequence[Any] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
        for_update: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` as dicts. ``for_update``: inside ``atomic()``, lock them until
        it commits (a check-then-change of a row that another process may change too)."""
        ...

    def one(
        self, table: str, where: str, args: Sequence[Any], *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """The first row of ``table`` matching ``where``, or None."""
        ...

    def insert_row(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row; its integer key (0 for a table keyed by text)."""
        ...

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert a batch of rows with the same columns, in one transaction."""
        ...

    def update_row(self, table: str, key: str | int, values: Mapping[str, Any]) -> bool:
        """Change the row with primary key ``key``; False if there is none."""
        ...
