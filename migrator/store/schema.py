"""The database schema: ordered, versioned steps applied through ``sqlite_utils.Migrations``.

Add a new schema version at the end to change the schema; never edit an applied one. Each
version keeps the name it was first recorded under in ``_sqlite_migrations`` (``name=``),
so databases created before the versions were renamed do not apply them again. (These are
schema versions of the database; "migration" elsewhere means an index migration.)
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlite_utils import Database, Migrations

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .embedding_cache import FileEmbeddingCache

SCHEMA_VERSIONS = Migrations("switchover")


@SCHEMA_VERSIONS(name="m001_core")
def v001_core(db: Database) -> None:
    """Documents, the write log, the index catalog and the embedding cache."""
    db.execute(
        """
        CREATE TABLE documents (
            doc_id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            metadata TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            seq INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE write_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
            doc_id TEXT NOT NULL,
            text TEXT,
            metadata TEXT,
            content_hash TEXT,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE index_catalog (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            dim INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('primary', 'target', 'retired')),
            search_params TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE embedding_cache (
            fingerprint TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (fingerprint, content_hash)
        ) WITHOUT ROWID
        """
    )


@SCHEMA_VERSIONS(name="m002_migrations")
def v002_index_migrations(db: Database) -> None:
    """Index migrations, their audit events, and the shadow-read records."""
    db.execute(
        """
        CREATE TABLE migrations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            target TEXT NOT NULL,
            phase TEXT NOT NULL,
            canary_percent REAL NOT NULL DEFAULT 0,
            plan TEXT NOT NULL,
            backfill TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE migration_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            migration_id INTEGER NOT NULL REFERENCES migrations(id),
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            from_phase TEXT,
            to_phase TEXT NOT NULL,
            canary_percent REAL NOT NULL,
            reason TEXT NOT NULL,
            metrics TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX migration_events_by_migration ON migration_events (migration_id, id)")
    db.execute(
        """
        CREATE TABLE shadow_reads (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            migration_id INTEGER NOT NULL,
            at REAL NOT NULL,
            k INTEGER NOT NULL,
            served_by TEXT NOT NULL,
            overlap REAL,
            served_ms REAL NOT NULL,
            shadow_ms REAL,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX shadow_reads_by_migration ON shadow_reads (migration_id, id)")


@SCHEMA_VERSIONS(name="m003_evals")
def v003_evals(db: Database) -> None:
    """Eval sets (a seeded sample of a BEIR-layout folder) and eval runs with their reports."""
    db.execute(
        """
        CREATE TABLE eval_sets (
            name TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            sample INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            labelled INTEGER NOT NULL,
            queries TEXT NOT NULL,
            qrels TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE eval_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            eval_set TEXT NOT NULL REFERENCES eval_sets(name),
            source TEXT NOT NULL,
            target TEXT NOT NULL,
            migration_id INTEGER,
            origin TEXT NOT NULL,
            at REAL NOT NULL,
            decision TEXT,
            report TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX eval_runs_by_migration ON eval_runs (migration_id, id)")


@SCHEMA_VERSIONS(name="m004_config_versions")
def v004_config_versions(db: Database) -> None:
    """Versioned runtime configuration: every change and every revert is a new version."""
    db.execute(
        """
        CREATE TABLE config_versions (
            version INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            config TEXT NOT NULL
        )
        """
    )


@SCHEMA_VERSIONS(name="m005_known_items")
def v005_known_items(db: Database) -> None:
    """Known-item queries built from an unlabelled eval set's corpus (JSON list)."""
    db.execute("ALTER TABLE eval_sets ADD COLUMN known_items TEXT NOT NULL DEFAULT '[]'")


@SCHEMA_VERSIONS(name="m006_cache_rowid")
def v006_cache_rowid(db: Database) -> None:
    """The embedding cache as a rowid table with a unique key index.

    As a ``WITHOUT ROWID`` table keyed by (fingerprint, content hash) each insert put a
    1.5 KB vector row at a random place of one b-tree (two rows a page, pages split and
    rewritten all over the file); now the vectors append to the table and only the small
    key goes into a random place of the index. Same columns, same queries; one copy of the
    cache on the first start after the upgrade (inside this version's transaction).
    """
    db.execute(
        """
        CREATE TABLE embedding_cache_rows (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            vector BLOB NOT NULL
        )
        """
    )
    db.execute(
        "INSERT INTO embedding_cache_rows (fingerprint, content_hash, vector)"
        " SELECT fingerprint, content_hash, vector FROM embedding_cache"
    )
    db.execute("DROP TABLE embedding_cache")
    db.execute("ALTER TABLE embedding_cache_rows RENAME TO embedding_cache")
    db.execute(
        "CREATE UNIQUE INDEX embedding_cache_key ON embedding_cache (fingerprint, content_hash)"
    )


@SCHEMA_VERSIONS(name="m007_cache_files")
def v007_cache_files(db: Database) -> None:
    """The embedding cache moves out of the database into append-only vector files.

    Even as a rowid table, each cached 1.5 KB vector went through the WAL into the database
    and its random (fingerprint, content hash) key dirtied an index page of its own: most of
    a write's cost at 1M documents. The rows are copied into the vector files beside the
    database (``embedding_cache.cache_folder``) and the table is dropped, inside this
    version's transaction: a crash before its commit leaves the table, and the copy runs
    again on the next start, keeping what the files already hold (the first vector stored
    for a key wins), so the copy is never doubled.
    """
    from .embedding_cache import FileEmbeddingCache, cache_folder  # noqa: PLC0415 - no cycle

    where = next((row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"), "")
    if where:  # an in-memory database (tests of the schema alone) has no folder to fill
        cache = FileEmbeddingCache(cache_folder(Path(where)))
        try:
            _copy_cache_rows(db, cache)
        finally:
            cache.close()
    db.execute("DROP TABLE embedding_cache")


def _copy_cache_rows(db: Database, cache: FileEmbeddingCache, chunk: int = 10_000) -> None:
    """Every row of the old ``embedding_cache`` table into ``cache``, in rowid order."""
    last = 0
    while True:
        rows = db.execute(
            "SELECT id, fingerprint, content_hash, vector FROM embedding_cache"
            " WHERE id > ? ORDER BY id LIMIT ?",
            [last, chunk],
        ).fetchall()
        if not rows:
            return
        by_fingerprint: dict[str, dict[str, np.ndarray]] = {}
        for _, fingerprint, digest, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            by_fingerprint.setdefault(fingerprint, {}).setdefault(digest, vector)
        for fingerprint, vectors in by_fingerprint.items():
            _put_same_shape(cache, fingerprint, vectors)
        last = rows[-1][0]


def _put_same_shape(
    cache: FileEmbeddingCache, fingerprint: str, vectors: dict[str, np.ndarray]
) -> None:
    """Put the vectors of the shape most of them have; a row of another shape was a damaged
    row (reads already took it as a miss), and is left behind."""
    shapes = Counter(v.shape for v in vectors.values())
    common = shapes.most_common(1)[0][0]
    try:
        cache.put_many(fingerprint, {h: v for h, v in vectors.items() if v.shape == common})
    except ValueError as exc:  # not the shape of the rows copied before: damaged rows too
        log.warning("left %d cached vectors of %r behind: %s", len(vectors), fingerprint, exc)
