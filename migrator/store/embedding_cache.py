"""The embedding cache: vectors by (embedder fingerprint, content hash), never re-encoded.

Implements ``indexes.EmbeddingCache``. Lookups go in chunks of ``CHUNK`` hashes, under
SQLite's limit on bound parameters; writes keep the first vector stored for a key. Both
run on the write path (every new text is looked up, then stored), so they keep hand-written
SQL (``executemany``) rather than sqlite-utils' per-call table introspection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .connection import Connections, storage_errors

CHUNK = 500
_CACHE_SELECT = "SELECT content_hash, vector FROM embedding_cache WHERE fingerprint = ?"


class SqliteEmbeddingCache:
    """The ``embedding_cache`` table, seen through the ``indexes.EmbeddingCache`` protocol."""

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    def get_many(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            with storage_errors():
                rows = self._conns.db().execute(
                    _CACHE_SELECT + f" AND content_hash IN ({marks})", [fingerprint, *chunk]
                )
                for digest, blob in rows:
                    found[digest] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            (fingerprint, digest, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for digest, vec in vectors.items()
        ]
        with self._conns.atomic() as db:
            db.conn.executemany(
                "INSERT OR IGNORE INTO embedding_cache (fingerprint, content_hash, vector)"
                " VALUES (?, ?, ?)",
                rows,
            )

    def count(self, fingerprint: str) -> int:
        """How many vectors of this embedder are cached."""
        with storage_errors():
            return (
                self._conns.db()
                .table("embedding_cache")
                .count_where("fingerprint = ?", [fingerprint])
            )
