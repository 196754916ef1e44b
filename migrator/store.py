"""The store: the only module that speaks SQL.

One SQLite file (WAL journal, ``synchronous=FULL``) holds the documents, the
append-only write log, the index catalog and the embedding cache. One writer
connection, guarded by a lock, owns every write (datasette's pattern); each
reading thread gets its own connection, so searches never queue behind a write.

A write is acknowledged only after its transaction commits: the documents table
and the log record change together or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlite_utils import Database

from indexes import IndexSpec, SearchParams, content_hash
from indexes.errors import ConflictError, NotFoundError, StorageError

from .migration import Backfill, Event, Migration, Plan
from .phases import TERMINAL, Phase
from .records import Document, DocumentIn, LogRecord
from .schema import migrations

log = logging.getLogger(__name__)

Role = str  # "primary" | "target" | "retired"


@dataclass(frozen=True)
class CatalogEntry:
    """One index version as the catalog records it."""

    spec: IndexSpec
    fingerprint: str
    dim: int
    role: Role
    search_params: SearchParams
    created_at: float

    @property
    def name(self) -> str:
        return self.spec.name

    def with_role(self, role: Role) -> CatalogEntry:
        return replace(self, role=role)


def _connect(path: Path, busy_timeout_s: float = 10.0) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _make_private(path: Path) -> None:
    """The database file 0600 (created so if missing), and any -wal/-shm left 0644 too.

    SQLite gives the -wal and -shm files it creates the database file's mode, so a
    private database keeps its journal private. Only group and other bits are removed.
    """
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            current = stat.S_IMODE(file.stat().st_mode)
            if current & 0o077:
                file.chmod(current & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (another owner): say so, and go on
            log.warning("cannot make %s private: %s", file, exc)


@contextmanager
def _not_a_switchover_database(path: Path) -> Iterator[None]:
    """A file SQLite cannot read as a database (a corrupted header): one clear StorageError.

    Operational errors (locked, I/O) pass through to ``_storage_errors``.
    """
    try:
        yield
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise StorageError(_not_ours(path, str(exc))) from exc


def _not_ours(path: Path, why: str) -> str:
    return f"{path} is not a switchover database or is corrupted: {why}; restore it from a backup"


def _check_schema(db: Database, path: Path) -> None:
    """Refuse another application's database, and one a newer switchover has migrated."""
    applied = {m.name for m in migrations.applied(db)}
    known = {m.name for m in migrations.pending(Database(memory=True))}
    newer = sorted(applied - known)
    if newer:
        raise StorageError(
            f"{path} was written by a newer switchover (schema steps {newer} are unknown to"
            " this version): upgrade switchover, or restore a backup this version wrote"
        )
    foreign = sorted(set(db.table_names()) - {migrations.migrations_table})
    if not applied and foreign:  # each schema step commits with its record: not ours
        raise StorageError(_not_ours(path, f"it holds other tables {foreign[:5]}"))


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Turn SQLite's operational failures (locked, disk full, I/O) into StorageError."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StorageError(f"database error: {exc}") from exc


