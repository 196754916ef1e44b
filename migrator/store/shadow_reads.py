"""Shadow reads: per-query overlap and latency of live queries run on the other index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from .records import ShadowReadRecord
from .tables import Tables


class ShadowReadTable:
    """The ``shadow_reads`` table (written in batches, off the request path)."""

    def __init__(self, conns: Tables) -> None:
        self._conns = conns

    def add(self, reads: Sequence[ShadowReadRecord]) -> None:
        if reads:
            self._conns.insert_rows("shadow_reads", [asdict(r) for r in reads])

    def recent(self, migration_id: int, limit: int = 10_000) -> list[ShadowReadRecord]:
        """The migration's newest ``limit`` shadow reads, newest first."""
        rows = self._conns.rows(
            "shadow_reads", "migration_id = ?", [migration_id], order_by="id DESC", limit=limit
        )
        return [ShadowReadRecord(**{k: v for k, v in r.items() if k != "id"}) for r in rows]
