"""The write log and the documents it produces: the hot path of every write and replay.

A write is acknowledged only after its transaction commits: the documents table and the
log record change together or not at all. This module keeps hand-written SQL (with
``executemany`` for a batch): it runs on every acknowledged write, every replay and every
search that returns documents, where sqlite-utils' per-call table introspection and dict
rows would cost more than the statements themselves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from indexes import content_hash
from indexes.errors import NotFoundError

from .connection import Connections, storage_errors
from .records import Document, DocumentIn, LogRecord

# Constant prefixes; callers append only "?" placeholders, never values.
_DOC_SELECT = "SELECT doc_id, text, metadata, content_hash, seq FROM documents"
_SEQ_SELECT = "SELECT doc_id, seq FROM documents"
_LOG_SELECT = "SELECT seq, op, doc_id, text, metadata, content_hash, created_at FROM write_log"

# the log's canonical metadata JSON (sorted keys), one encoder built once
_METADATA_JSON = json.JSONEncoder(sort_keys=True).encode


class SqliteWriteLog:
    """The append-only write log and the live documents, in one SQLite file."""

    def __init__(self, conns: Connections) -> None:
        self._conns = conns

    def append_upserts(
        self, documents: Sequence[DocumentIn], metadata_json: Sequence[str] | None = None
    ) -> list[LogRecord]:
        """Log and store a batch of upserts in one transaction; returns their records."""
        now = time.time()
        encoded = metadata_json or [_METADATA_JSON(d.metadata) for d in documents]
        rows = [
            (d.id, d.text, meta, content_hash(d.text), now)
            for d, meta in zip(documents, encoded, strict=True)
        ]
        with self._conns.atomic() as db:
            db.conn.executemany(
                "INSERT INTO write_log (op, doc_id, text, metadata, content_hash, created_at)"
                " VALUES ('upsert', ?, ?, ?, ?, ?)",
                rows,
            )
            # One writer holds the lock: the batch took the consecutive sequences up to here.
            first = int(db.execute("SELECT last_insert_rowid()").fetchone()[0]) - len(rows) + 1
            db.conn.executemany(
                "INSERT INTO documents (doc_id, text, metadata, content_hash, seq)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(doc_id) DO UPDATE SET"
                " text = excluded.text, metadata = excluded.metadata,"
                " content_hash = excluded.content_hash, seq = excluded.seq",
                [(*row[:4], first + i) for i, row in enumerate(rows)],
            )
        return [
            LogRecord(first + i, "upsert", doc.id, doc.text, doc.metadata, row[3], now)
            for i, (doc, row) in enumerate(zip(documents, rows, strict=True))
        ]

    def append_delete(self, doc_id: str) -> LogRecord:
        """Log and apply the deletion of a live document; NotFoundError if there is none."""
        now = time.time()
        with self._conns.atomic() as db:
            row = db.execute("SELECT 1 FROM documents WHERE doc_id = ?", [doc_id]).fetchone()
            if row is None:
                raise NotFoundError(f"document {doc_id!r} does not exist")
            cursor = db.execute(
                "INSERT INTO write_log (op, doc_id, created_at) VALUES ('delete', ?, ?)",
                [doc_id, now],
            )
            db.execute("DELETE FROM documents WHERE doc_id = ?", [doc_id])
        return LogRecord(int(cursor.lastrowid or 0), "delete", doc_id, None, None, None, now)

    def document(self, doc_id: str) -> Document | None:
        found = self._fetch(_DOC_SELECT + " WHERE doc_id = ?", [doc_id])
        return _document(found[0]) if found else None

    def documents(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        return {
            r[0]: _document(r)
            for r in self._fetch(_DOC_SELECT + f" WHERE doc_id IN ({marks})", doc_ids)
        }

    def versions(self, doc_ids: Sequence[str]) -> dict[str, int]:
        """The live sequence of each of ``doc_ids`` that exists (the backfill's version guard:
        no text or metadata read)."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        rows = self._fetch(_SEQ_SELECT + f" WHERE doc_id IN ({marks})", doc_ids)
        return {r[0]: int(r[1]) for r in rows}

    def document_ids(self) -> set[str]:
        return {r[0] for r in self._fetch("SELECT doc_id FROM documents", [])}

    def document_count(self) -> int:
        return int(self._fetch("SELECT count(*) FROM documents", [])[0][0])

    def scan(self, after_id: str | None, limit: int) -> list[Document]:
        """Live documents in id order after ``after_id``: a resumable scan (the backfill's)."""
        rows = self._fetch(
            _DOC_SELECT + " WHERE doc_id > ? ORDER BY doc_id LIMIT ?",
            ["" if after_id is None else after_id, limit],
        )
        return [_document(r) for r in rows]

    def sample(self, n: int) -> list[Document]:
        """Up to ``n`` live documents drawn at random (to train IVF/PQ layouts)."""
        return [_document(r) for r in self._fetch(_DOC_SELECT + " ORDER BY random() LIMIT ?", [n])]

    def last_seq(self) -> int:
        return int(self._fetch("SELECT coalesce(max(seq), 0) FROM write_log", [])[0][0])

    def read(self, after_seq: int, limit: int = 1000) -> list[LogRecord]:
        """Log records with ``seq > after_seq`` in order, at most ``limit`` of them."""
        rows = self._fetch(_LOG_SELECT + " WHERE seq > ? ORDER BY seq LIMIT ?", [after_seq, limit])
        return [_log_record(r) for r in rows]

    def created_at(self, seq: int) -> float | None:
        """When the record ``seq`` was written, if it exists."""
        found = self._fetch("SELECT created_at FROM write_log WHERE seq = ?", [seq])
        return float(found[0][0]) if found else None

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with storage_errors():
            return self._conns.db().execute(sql, list(args)).fetchall()


def _log_record(row: Sequence[Any]) -> LogRecord:
    metadata = None if row[4] is None else json.loads(row[4])
    return LogRecord(int(row[0]), row[1], row[2], row[3], metadata, row[5], float(row[6]))


def _document(row: Sequence[Any]) -> Document:
    return Document(
        id=row[0], text=row[1], metadata=json.loads(row[2]), content_hash=row[3], seq=int(row[4])
    )
