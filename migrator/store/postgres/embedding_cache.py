"""The embedding cache on PostgreSQL: vectors (float32 bytes, ``BYTEA``) by (fingerprint, hash).

Implements ``indexes.EmbeddingCache`` like the SQLite cache: the first vector stored for a
key is kept. A lookup is one statement whatever its size (``= ANY(array)``); a batch of
writes goes in through ``executemany`` (pipelined by psycopg).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .connection import PgConnections

_INSERT = (
    "INSERT INTO embedding_cache (fingerprint, content_hash, vector) VALUES (%s, %s, %s)"
    " ON CONFLICT DO NOTHING"
)


class PgEmbeddingCache:
    """The ``embedding_cache`` table, seen through the ``indexes.EmbeddingCache`` protocol."""

    def __init__(self, conns: PgConnections) -> None:
        self._conns = conns

    def get_many(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        rows = self._conns.fetch(
            "SELECT content_hash, vector FROM embedding_cache"
            " WHERE fingerprint = %s AND content_hash = ANY(%s)",
            [fingerprint, list(dict.fromkeys(hashes))],
        )
        return {digest: np.frombuffer(blob, dtype=np.float32).copy() for digest, blob in rows}

    def put_many(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            (fingerprint, digest, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for digest, vec in vectors.items()
        ]
        with self._conns.atomic() as conn, conn.cursor() as cursor:
            cursor.executemany(_INSERT, rows)

    def count(self, fingerprint: str) -> int:
        """How many vectors of this embedder are cached."""
        found = self._conns.fetch(
            "SELECT count(*) FROM embedding_cache WHERE fingerprint = %s", [fingerprint]
        )
        return int(found[0][0])
