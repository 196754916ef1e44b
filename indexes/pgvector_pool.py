"""PostgreSQL plumbing for the pgvector backend: a pool with the ``vector`` type registered.

:func:`open_pool` creates the extension and the catalog table ``switchover_pgvector``
(one row per index version: its table, spec, embedder, dimension, applied sequence and
whether it is trained) and returns a pool whose connections send :class:`PgVector`
values in pgvector's binary format (no text round trip of every float).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool

from .errors import StorageError

__all__ = ["META", "PgVector", "open_pool"]

META = "switchover_pgvector"


class PgVector:
    """A float32 vector sent to PostgreSQL in pgvector's binary format."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: PgVector) -> bytes:
        return struct.pack(">HH", len(obj.data), 0) + obj.data.astype(">f4").tobytes()


def _configure(conn: psycopg.Connection[Any]) -> None:
    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        raise StorageError("the database has no vector type: CREATE EXTENSION vector first")
    dumper = type("VectorDumper", (_VectorDumper,), {"oid": info.oid})
    conn.adapters.register_dumper(PgVector, dumper)


def open_pool(url: str, *, max_size: int = 4) -> ConnectionPool:
    """A connection pool on ``url`` with the ``vector`` extension created and registered."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (tbl text PRIMARY KEY, spec jsonb NOT NULL,"
                    " fingerprint text NOT NULL, dim integer NOT NULL, applied_seq bigint NOT"
                    " NULL, trained boolean NOT NULL, created_at timestamptz DEFAULT now())"
                ).format(sql.Identifier(META))
            )
    except psycopg.Error as exc:
        raise StorageError(f"pgvector: cannot open the database: {exc}") from exc
    kwargs = {"autocommit": True, "connect_timeout": 10}
    pool = ConnectionPool(
        url, min_size=1, max_size=max_size, kwargs=kwargs, configure=_configure, open=False
    )
    pool.open(wait=True, timeout=30)
    return pool