class Store:
    """Documents, write log, catalog and embedding cache in one SQLite file."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        """``busy_timeout_s``: how long a statement waits for another connection's lock."""
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private(path)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        with _storage_errors(), _not_a_switchover_database(path):
            self._writer = Database(_connect(path, busy_timeout_s))
            _check_schema(self._writer, path)  # before anything writes to a foreign file
            self._writer.execute("PRAGMA journal_mode = WAL")
            migrations.apply(self._writer)

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()

    # -- connections ---------------------------------------------------------------------

    def _reader(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(_connect(self.path, self.busy_timeout_s))
            self._local.db = db
        return cast(Database, db)

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        """One write transaction, holding SQLite's write lock from its first statement.

        ``BEGIN IMMEDIATE``: a deferred transaction that reads before it writes (a delete
        checks the document first) gets SQLITE_BUSY at once, without waiting out the busy
        timeout, when another process holds the lock; an immediate one waits like any write.
        """
        with self._write_lock, _storage_errors():
            conn = self._writer.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # an error may have rolled it back already
                    conn.execute("ROLLBACK")
                raise

    # -- documents and the write log -----------------------------------------------------

    def append_upserts(self, documents: Sequence[DocumentIn]) -> list[LogRecord]:
        """Log and store a batch of upserts in one transaction; returns their records."""
        now = time.time()
        records: list[LogRecord] = []
        with self._transaction() as db:
            for doc in documents:
                digest = content_hash(doc.text)
                meta = json.dumps(doc.metadata, sort_keys=True)
                cursor = db.execute(
                    "INSERT INTO write_log (op, doc_id, text, metadata, content_hash, created_at)"
                    " VALUES ('upsert', ?, ?, ?, ?, ?)",
                    [doc.id, doc.text, meta, digest, now],
                )
                seq = int(cast(int, cursor.lastrowid))
                db.execute(
                    "INSERT INTO documents (doc_id, text, metadata, content_hash, seq)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(doc_id) DO UPDATE SET"
                    " text = excluded.text, metadata = excluded.metadata,"
                    " content_hash = excluded.content_hash, seq = excluded.seq",
                    [doc.id, doc.text, meta, digest, seq],
                )
                records.append(
                    LogRecord(seq, "upsert", doc.id, doc.text, doc.metadata, digest, now)
                )
        return records

    def append_delete(self, doc_id: str) -> LogRecord:
        """Log and apply the deletion of a live document; NotFoundError if there is none."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT 1 FROM documents WHERE doc_id = ?", [doc_id]).fetchone()
            if row is None:
                raise NotFoundError(f"document {doc_id!r} does not exist")
            cursor = db.execute(
                "INSERT INTO write_log (op, doc_id, created_at) VALUES ('delete', ?, ?)",
                [doc_id, now],
            )
            db.execute("DELETE FROM documents WHERE doc_id = ?", [doc_id])
        return LogRecord(int(cast(int, cursor.lastrowid)), "delete", doc_id, None, None, None, now)

    def get_document(self, doc_id: str) -> Document | None:
        with _storage_errors():
            row = (
                self._reader()
                .execute(
                    "SELECT doc_id, text, metadata, content_hash, seq FROM documents"
                    " WHERE doc_id = ?",
                    [doc_id],
                )
                .fetchone()
            )
        return None if row is None else _document(row)

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    _DOC_SELECT + f" WHERE doc_id IN ({marks})",
                    list(doc_ids),
                )
                .fetchall()
            )
        return {row[0]: _document(row) for row in rows}

    def document_ids(self) -> set[str]:
        with _storage_errors():
            return {r[0] for r in self._reader().execute("SELECT doc_id FROM documents")}

    def document_count(self) -> int:
        with _storage_errors():
            return int(self._reader().execute("SELECT count(*) FROM documents").fetchone()[0])

    def last_seq(self) -> int:
        with _storage_errors():
            row = self._reader().execute("SELECT max(seq) FROM write_log").fetchone()
        return int(row[0] or 0)

    @staticmethod
    def _last_seq(db: Database) -> int:
        return int(db.execute("SELECT coalesce(max(seq), 0) FROM write_log").fetchone()[0])

    def read_log(self, after_seq: int, limit: int = 1000) -> list[LogRecord]:
        """Log records with ``seq > after_seq`` in order, at most ``limit`` of them."""
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT seq, op, doc_id, text, metadata, content_hash, created_at"
                    " FROM write_log WHERE seq > ? ORDER BY seq LIMIT ?",
                    [after_seq, limit],
                )
                .fetchall()
            )
        return [
            LogRecord(
                seq=int(r[0]),
                op=r[1],
                doc_id=r[2],
                text=r[3],
                metadata=None if r[4] is None else json.loads(r[4]),
                content_hash=r[5],
                created_at=float(r[6]),
            )
            for r in rows
        ]

    def log_created_at(self, seq: int) -> float | None:
        with _storage_errors():
            row = (
                self._reader()
                .execute("SELECT created_at FROM write_log WHERE seq = ?", [seq])
                .fetchone()
            )
        return None if row is None else float(row[0])

    # -- index catalog -------------------------------------------------------------------

    def add_index(self, spec: IndexSpec, fingerprint: str, dim: int, role: Role) -> CatalogEntry:
        entry = CatalogEntry(spec, fingerprint, dim, role, SearchParams(), time.time())
        with self._transaction() as db:
            exists = db.execute(
                "SELECT 1 FROM index_catalog WHERE name = ?", [spec.name]
            ).fetchone()
            if exists:
                raise ConflictError(f"index {spec.name!r} already exists")
            db.execute(
                "INSERT INTO index_catalog"
                " (name, spec, fingerprint, dim, role, search_params, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    spec.name,
                    json.dumps(spec.to_dict(), sort_keys=True),
                    fingerprint,
                    dim,
                    role,
                    json.dumps(entry.search_params.to_dict()),
                    entry.created_at,
                ],
            )
        return entry

    def list_indexes(self) -> list[CatalogEntry]:
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT spec, fingerprint, dim, role, search_params, created_at"
                    " FROM index_catalog ORDER BY created_at"
                )
                .fetchall()
            )
        return [
            CatalogEntry(
                spec=IndexSpec.from_dict(json.loads(r[0])),
                fingerprint=r[1],
                dim=int(r[2]),
                role=r[3],
                search_params=SearchParams.from_dict(json.loads(r[4])),
                created_at=float(r[5]),
            )
            for r in rows
        ]

    def set_search_params(self, name: str, params: SearchParams) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE index_catalog SET search_params = ? WHERE name = ?",
                [json.dumps(params.to_dict()), name],
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"index {name!r} does not exist")

    # -- embedding cache -----------------------------------------------------------------

    def cached_vectors(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with _storage_errors():
                rows = self._reader().execute(
                    _CACHE_SELECT + f" AND content_hash IN ({marks})",
                    [fingerprint, *chunk],
                )
                for digest, blob in rows:
                    found[digest] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def cache_vectors(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            (fingerprint, digest, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for digest, vec in vectors.items()
        ]
        with self._transaction() as db:
            db.conn.executemany(
                "INSERT OR IGNORE INTO embedding_cache (fingerprint, content_hash, vector)"
                " VALUES (?, ?, ?)",
                rows,
            )

    def cached_count(self, fingerprint: str) -> int:
        with _storage_errors():
            row = (
                self._reader()
                .execute(
                    "SELECT count(*) FROM embedding_cache WHERE fingerprint = ?", [fingerprint]
                )
                .fetchone()
            )
        return int(row[0])

    # -- migrations ----------------------------------------------------------------------

    def create_migration(
        self,
        source: str,
        target_spec: IndexSpec,
        fingerprint: str,
        dim: int,
        plan: Plan,
        actor: str,
        metrics: Mapping[str, Any],
    ) -> Migration:
        """Register the target index and the migration, with its first event, atomically."""
        now = time.time()
        with self._transaction() as db:
            active = db.execute(
                "SELECT id, phase FROM migrations WHERE phase NOT IN (?, ?)",
                [Phase.FINALIZED.value, Phase.ABORTED.value],
            ).fetchone()
            if active:
                raise ConflictError(
                    f"migration {active[0]} is still {active[1]}; finalize or abort it first"
                )
            if db.execute(
                "SELECT 1 FROM index_catalog WHERE name = ?", [target_spec.name]
            ).fetchone():
                raise ConflictError(f"index {target_spec.name!r} already exists")
            db.execute(
                "INSERT INTO index_catalog"
                " (name, spec, fingerprint, dim, role, search_params, created_at)"
                " VALUES (?, ?, ?, ?, 'target', ?, ?)",
                [
                    target_spec.name,
                    json.dumps(target_spec.to_dict(), sort_keys=True),
                    fingerprint,
                    dim,
                    json.dumps(SearchParams().to_dict()),
                    now,
                ],
            )
            cursor = db.execute(
                "INSERT INTO migrations"
                " (source, target, phase, canary_percent, plan, backfill, created_at, updated_at)"
                " VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                [
                    source,
                    target_spec.name,
                    Phase.PLANNED.value,
                    json.dumps(plan.to_dict()),
                    json.dumps(Backfill(as_of_seq=self._last_seq(db)).to_dict()),
                    now,
                    now,
                ],
            )
            migration_id = int(cast(int, cursor.lastrowid))
            self._insert_event(
                db, migration_id, actor, None, Phase.PLANNED, 0.0, "created", metrics
            )
        return self.get_migration(migration_id)

    def transition(
        self,
        migration_id: int,
        expected: Phase,
        to: Phase,
        percent: float,
        actor: str,
        reason: str,
        metrics: Mapping[str, Any],
        roles: Mapping[str, str] | None = None,
    ) -> Migration:
        """Move phase, record the event and any catalog role changes in one transaction.

        ``expected`` guards against a concurrent move: if the phase is no longer what the
        caller checked, nothing changes and ConflictError names the phase found.
        """
        with self._transaction() as db:
            row = db.execute("SELECT phase FROM migrations WHERE id = ?", [migration_id]).fetchone()
            if row is None:
                raise NotFoundError(f"migration {migration_id} does not exist")
            if row[0] != expected.value:
                raise ConflictError(
                    f"migration {migration_id} is {row[0]}, not {expected.value}; refresh and retry"
                )
            db.execute(
                "UPDATE migrations SET phase = ?, canary_percent = ?, updated_at = ? WHERE id = ?",
                [to.value, percent, time.time(), migration_id],
            )
            for name, role in (roles or {}).items():
                db.execute("UPDATE index_catalog SET role = ? WHERE name = ?", [role, name])
            self._insert_event(db, migration_id, actor, expected, to, percent, reason, metrics)
        return self.get_migration(migration_id)

    def update_plan(
        self, migration_id: int, plan: Plan, actor: str, reason: str, metrics: Mapping[str, Any]
    ) -> Migration:
        """Change the plan's runtime knobs; audited as an event that keeps the phase."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT phase, canary_percent FROM migrations WHERE id = ?", [migration_id]
            ).fetchone()
            if row is None:
                raise NotFoundError(f"migration {migration_id} does not exist")
            db.execute(
                "UPDATE migrations SET plan = ?, updated_at = ? WHERE id = ?",
                [json.dumps(plan.to_dict()), time.time(), migration_id],
            )
            phase = Phase(row[0])
            self._insert_event(db, migration_id, actor, phase, phase, row[1], reason, metrics)
        return self.get_migration(migration_id)

    def save_backfill(self, migration_id: int, backfill: Backfill) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE migrations SET backfill = ?, updated_at = ? WHERE id = ?",
                [json.dumps(backfill.to_dict()), time.time(), migration_id],
            )

    def get_migration(self, migration_id: int) -> Migration:
        with _storage_errors():
            row = (
                self._reader()
                .execute(f"{_MIGRATION_SELECT} WHERE id = ?", [migration_id])
                .fetchone()
            )
        if row is None:
            raise NotFoundError(f"migration {migration_id} does not exist")
        return _migration(row)

    def active_migration(self) -> Migration | None:
        """The one migration that is neither finalized nor aborted, if any."""
        terminal = [p.value for p in TERMINAL]
        with _storage_errors():
            row = (
                self._reader()
                .execute(
                    f"{_MIGRATION_SELECT} WHERE phase NOT IN (?, ?) ORDER BY id DESC LIMIT 1",
                    terminal,
                )
                .fetchone()
            )
        return None if row is None else _migration(row)

    def latest_migration(self) -> Migration | None:
        with _storage_errors():
            row = self._reader().execute(f"{_MIGRATION_SELECT} ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else _migration(row)

    def events(self, migration_id: int) -> list[Event]:
        self.get_migration(migration_id)
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT id, migration_id, at, actor, from_phase, to_phase, canary_percent,"
                    " reason, metrics FROM migration_events WHERE migration_id = ? ORDER BY id",
                    [migration_id],
                )
                .fetchall()
            )
        return [
            Event(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8])) for r in rows
        ]

    @staticmethod
    def _insert_event(
        db: Database,
        migration_id: int,
        actor: str,
        frm: Phase | None,
        to: Phase,
        percent: float,
        reason: str,
        metrics: Mapping[str, Any],
    ) -> None:
        db.execute(
            "INSERT INTO migration_events"
            " (migration_id, at, actor, from_phase, to_phase, canary_percent, reason, metrics)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                migration_id,
                time.time(),
                actor,
                None if frm is None else frm.value,
                to.value,
                percent,
                reason,
                json.dumps(dict(metrics), sort_keys=True, default=str),
            ],
        )

    def backfill_batch(self, after_id: str | None, limit: int) -> list[Document]:
        """Live documents in id order after ``after_id``: the backfill's resumable scan."""
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT doc_id, text, metadata, content_hash, seq FROM documents"
                    " WHERE doc_id > ? ORDER BY doc_id LIMIT ?",
                    ["" if after_id is None else after_id, limit],
                )
                .fetchall()
            )
        return [_document(r) for r in rows]

    def sample_documents(self, n: int) -> list[Document]:
        """Up to ``n`` live documents drawn at random (to train IVF/PQ layouts)."""
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT doc_id, text, metadata, content_hash, seq FROM documents"
                    " ORDER BY random() LIMIT ?",
                    [n],
                )
                .fetchall()
            )
        return [_document(r) for r in rows]

    # -- eval sets and runs --------------------------------------------------------------

    def add_eval_set(self, record: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM eval_sets WHERE name = ?", [record["name"]]).fetchone():
                raise ConflictError(f"eval set {record['name']!r} already exists")
            db.execute(
                "INSERT INTO eval_sets (name, path, sample, seed, content_hash, labelled,"
                " queries, qrels, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record["name"],
                    record["path"],
                    record["sample"],
                    record["seed"],
                    record["content_hash"],
                    int(record["labelled"]),
                    json.dumps(record["queries"]),
                    json.dumps(record["qrels"]),
                    time.time(),
                ],
            )

    def get_eval_set(self, name: str) -> dict[str, Any]:
        with _storage_errors():
            row = self._reader().execute(f"{_EVAL_SET_SELECT} WHERE name = ?", [name]).fetchone()
        if row is None:
            raise NotFoundError(f"eval set {name!r} does not exist")
        return _eval_set(row)

    def list_eval_sets(self) -> list[dict[str, Any]]:
        with _storage_errors():
            rows = self._reader().execute(f"{_EVAL_SET_SELECT} ORDER BY created_at").fetchall()
        return [_eval_set(r) for r in rows]

    def add_eval_run(
        self,
        eval_set: str,
        source: str,
        target: str,
        migration_id: int | None,
        origin: str,
        decision: str | None,
        report: Mapping[str, Any],
    ) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO eval_runs (eval_set, source, target, migration_id, origin, at,"
                " decision, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    eval_set,
                    source,
                    target,
                    migration_id,
                    origin,
                    time.time(),
                    decision,
                    json.dumps(report),
                ],
            )
        return int(cast(int, cursor.lastrowid))

    def finish_eval_run(self, run_id: int, decision: str | None, report: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE eval_runs SET decision = ?, report = ? WHERE id = ?",
                [decision, json.dumps(report), run_id],
            )

    def get_eval_run(self, run_id: int) -> dict[str, Any]:
        with _storage_errors():
            row = self._reader().execute(f"{_EVAL_RUN_SELECT} WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFoundError(f"eval run {run_id} does not exist")
        return _eval_run(row, with_report=True)

    def list_eval_runs(
        self, migration_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        where, args = ("WHERE migration_id = ?", [migration_id]) if migration_id else ("", [])
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    f"{_EVAL_RUN_SELECT} {where} ORDER BY id DESC LIMIT ?",
                    [*args, limit],
                )
                .fetchall()
            )
        return [_eval_run(r, with_report=True) for r in rows]

    # -- runtime configuration versions ---------------------------------------------------

    def add_config_version(self, config: Mapping[str, Any], actor: str, reason: str) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO config_versions (at, actor, reason, config) VALUES (?, ?, ?, ?)",
                [time.time(), actor, reason, json.dumps(config, sort_keys=True)],
            )
        return int(cast(int, cursor.lastrowid))

    def config_versions(self, limit: int = 100) -> list[dict[str, Any]]:
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT version, at, actor, reason, config FROM config_versions"
                    " ORDER BY version DESC LIMIT ?",
                    [limit],
                )
                .fetchall()
            )
        return [
            {"version": r[0], "at": r[1], "actor": r[2], "reason": r[3], "config": json.loads(r[4])}
            for r in rows
        ]

    def config_version(self, version: int) -> dict[str, Any]:
        with _storage_errors():
            row = (
                self._reader()
                .execute(
                    "SELECT version, at, actor, reason, config FROM config_versions"
                    " WHERE version = ?",
                    [version],
                )
                .fetchone()
            )
        if row is None:
            raise NotFoundError(f"config version {version} does not exist")
        return {
            "version": row[0],
            "at": row[1],
            "actor": row[2],
            "reason": row[3],
            "config": json.loads(row[4]),
        }

    # -- shadow reads --------------------------------------------------------------------

    def add_shadow_reads(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows of (migration_id, at, k, served_by, overlap, served_ms, shadow_ms, error)."""
        if not rows:
            return
        with self._transaction() as db:
            db.conn.executemany(
                "INSERT INTO shadow_reads"
                " (migration_id, at, k, served_by, overlap, served_ms, shadow_ms, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def shadow_reads(self, migration_id: int, limit: int = 10_000) -> list[dict[str, Any]]:
        with _storage_errors():
            rows = (
                self._reader()
                .execute(
                    "SELECT at, k, served_by, overlap, served_ms, shadow_ms, error"
                    " FROM shadow_reads WHERE migration_id = ? ORDER BY id DESC LIMIT ?",
                    [migration_id, limit],
                )
                .fetchall()
            )
        keys = ("at", "k", "served_by", "overlap", "served_ms", "shadow_ms", "error")
        return [dict(zip(keys, r, strict=True)) for r in rows]


class SqliteEmbeddingCache:
    """The store's embedding cache, seen through the ``indexes.EmbeddingCache`` protocol."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get_many(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        return self._store.cached_vectors(fingerprint, hashes)

    def put_many(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        self._store.cache_vectors(fingerprint, vectors)


# Constant prefixes; callers append only "?" placeholders, never values.
_DOC_SELECT = "SELECT doc_id, text, metadata, content_hash, seq FROM documents"
_CACHE_SELECT = "SELECT content_hash, vector FROM embedding_cache WHERE fingerprint = ?"
_MIGRATION_SELECT = (
    "SELECT id, source, target, phase, canary_percent, plan, backfill, created_at, updated_at"
    " FROM migrations"
)


_EVAL_SET_SELECT = (
    "SELECT name, path, sample, seed, content_hash, labelled, queries, qrels, created_at"
    " FROM eval_sets"
)
_EVAL_RUN_SELECT = (
    "SELECT id, eval_set, source, target, migration_id, origin, at, decision, report FROM eval_runs"
)


def _eval_set(row: Sequence[Any]) -> dict[str, Any]:
    keys = (
        "name",
        "path",
        "sample",
        "seed",
        "content_hash",
        "labelled",
        "queries",
        "qrels",
        "created_at",
    )
    record = dict(zip(keys, row, strict=True))
    record["labelled"] = bool(record["labelled"])
    record["queries"] = json.loads(record["queries"])
    record["qrels"] = json.loads(record["qrels"])
    return record


def _eval_run(row: Sequence[Any], *, with_report: bool) -> dict[str, Any]:
    keys = ("id", "eval_set", "source", "target", "migration_id", "origin", "at", "decision")
    record = dict(zip(keys, row[:8], strict=True))
    if with_report:
        record["report"] = json.loads(row[8])
    return record


def _migration(row: Sequence[Any]) -> Migration:
    return Migration(
        id=int(row[0]),
        source=row[1],
        target=row[2],
        phase=Phase(row[3]),
        canary_percent=float(row[4]),
        plan=Plan.from_dict(json.loads(row[5])),
        backfill=Backfill.from_dict(json.loads(row[6])),
        created_at=float(row[7]),
        updated_at=float(row[8]),
    )


def _document(row: Sequence[Any]) -> Document:
    return Document(
        id=row[0], text=row[1], metadata=json.loads(row[2]), content_hash=row[3], seq=int(row[4])
    )
