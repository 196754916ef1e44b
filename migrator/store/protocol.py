"""What the core needs from durable storage, one protocol per concern, typed with the records.

The core (lifecycle, service, config, eval jobs, runtime, registry, backfill) is written
against ``Store`` only; ``SqliteStore`` is today's implementation and a PostgreSQL store
would be a second one, passing the same contract suite (``tests/migrator/store_contract.py``).
Every write of every concern nests inside ``Store.atomic()`` on the same thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from indexes import EmbeddingCache, IndexSpec, SearchParams

from ..budget import WaitBudget
from ..migration import Backfill, Plan, PlanChange
from ..phases import Phase
from .records import (
    CatalogEntry,
    ConfigVersion,
    Document,
    DocumentIn,
    EvalRunRecord,
    EvalSetRecord,
    Event,
    LogRecord,
    Migration,
    Role,
    ShadowReadRecord,
)


class WriteLog(Protocol):
    """The append-only write log (monotonic sequences) and the live documents it produces."""

    def append_upserts(
        self, documents: Sequence[DocumentIn], metadata_json: Sequence[str] | None = None
    ) -> list[LogRecord]:
        """Log and store a batch of upserts in one transaction; returns their records.

        ``metadata_json``: each document's metadata already encoded as ``metadata_json``
        (records.py) encodes it, by the validation that checked its size (else encoded here).
        """
        ...

    def append_delete(self, doc_id: str) -> LogRecord: ...
    def document(self, doc_id: str) -> Document | None: ...
    def documents(self, doc_ids: Sequence[str]) -> dict[str, Document]: ...
    def versions(self, doc_ids: Sequence[str]) -> dict[str, int]: ...
    def document_ids(self) -> set[str]: ...
    def document_count(self) -> int: ...
    def scan(self, after_id: str | None, limit: int) -> list[Document]: ...
    def sample(self, n: int) -> list[Document]: ...
    def last_seq(self) -> int: ...
    def read(self, after_seq: int, limit: int = 1000) -> list[LogRecord]: ...
    def created_at(self, seq: int) -> float | None: ...


class Catalog(Protocol):
    """Index versions, their roles and their search parameters."""

    def add(self, spec: IndexSpec, fingerprint: str, dim: int, role: Role) -> CatalogEntry: ...
    def entries(self) -> list[CatalogEntry]: ...
    def set_search_params(self, name: str, params: SearchParams) -> None: ...
    def set_role(self, name: str, role: Role) -> None: ...


class CountedCache(EmbeddingCache, Protocol):
    """The embedding cache, and how many vectors of one embedder it holds."""

    def count(self, fingerprint: str) -> int: ...


class IndexMigrations(Protocol):
    """Index migrations; every change commits with its audit event."""

    def create(
        self,
        source: str,
        target_spec: IndexSpec,
        fingerprint: str,
        dim: int,
        plan: Plan,
        actor: str,
        metrics: Mapping[str, Any],
    ) -> Migration: ...
    def transition(
        self,
        migration_id: int,
        expected: Phase,
        to: Phase,
        percent: float,
        actor: str,
        reason: str,
        metrics: Mapping[str, Any],
        roles: Mapping[str, Role] | None = None,
    ) -> Migration: ...
    def change_plan(self, change: PlanChange) -> Migration: ...
    def save_backfill(self, migration_id: int, backfill: Backfill) -> None: ...
    def get(self, migration_id: int) -> Migration: ...
    def active(self) -> Migration | None: ...
    def latest(self) -> Migration | None: ...
    def events(self, migration_id: int) -> list[Event]: ...


class Evals(Protocol):
    """Eval sets and the runs judged on them."""

    def add_set(self, record: EvalSetRecord) -> None: ...
    def get_set(self, name: str) -> EvalSetRecord: ...
    def sets(self) -> list[EvalSetRecord]: ...
    def add_run(
        self,
        eval_set: str,
        source: str,
        target: str,
        migration_id: int | None,
        origin: str,
        decision: str | None,
        report: Mapping[str, Any],
    ) -> int: ...
    def finish_run(self, run_id: int, decision: str | None, report: Mapping[str, Any]) -> None: ...
    def get_run(self, run_id: int) -> EvalRunRecord: ...
    def runs(self, migration_id: int | None = None, limit: int = 100) -> list[EvalRunRecord]: ...


class ConfigVersions(Protocol):
    """The runtime configuration's versions."""

    def add(self, config: Mapping[str, Any], actor: str, reason: str) -> int: ...
    def history(self, limit: int = 100) -> list[ConfigVersion]: ...
    def get(self, version: int) -> ConfigVersion: ...


class ShadowReads(Protocol):
    """Shadow-read records of live queries."""

    def add(self, reads: Sequence[ShadowReadRecord]) -> None: ...
    def recent(self, migration_id: int, limit: int = 10_000) -> list[ShadowReadRecord]: ...


class Store(Protocol):
    """Durable storage: every concern, one transaction across them, and the connections."""

    @property
    def log(self) -> WriteLog: ...
    @property
    def catalog(self) -> Catalog: ...
    @property
    def cache(self) -> CountedCache: ...
    @property
    def migrations(self) -> IndexMigrations: ...
    @property
    def evals(self) -> Evals: ...
    @property
    def config(self) -> ConfigVersions: ...
    @property
    def shadow(self) -> ShadowReads: ...

    def atomic(self) -> AbstractContextManager[object]:
        """One transaction for every write inside, of any concern (re-entrant per thread)."""
        ...

    def waits_within(self, budget: WaitBudget) -> AbstractContextManager[None]:
        """Writes this thread opens inside wait for locks at most what is left of ``budget``."""
        ...

    def close(self) -> None: ...
