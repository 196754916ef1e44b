"""The pgvector backend: one index version as one PostgreSQL table, durable on its own.

A :class:`PgvectorIndex` keeps its documents in a table ``(id text primary key,
embedding vector(dim))`` with an HNSW or IVFFlat index (or none, for ``flat``), and its
write-log position in a row of ``switchover_pgvector`` beside it. :meth:`apply` changes
the rows and that position in one transaction, so after a crash the index is exactly at
the sequence it says and replaying the log from there applies every record once: a
record at or below it changes nothing, one above it is applied whole.

IVFFlat computes its lists from the rows present when the index is built, so like a
FAISS IVF layout it starts untrained: writes are kept and searched exactly (a plain scan)
until :meth:`train` builds the index from a sample (inserted, indexed and deleted in one
transaction, never visible), or until ``auto_train_size`` documents have arrived.

Searches run in a transaction that sets ``hnsw.ef_search`` / ``ivfflat.probes`` with
``SET LOCAL`` (through ``set_config``) and turns off sequential scans, so the index (not
a planner shortcut on a small table) answers; ``ef_search`` is at least ``k``, as in FAISS.
Scores are higher-is-better: the inner product, or minus the squared L2 distance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, LiteralString

import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ._checks import as_matrix, check_int, check_str, checked_queries, checked_upserts
from .backend import Hit
from .embedder_spec import QueryVectors
from .errors import InvalidInputError, StorageError
from .pgvector_layout import PgLayout, parse_layout
from .pgvector_pool import META, PgVector
from .pgvector_table import TableIdentity, attach_table, create_ann_index, set_search_knobs
from .spec import IndexSpec, SearchParams

__all__ = ["PgvectorIndex"]

_TRAIN_PREFIX = "\x01train:"  # never a document id: ids carry no control characters
_DISTANCE = {"ip": sql.SQL("<#>"), "l2": sql.SQL("<->")}


class PgvectorIndex:
    """One index version in a pgvector table; ``persists_itself``: no snapshots."""

    persists_itself = True

    def __init__(
        self,
        pool: ConnectionPool,
        table: str,
        spec: IndexSpec,
        dim: int,
        fingerprint: str,
        search_params: SearchParams | None = None,
    ) -> None:
        """Attach to ``table`` (made, empty, if it does not exist yet).

        An existing table built for another spec, embedder or dimension is a
        :class:`ConflictError`: its rows are not this version's.
        """
        check_str(fingerprint, "fingerprint", allow_empty=False)
        self.spec, self.dim, self.fingerprint = spec, dim, fingerprint
        self.layout: PgLayout = parse_layout(spec.factory)
        self.auto_train_size = max(1000, 50 * self.layout.lists)
        self._pool = pool
        self._table = sql.Identifier(table)
        self._name = table
        self._search_params = SearchParams()
        self.set_search_params(search_params or SearchParams())
        self._lock = threading.Lock()  # writes one at a time; searches never wait for it
        with self._run() as conn:
            self._applied_seq, self._trained = attach_table(conn, self._name, self._identity())
            # the rows this instance knows of: the auto-train trigger only. Other replicas
            # write the same table, so the count served (``len``) is read from it.
            self._count = self._live(conn)

    # -- setup ---------------------------------------------------------------------

    def _identity(self) -> TableIdentity:
        return TableIdentity(self.spec, self.fingerprint, self.dim, self.layout)

    def _sql(self, text: LiteralString) -> sql.Composed:
        """Constant SQL text with this version's table in its one ``{}``."""
        return sql.SQL(text).format(self._table)

    @contextmanager
    def _run(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a database failure becomes a :class:`StorageError`."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"pgvector index {self.spec.name!r}: {exc}") from exc

    def _scalar(self, conn: psycopg.Connection[Any], query: sql.Composed, *args: Any) -> int:
        row = conn.execute(query, args).fetchone()
        return int(row[0]) if row is not None else 0

    # -- reading -------------------------------------------------------------------

    @property
    def applied_seq(self) -> int:
        return self._applied_seq

    @property
    def search_params(self) -> SearchParams:
        return self._search_params

    def set_search_params(self, params: SearchParams) -> None:
        """Change ``hnsw.ef_search`` / ``ivfflat.probes`` for later searches (no rebuild)."""
        if not isinstance(params, SearchParams):
            raise InvalidInputError("search params must be a SearchParams")
        self.spec.check_search_params(params)
        self._search_params = params

    @property
    def is_trained(self) -> bool:
        return self._trained

    @property
    def table(self) -> str:
        """The PostgreSQL table holding this version's rows."""
        return self._name

    def __len__(self) -> int:
        """The table's rows now, whichever replica wrote them (the primary key's index
        answers ``count(*)``: milliseconds at 100k rows, read on listings, not on writes)."""
        with self._run() as conn:
            return self._live(conn)

    def _live(self, conn: psycopg.Connection[Any]) -> int:
        """The table's row count, kept in ``_count`` (the auto-train trigger's view)."""
        self._count = self._scalar(conn, self._sql("SELECT count(*) FROM {}"))
        return self._count

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        with self._run() as conn:
            return bool(
                self._scalar(conn, self._sql("SELECT count(*) FROM {} WHERE id = %s"), doc_id)
            )

    def ids(self) -> set[str]:
        with self._run() as conn:
            rows = conn.execute(self._sql("SELECT id FROM {}")).fetchall()
        return {str(r[0]) for r in rows}

    def stats(self) -> dict[str, Any]:
        """Counts for operators. Deleted rows are reclaimed by PostgreSQL's VACUUM, so a
        rebuild is never needed; ``dead_vectors`` is the table's dead tuples not yet reclaimed
        (from ``pg_stat_user_tables``, updated by PostgreSQL with a short delay)."""
        with self._run() as conn:
            row = conn.execute(
                "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables"
                " WHERE relid = %s::regclass",
                (self._name,),
            ).fetchone()
            live = self._live(conn)
        dead = int(row[0]) if row else 0
        stored = live + dead
        return {
            "live": live,
            "dead_vectors": dead,
            "dead_ratio": dead / stored if stored else 0.0,
            "trained": self._trained,
            "applied_seq": self._applied_seq,
            "rebuild_needed": False,
            "table": self._name,
            "layout": self.layout.kind,
        }

    def search(
        self, queries: QueryVectors, k: int, params: SearchParams | None = None
    ) -> list[list[Hit]]:
        """Up to ``k`` hits per query, best first; ``params`` override the runtime knobs."""
        matrix = checked_queries(
            queries.vectors,
            queries.fingerprint,
            k,
            fingerprint=self.fingerprint,
            dim=self.dim,
            index=self.spec.name,
        )
        effective = self._search_params.overridden_by(params)
        self.spec.check_search_params(effective)
        if len(matrix) == 0:
            return []
        op = _DISTANCE[self.spec.metric]
        query = _SEARCH.format(op, self._table, op)
        with self._run() as conn, conn.transaction():
            set_search_knobs(conn, self.layout, self._trained, effective, k)
            return [self._hits(conn.execute(query, (PgVector(q), PgVector(q), k))) for q in matrix]

    def _hits(self, cursor: psycopg.Cursor[Any]) -> list[Hit]:
        if self.spec.metric == "ip":
            return [Hit(str(i), -float(d)) for i, d in cursor]
        return [Hit(str(i), -float(d) * float(d)) for i, d in cursor]

    # -- writing -------------------------------------------------------------------

    def apply(
        self,
        seq: int,
        upserts: Mapping[str, np.ndarray] | None = None,
        deletes: Iterable[str] = (),
    ) -> None:
        """Deletes, then upserts, then ``applied_seq = seq``: one transaction.

        A ``seq`` at or below the table's recorded sequence changes nothing (replay
        idempotence). Input is checked before anything is sent.
        """
        check_int(seq, "seq", 0)
        rows = self._checked(upserts or {})
        gone = sorted({check_str(i, "document id", allow_empty=False) for i in deletes})
        if seq <= self._applied_seq:
            return
        with self._lock:
            with self._run() as conn, conn.transaction():
                recorded, self._trained = self._position(conn)  # another replica may lead
                if seq <= recorded:
                    self._applied_seq = recorded
                    return
                delta = self._write(conn, rows, gone)
                conn.execute(_SET_SEQ, (seq, self._name))
            self._applied_seq, self._count = seq, self._count + delta  # committed
        self._train_if_due()

    def _position(self, conn: psycopg.Connection[Any]) -> tuple[int, bool]:
        """``(applied_seq, trained)`` of the table, its row locked to this transaction: the
        writes of every replica to one table go one at a time (and count rows right)."""
        row = conn.execute(_POSITION_FOR_UPDATE, (self._name,)).fetchone()
        if row is None:
            raise StorageError(f"pgvector index {self.spec.name!r}: its table was dropped")
        return int(row[0]), bool(row[1])

    def backfill(self, upserts: Mapping[str, np.ndarray]) -> None:
        """Upsert documents copied from the store; ``applied_seq`` does not move."""
        rows = self._checked(upserts)
        if not rows:
            return
        with self._lock:
            with self._run() as conn, conn.transaction():
                _, self._trained = self._position(conn)
                delta = self._write(conn, rows, [])
            self._count += delta
        self._train_if_due()

    def _checked(self, upserts: Mapping[str, np.ndarray]) -> list[tuple[str, PgVector]]:
        return [(doc_id, PgVector(vec)) for doc_id, vec in checked_upserts(upserts, self.dim)]

    def _write(
        self, conn: psycopg.Connection[Any], rows: list[tuple[str, PgVector]], gone: list[str]
    ) -> int:
        """Delete ``gone``, upsert ``rows``; the change in the live count."""
        removed = 0
        if gone:
            cur = conn.execute(self._sql("DELETE FROM {} WHERE id = ANY(%s)"), (gone,))
            removed = cur.rowcount
        if not rows:
            return -removed
        ids = [doc_id for doc_id, _ in rows]
        present = self._scalar(conn, self._sql("SELECT count(*) FROM {} WHERE id = ANY(%s)"), ids)
        with conn.cursor() as cur:
            cur.executemany(_UPSERT.format(self._table), rows)
        return len(rows) - present - removed

    def train(self, vectors: np.ndarray) -> None:
        """Build the IVFFlat index with its lists computed from ``vectors`` (and the rows
        already there); a no-op for layouts that need no training and once trained."""
        sample = as_matrix(vectors, self.dim, "training vectors")
        with self._lock:
            if not self._trained:
                self._build(sample)

    def _train_if_due(self) -> None:
        if not self._trained and self._count >= self.auto_train_size:
            with self._lock:
                if not self._trained:
                    self._build(np.empty((0, self.dim), np.float32))

    def _build(self, sample: np.ndarray) -> None:
        """Insert the sample, build the index, delete the sample: one transaction, so no
        reader ever sees a sample row."""
        ids = [f"{_TRAIN_PREFIX}{i}" for i in range(len(sample))]
        with self._run() as conn, conn.transaction():
            _, self._trained = self._position(conn)
            if self._trained:  # another replica built it first
                return
            if ids:
                with conn.cursor() as cur:
                    cur.executemany(
                        self._sql("INSERT INTO {} (id, embedding) VALUES (%s, %b)"),
                        [(i, PgVector(v)) for i, v in zip(ids, sample, strict=True)],
                    )
            create_ann_index(conn, self._name, self.layout, self.spec.metric)
            if ids:
                conn.execute(self._sql("DELETE FROM {} WHERE id = ANY(%s)"), (ids,))
            conn.execute(_SET_TRAINED, (self._name,))
        self._trained = True

    def drop(self) -> None:
        """Delete this version's table and its row (an aborted migration's target)."""
        with self._lock, self._run() as conn, conn.transaction():
            conn.execute(self._sql("DROP TABLE IF EXISTS {}"))
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE tbl = %s").format(sql.Identifier(META)), (self._name,)
            )


_META = sql.Identifier(META)
_POSITION_FOR_UPDATE = sql.SQL(
    "SELECT applied_seq, trained FROM {} WHERE tbl = %s FOR UPDATE"
).format(_META)
_SET_SEQ = sql.SQL("UPDATE {} SET applied_seq = %s WHERE tbl = %s").format(_META)
_SET_TRAINED = sql.SQL("UPDATE {} SET trained = true WHERE tbl = %s").format(_META)
_SEARCH = sql.SQL("SELECT id, embedding {} %b FROM {} ORDER BY embedding {} %b LIMIT %s")
_UPSERT = sql.SQL(
    "INSERT INTO {} (id, embedding) VALUES (%s, %b)"
    " ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding"
)
