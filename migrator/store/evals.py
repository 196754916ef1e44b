"""Eval sets and eval runs: what judged a migration, and every report it produced."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from indexes.errors import ConflictError, NotFoundError

from .records import EvalRunRecord, EvalSetRecord
from .tables import Tables


class EvalTables:
    """The ``eval_sets`` and ``eval_runs`` tables."""

    def __init__(self, conns: Tables) -> None:
        self._conns = conns

    def add_set(self, record: EvalSetRecord) -> None:
        """Register an eval set; ConflictError if the name is taken."""
        row = {
            **asdict(record),
            "queries": json.dumps(record.queries),
            "qrels": json.dumps(record.qrels),
            "known_items": json.dumps(record.known_items),
        }
        with self._conns.atomic():
            if self._conns.one("eval_sets", "name = ?", [record.name]) is not None:
                raise ConflictError(f"eval set {record.name!r} already exists")
            self._conns.insert_row("eval_sets", row)

    def get_set(self, name: str) -> EvalSetRecord:
        row = self._conns.one("eval_sets", "name = ?", [name])
        if row is None:
            raise NotFoundError(f"eval set {name!r} does not exist")
        return _eval_set(row)

    def sets(self) -> list[EvalSetRecord]:
        """Every eval set, oldest first."""
        return [_eval_set(r) for r in self._conns.rows("eval_sets", order_by="created_at")]

    def add_run(
        self,
        eval_set: str,
        source: str,
        target: str,
        migration_id: int | None,
        origin: str,
        decision: str | None,
        report: Mapping[str, Any],
    ) -> int:
        """Record a run (finished, or running with a placeholder report); returns its id."""
        row = {
            "eval_set": eval_set,
            "source": source,
            "target": target,
            "migration_id": migration_id,
            "origin": origin,
            "at": time.time(),
            "decision": decision,
            "report": json.dumps(report),
        }
        return self._conns.insert_row("eval_runs", row)

    def finish_run(self, run_id: int, decision: str | None, report: Mapping[str, Any]) -> None:
        values = {"decision": decision, "report": json.dumps(report)}
        if not self._conns.update_row("eval_runs", run_id, values):
            raise NotFoundError(f"eval run {run_id} does not exist")

    def get_run(self, run_id: int) -> EvalRunRecord:
        row = self._conns.one("eval_runs", "id = ?", [run_id])
        if row is None:
            raise NotFoundError(f"eval run {run_id} does not exist")
        return _eval_run(row)

    def runs(self, migration_id: int | None = None, limit: int = 100) -> list[EvalRunRecord]:
        """Runs newest first: of one migration, or of all when ``migration_id`` is None."""
        if migration_id is None:
            rows = self._conns.rows("eval_runs", order_by="id DESC", limit=limit)
        else:
            rows = self._conns.rows(
                "eval_runs", "migration_id = ?", [migration_id], order_by="id DESC", limit=limit
            )
        return [_eval_run(r) for r in rows]


def _eval_set(row: Mapping[str, Any]) -> EvalSetRecord:
    return EvalSetRecord(
        **{
            **row,
            "labelled": bool(row["labelled"]),
            "queries": json.loads(row["queries"]),
            "qrels": json.loads(row["qrels"]),
            "known_items": json.loads(row["known_items"]),
        }
    )


def _eval_run(row: Mapping[str, Any]) -> EvalRunRecord:
    return EvalRunRecord(**{**row, "report": json.loads(row["report"])})
