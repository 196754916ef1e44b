"""The write log and the documents on PostgreSQL: the hot path of every write and replay.

Appends are serialised by one transaction-scoped advisory lock (``LOG_LOCK``), taken
first: the appender reads the last sequence and writes the next ones while holding it,
so sequences are gapless (a rolled-back append takes none) and commit in sequence order,
whichever process or replica writes. A reader that has seen sequence n has seen every
sequence below it. A batch goes in with ``COPY``; its documents follow in one statement.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from indexes import content_hash
from indexes.errors import InvalidInputError, NotFoundError

from ..records import Document, DocumentIn, LogRecord
from .connection import PgConnections

LOG_LOCK = 0x5357_0001  # advisory lock id: one appender to the write log at a time

_DOC_SELECT = "SELECT doc_id, text, metadata, content_hash, seq FROM documents"
_LOG_SELECT = "SELECT seq, op, doc_id, text, metadata, content_hash, created_at FROM write_log"
_COPY_LOG = "COPY write_log (seq, op, doc_id, text, metadata, content_hash, created_at) FROM STDIN"
# The batch's documents from its log records: the newest record of each id wins.
_DOCS_FROM_LOG = (
    "INSERT INTO documents (doc_id, text, metadata, content_hash, seq)"
    " SELECT DISTINCT ON (doc_id) doc_id, text, metadata, content_hash, seq FROM write_log"
    " WHERE seq BETWEEN %s AND %s ORDER BY doc_id, seq DESC"
    " ON CONFLICT (doc_id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata,"
    " content_hash = excluded.content_hash, seq = excluded.seq"
)

# the log's canonical metadata JSON (sorted keys), one encoder built once
_METADATA_JSON = json.JSONEncoder(sort_keys=True).encode


class PgWriteLog:
    """The append-only write log and the live documents, in one PostgreSQL database."""

    def __init__(self, conns: PgConnections) -> None:
        self._conns = conns

    def append_upserts(
        self, documents: Sequence[DocumentIn], metadata_json: Sequence[str] | None = None
    ) -> list[LogRecord]:
        """Log and store a batch of upserts in one transaction; returns their records."""
        if not documents:
            return []
        _refuse_nul(documents)
        now = time.time()
        encoded = metadata_json or [_METADATA_JSON(d.metadata) for d in documents]
        rows = [
            (d.id, d.text, meta, content_hash(d.text), now)
            for d, meta in zip(documents, encoded, strict=True)
        ]
        with self._conns.atomic() as conn:
            first = _lock_log(conn) + 1
            with conn.cursor().copy(_COPY_LOG) as copy:
                for i, row in enumerate(rows):
                    copy.write_row((first + i, "upsert", *row))
            conn.execute(_DOCS_FROM_LOG, [first, first + len(rows) - 1])
        return [
            LogRecord(first + i, "upsert", doc.id, doc.text, doc.metadata, row[3], now)
            for i, (doc, row) in enumerate(zip(documents, rows, strict=True))
        ]

    def append_delete(self, doc_id: str) -> LogRecord:
        """Log and apply the deletion of a live document; NotFoundError if there is none."""
        now = time.time()
        with self._conns.atomic() as conn:
            seq = _lock_log(conn) + 1
            gone = conn.execute("DELETE FROM documents WHERE doc_id = %s", [doc_id]).rowcount
            if not gone:
                raise NotFoundError(f"document {doc_id!r} does not exist")
            conn.execute(
                "INSERT INTO write_log (seq, op, doc_id, created_at) VALUES (%s, 'delete', %s, %s)",
                [seq, doc_id, now],
            )
        return LogRecord(seq, "delete", doc_id, None, None, None, now)

    def document(self, doc_id: str) -> Document | None:
        found = self._conns.fetch(_DOC_SELECT + " WHERE doc_id = %s", [doc_id])
        return _document(found[0]) if found else None

    def documents(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        rows = self._conns.fetch(_DOC_SELECT + " WHERE doc_id = ANY(%s)", [list(doc_ids)])
        return {r[0]: _document(r) for r in rows}

    def versions(self, doc_ids: Sequence[str]) -> dict[str, int]:
        """The live sequence of each of ``doc_ids`` that exists (the backfill's version guard:
        no text or metadata read)."""
        if not doc_ids:
            return {}
        rows = self._conns.fetch(
            "SELECT doc_id, seq FROM documents WHERE doc_id = ANY(%s)", [list(doc_ids)]
        )
        return {r[0]: int(r[1]) for r in rows}

    def document_ids(self) -> set[str]:
        return {r[0] for r in self._conns.fetch("SELECT doc_id FROM documents")}

    def document_count(self) -> int:
        return int(self._conns.fetch("SELECT count(*) FROM documents")[0][0])

    def scan(self, after_id: str | None, limit: int) -> list[Document]:
        """Live documents in id order after ``after_id``: a resumable scan (the backfill's)."""
        rows = self._conns.fetch(
            _DOC_SELECT + " WHERE doc_id > %s ORDER BY doc_id LIMIT %s",
            ["" if after_id is None else after_id, limit],
        )
        return [_document(r) for r in rows]

    def sample(self, n: int) -> list[Document]:
        """Up to ``n`` live documents drawn at random (to train IVF/PQ layouts)."""
        rows = self._conns.fetch(_DOC_SELECT + " ORDER BY random() LIMIT %s", [n])
        return [_document(r) for r in rows]

    def last_seq(self) -> int:
        return int(self._conns.fetch("SELECT coalesce(max(seq), 0) FROM write_log")[0][0])

    def read(self, after_seq: int, limit: int = 1000) -> list[LogRecord]:
        """Log records with ``seq > after_seq`` in order, at most ``limit`` of them."""
        rows = self._conns.fetch(
            _LOG_SELECT + " WHERE seq > %s ORDER BY seq LIMIT %s", [after_seq, limit]
        )
        return [_log_record(r) for r in rows]

    def created_at(self, seq: int) -> float | None:
        """When the record ``seq`` was written, if it exists."""
        found = self._conns.fetch("SELECT created_at FROM write_log WHERE seq = %s", [seq])
        return float(found[0][0]) if found else None


def _lock_log(conn: psycopg.Connection[Any]) -> int:
    """Take the log's lock for this transaction; the last sequence, read after it.

    Two statements on purpose: under READ COMMITTED a statement's snapshot is taken when
    it starts, so a ``max(seq)`` in the locking statement could predate the lock.
    """
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOG_LOCK])
    head = conn.execute("SELECT coalesce(max(seq), 0) FROM write_log").fetchone()
    return int(head[0]) if head else 0


def _refuse_nul(documents: Sequence[DocumentIn]) -> None:
    """PostgreSQL's text holds no NUL character: a clear 4xx before anything is written."""
    for position, doc in enumerate(documents):
        if "\x00" in doc.text:
            raise InvalidInputError(
                f"documents[{position}]: text contains a NUL character (U+0000),"
                " which a PostgreSQL store cannot hold"
            )


def _log_record(row: Sequence[Any]) -> LogRecord:
    metadata = None if row[4] is None else json.loads(row[4])
    return LogRecord(int(row[0]), row[1], row[2], row[3], metadata, row[5], float(row[6]))


def _document(row: Sequence[Any]) -> Document:
    return Document(
        id=row[0], text=row[1], metadata=json.loads(row[2]), content_hash=row[3], seq=int(row[4])
    )
