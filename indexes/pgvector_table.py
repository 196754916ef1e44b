"""A pgvector index version's table: attach to it, or make it (and its ANN index).

Each version's table is ``(id text primary key, embedding vector(dim))``; its identity
(spec, embedder fingerprint, dimension), write-log position and trained flag sit in a row
of the shared ``switchover_pgvector`` table. Attaching to a table made for another
identity is a :class:`ConflictError`: its rows are not this version's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from .errors import ConflictError
from .pgvector_layout import OPS, PgLayout
from .pgvector_pool import META
from .spec import IndexSpec, SearchParams

__all__ = ["TableIdentity", "attach_table", "create_ann_index"]


@dataclass(frozen=True)
class TableIdentity:
    """What a version's table must have been made for."""

    spec: IndexSpec
    fingerprint: str
    dim: int
    layout: PgLayout


def attach_table(conn: psycopg.Connection[Any], name: str, want: TableIdentity) -> tuple[int, bool]:
    """``(applied_seq, trained)`` of table ``name``, made empty first when it is new."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
        row = conn.execute(
            sql.SQL(
                "SELECT spec, fingerprint, dim, applied_seq, trained FROM {} WHERE tbl = %s"
            ).format(sql.Identifier(META)),
            (name,),
        ).fetchone()
        if row is not None:
            _check_same(name, row, want)
            return int(row[3]), bool(row[4])
        _create(conn, name, want)
    return 0, not want.layout.needs_training


def create_ann_index(
    conn: psycopg.Connection[Any], name: str, layout: PgLayout, metric: str
) -> None:
    """The HNSW or IVFFlat index over table ``name``'s vectors."""
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} USING {} (embedding {}) WITH {}").format(
            sql.Identifier(f"{name}_ann"),
            sql.Identifier(name),
            sql.SQL(layout.kind),
            sql.SQL(OPS[metric]),
            sql.SQL(layout.with_options()),
        )
    )


def set_search_knobs(
    conn: psycopg.Connection[Any], layout: PgLayout, trained: bool, params: SearchParams, k: int
) -> None:
    """``hnsw.ef_search`` / ``ivfflat.probes`` and no sequential scans, for the transaction
    of one search (``SET LOCAL``); nothing for a plain scan (exact already)."""
    if not (layout.indexed and trained):
        return
    knob = "hnsw.ef_search" if layout.kind == "hnsw" else "ivfflat.probes"
    value = params.ef_search if layout.kind == "hnsw" else params.nprobe
    if layout.kind == "hnsw":
        value = max(value or 40, k)  # pgvector's default 40; FAISS too searches max(ef, k)
    if value is not None:
        conn.execute("SELECT set_config(%s, %s, true)", (knob, str(value)))
    conn.execute("SELECT set_config('enable_seqscan', 'off', true)")


def _check_same(name: str, row: tuple[Any, ...], want: TableIdentity) -> None:
    spec, fingerprint, dim = IndexSpec.from_dict(row[0]), row[1], row[2]
    if (spec, fingerprint, dim) != (want.spec, want.fingerprint, want.dim):
        raise ConflictError(
            f"pgvector table {name} holds index {spec.name!r} ({spec.factory},"
            f" embedder {fingerprint[:12]}, dim {dim}), not this version"
        )


def _create(conn: psycopg.Connection[Any], name: str, want: TableIdentity) -> None:
    conn.execute(
        sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, embedding vector({}) NOT NULL)").format(
            sql.Identifier(name), sql.Literal(want.dim)
        )
    )
    trained = not want.layout.needs_training
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (tbl, spec, fingerprint, dim, applied_seq, trained)"
            " VALUES (%s, %s, %s, %s, 0, %s)"
        ).format(sql.Identifier(META)),
        (name, json.dumps(want.spec.to_dict()), want.fingerprint, want.dim, trained),
    )
    if want.layout.kind == "hnsw":
        create_ann_index(conn, name, want.layout, want.spec.metric)
