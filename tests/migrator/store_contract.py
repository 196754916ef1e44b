"""The store contract: what any implementation of ``migrator.store.Store`` must do.

Written against the protocol only. ``test_store_contract.py`` runs it on every
implementation (today SQLite on a temporary file); a PostgreSQL store passes the same
class before the core may use it.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from indexes import EmbedderSpec, IndexSpec, SearchParams
from indexes.errors import ConflictError, NotFoundError
from migrator.migration import Backfill, Plan, PlanChange
from migrator.phases import Phase
from migrator.store import (
    CatalogEntry,
    ConfigVersion,
    Document,
    DocumentIn,
    EvalRunRecord,
    EvalSetRecord,
    Event,
    LogRecord,
    Migration,
    ShadowReadRecord,
    Store,
)

EMBEDDER = EmbedderSpec(model="hash://16")


def spec(name: str) -> IndexSpec:
    return IndexSpec(name=name, embedder=EMBEDDER, factory="Flat")


def docs(*ids: str, text: str = "text of") -> list[DocumentIn]:
    return [DocumentIn(i, f"{text} {i}", {"n": n}) for n, i in enumerate(ids)]


def migrate(store: Store, target: str = "v2") -> Migration:
    """A primary ``v1`` and a migration to ``target``."""
    if not any(e.name == "v1" for e in store.catalog.entries()):
        store.catalog.add(spec("v1"), "fp1", 16, "primary")
    return store.migrations.create("v1", spec(target), "fp1", 16, Plan(), "alice", {"docs": 0})


def eval_set(name: str = "sample") -> EvalSetRecord:
    return EvalSetRecord(
        name=name,
        path="/data/sample",
        sample=2,
        seed=1,
        content_hash="abc",
        labelled=True,
        queries=[{"id": "q1", "text": "first?"}, {"id": "q2", "text": "second?"}],
        qrels={"q1": {"d1": 1}, "q2": {"d2": 2}},
        created_at=1.0,
    )


def change_every_concern_then_fail(store: Store, m: Migration) -> None:
    with store.atomic():
        store.catalog.set_search_params("v2", SearchParams(ef_search=99))
        store.migrations.change_plan(PlanChange(m.id, m.plan, "a", "knobs", {}))
        store.migrations.save_backfill(m.id, Backfill(done=3))
        store.config.add({"k": 1}, "a", "knobs")
        store.log.append_upserts(docs("b"))
        store.log.append_delete("a")
        store.evals.add_set(eval_set())
        raise RuntimeError("midway")


def add_a_version_then_conflict(store: Store) -> None:
    with store.atomic():
        store.config.add({"k": 2}, "a", "undone")
        store.catalog.add(spec("v1"), "fp", 16, "primary")
        store.catalog.add(spec("v1"), "fp", 16, "primary")


class StoreContract:
    """Every test takes ``store``: a fresh, empty implementation (a fixture of the subclass)."""

    # -- the write log and the documents -------------------------------------------------

    def test_an_empty_store_has_no_log_and_no_documents(self, store: Store) -> None:
        assert store.log.last_seq() == 0
        assert store.log.read(0) == []
        assert store.log.document_count() == 0
        assert store.log.document_ids() == set()
        assert store.log.scan(None, 10) == []

    def test_appended_upserts_come_back_in_order_with_monotonic_sequences(
        self, store: Store
    ) -> None:
        first = store.log.append_upserts(docs("a", "b"))
        second = store.log.append_upserts(docs("c"))
        seqs = [r.seq for r in first + second]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3
        assert store.log.last_seq() == seqs[-1]
        assert store.log.read(0) == first + second
        assert store.log.read(seqs[0], limit=1) == [first[1]]
        assert store.log.created_at(seqs[0]) == first[0].created_at
        assert store.log.created_at(seqs[-1] + 1) is None

    def test_documents_follow_the_log_the_newest_write_wins(self, store: Store) -> None:
        store.log.append_upserts(docs("a", "b"))
        (again,) = store.log.append_upserts([DocumentIn("a", "new text", {"v": 2})])
        doc = store.log.document("a")
        assert doc == Document("a", "new text", {"v": 2}, again.content_hash or "", again.seq)
        assert store.log.document_ids() == {"a", "b"}
        assert store.log.document_count() == 2
        assert set(store.log.documents(["a", "b", "missing"])) == {"a", "b"}
        assert store.log.documents([]) == {}
        (b,) = store.log.documents(["b"]).values()
        assert store.log.versions(["a", "b", "missing"]) == {"a": again.seq, "b": b.seq}
        assert store.log.versions([]) == {}

    def test_a_batch_writing_one_id_twice_keeps_the_later_text(self, store: Store) -> None:
        records = store.log.append_upserts([DocumentIn("a", "one"), DocumentIn("a", "two")])
        assert [r.text for r in records] == ["one", "two"]
        doc = store.log.document("a")
        assert doc is not None
        assert (doc.text, doc.seq) == ("two", records[1].seq)

    def test_a_delete_is_logged_and_removes_the_document(self, store: Store) -> None:
        (upsert,) = store.log.append_upserts(docs("a"))
        record = store.log.append_delete("a")
        assert (record.op, record.doc_id, record.text, record.seq) == (
            "delete",
            "a",
            None,
            upsert.seq + 1,
        )
        assert store.log.document("a") is None
        assert store.log.read(upsert.seq) == [record]
        with pytest.raises(NotFoundError, match="'a'"):
            store.log.append_delete("a")
        assert store.log.last_seq() == record.seq, "a refused delete logs nothing"

    def test_the_scan_resumes_in_id_order_and_the_sample_draws_live_documents(
        self, store: Store
    ) -> None:
        store.log.append_upserts(docs("c", "a", "d", "b"))
        store.log.append_delete("d")
        assert [d.id for d in store.log.scan(None, 2)] == ["a", "b"]
        assert [d.id for d in store.log.scan("b", 10)] == ["c"]
        assert {d.id for d in store.log.sample(10)} == {"a", "b", "c"}
        assert len(store.log.sample(2)) == 2

    def test_concurrent_writers_get_distinct_gapless_sequences(self, store: Store) -> None:
        def write(worker: int) -> None:
            for i in range(10):
                store.log.append_upserts(docs(f"w{worker}-{i}"))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.seq for r in store.log.read(0, limit=100)] == list(range(1, 41))

    # -- the catalog -----------------------------------------------------------------------

    def test_the_catalog_records_roles_and_search_parameters(self, store: Store) -> None:
        added = store.catalog.add(spec("v1"), "fp1", 16, "primary")
        assert store.catalog.entries() == [added]
        assert (added.name, added.role, added.search_params) == ("v1", "primary", SearchParams())
        store.catalog.set_role("v1", "retired")
        store.catalog.set_search_params("v1", SearchParams(ef_search=64))
        (entry,) = store.catalog.entries()
        assert (entry.role, entry.search_params.ef_search) == ("retired", 64)
        assert entry.spec == spec("v1")

    def test_the_catalog_refuses_a_taken_name_and_an_unknown_one(self, store: Store) -> None:
        store.catalog.add(spec("v1"), "fp1", 16, "primary")
        with pytest.raises(ConflictError, match="'v1' already exists"):
            store.catalog.add(spec("v1"), "fp2", 8, "target")
        with pytest.raises(NotFoundError, match="'nope'"):
            store.catalog.set_search_params("nope", SearchParams())
        with pytest.raises(NotFoundError, match="'nope'"):
            store.catalog.set_role("nope", "retired")

    # -- the embedding cache ---------------------------------------------------------------

    def test_the_embedding_cache_round_trips_vectors_per_fingerprint(self, store: Store) -> None:
        vectors = {"h1": np.arange(4, dtype=np.float32), "h2": np.ones(4, dtype=np.float32)}
        store.cache.put_many("fp", vectors)
        store.cache.put_many("fp", {"h1": np.zeros(4, dtype=np.float32)})  # first one kept
        found = store.cache.get_many("fp", ["h1", "h2", "h3", "h1"])
        assert set(found) == {"h1", "h2"}
        np.testing.assert_array_equal(found["h1"], vectors["h1"])
        assert found["h1"].dtype == np.float32
        assert store.cache.get_many("other", ["h1"]) == {}
        assert (store.cache.count("fp"), store.cache.count("other")) == (2, 0)

    def test_the_embedding_cache_looks_up_more_hashes_than_sqlite_binds_at_once(
        self, store: Store
    ) -> None:
        vectors = {f"h{i}": np.full(2, i, dtype=np.float32) for i in range(1200)}
        store.cache.put_many("fp", vectors)
        assert len(store.cache.get_many("fp", list(vectors))) == 1200

    # -- index migrations and their events -------------------------------------------------

    def test_creating_a_migration_registers_its_target_and_its_first_event(
        self, store: Store
    ) -> None:
        store.log.append_upserts(docs("a", "b"))
        m = migrate(store)
        assert (m.source, m.target, m.phase, m.target_share) == ("v1", "v2", Phase.PLANNED, 0.0)
        assert m.backfill == Backfill(as_of_seq=2), "dual-write begins after the logged writes"
        assert {e.name: e.role for e in store.catalog.entries()} == {
            "v1": "primary",
            "v2": "target",
        }
        (event,) = store.migrations.events(m.id)
        assert (event.from_phase, event.to_phase, event.reason, event.metrics) == (
            None,
            "planned",
            "created",
            {"docs": 0},
        )
        assert (
            store.migrations.active()
            == m
            == store.migrations.latest()
            == store.migrations.get(m.id)
        )

    def test_only_one_migration_is_active_at_a_time(self, store: Store) -> None:
        m = migrate(store)
        with pytest.raises(ConflictError, match=f"migration {m.id} is still planned"):
            migrate(store, "v3")
        assert [e.name for e in store.catalog.entries()] == ["v1", "v2"], "nothing half-made"

    def test_a_transition_moves_phase_roles_and_audit_in_one_step(self, store: Store) -> None:
        m = migrate(store)
        moved = store.migrations.transition(
            m.id, Phase.PLANNED, Phase.ABORTED, 0.0, "bob", "stop", {"why": 1}, {"v2": "retired"}
        )
        assert moved.phase == Phase.ABORTED
        assert store.migrations.active() is None
        assert store.migrations.latest() == moved
        assert {e.name: e.role for e in store.catalog.entries()}["v2"] == "retired"
        last = store.migrations.events(m.id)[-1]
        assert (last.actor, last.from_phase, last.to_phase, last.reason) == (
            "bob",
            "planned",
            "aborted",
            "stop",
        )

    def test_a_transition_from_a_stale_phase_changes_nothing(self, store: Store) -> None:
        m = migrate(store)
        with pytest.raises(ConflictError, match="is planned, not shadow"):
            store.migrations.transition(
                m.id, Phase.SHADOW, Phase.CANARY, 1.0, "bob", "go", {}, {"v2": "primary"}
            )
        assert store.migrations.get(m.id) == m
        assert len(store.migrations.events(m.id)) == 1
        assert {e.name: e.role for e in store.catalog.entries()}["v2"] == "target"

    def test_a_plan_change_is_audited_and_keeps_the_phase(self, store: Store) -> None:
        m = migrate(store)
        plan = dataclasses.replace(m.plan, shadow_sample=0.5)
        changed = store.migrations.change_plan(PlanChange(m.id, plan, "carol", "more", {"x": 1}))
        assert (changed.plan.shadow_sample, changed.phase) == (0.5, Phase.PLANNED)
        last = store.migrations.events(m.id)[-1]
        assert (last.from_phase, last.to_phase, last.reason) == ("planned", "planned", "more")

    def test_backfill_progress_is_saved(self, store: Store) -> None:
        m = migrate(store)
        progress = Backfill(as_of_seq=0, total=10, done=4, cursor="d4", started_at=5.0)
        store.migrations.save_backfill(m.id, progress)
        assert store.migrations.get(m.id).backfill == progress

    def test_unknown_migrations_are_not_found(self, store: Store) -> None:
        assert store.migrations.active() is None
        assert store.migrations.latest() is None
        for call in (
            lambda: store.migrations.get(99),
            lambda: store.migrations.events(99),
            lambda: store.migrations.transition(99, Phase.PLANNED, Phase.ABORTED, 0, "a", "", {}),
            lambda: store.migrations.change_plan(PlanChange(99, Plan(), "a", "", {})),
        ):
            with pytest.raises(NotFoundError, match="migration 99 does not exist"):
                call()

    # -- one transaction across concerns ---------------------------------------------------

    def test_atomic_commits_every_concern_together(self, store: Store) -> None:
        m = migrate(store)
        with store.atomic():
            store.catalog.set_search_params("v2", SearchParams(ef_search=99))
            store.migrations.change_plan(PlanChange(m.id, m.plan, "a", "knobs", {}))
            store.config.add({"k": 1}, "a", "knobs")
            store.log.append_upserts(docs("x"))
            assert store.log.document("x") is not None, "a transaction reads its own writes"
        assert store.config.history()[0].config == {"k": 1}
        assert len(store.migrations.events(m.id)) == 2

    def test_atomic_rolls_back_every_concern_on_an_error(self, store: Store) -> None:
        m = migrate(store)
        store.log.append_upserts(docs("a"))
        before = (
            store.catalog.entries(),
            store.migrations.get(m.id),
            store.migrations.events(m.id),
            store.config.history(),
            store.log.read(0),
            store.evals.sets(),
        )
        with pytest.raises(RuntimeError, match="midway"):
            change_every_concern_then_fail(store, m)
        after = (
            store.catalog.entries(),
            store.migrations.get(m.id),
            store.migrations.events(m.id),
            store.config.history(),
            store.log.read(0),
            store.evals.sets(),
        )
        assert after == before
        assert store.log.document_ids() == {"a"}

    def test_a_nested_block_that_fails_and_is_caught_undoes_only_itself(self, store: Store) -> None:
        with store.atomic():
            store.config.add({"k": 1}, "a", "kept")
            with pytest.raises(ConflictError):
                add_a_version_then_conflict(store)
        assert [v.reason for v in store.config.history()] == ["kept"]
        assert store.catalog.entries() == []

    def test_other_threads_do_not_see_a_transaction_before_it_commits(self, store: Store) -> None:
        seen: list[int] = []
        with store.atomic():
            store.log.append_upserts(docs("a"))
            reader = threading.Thread(target=lambda: seen.append(store.log.document_count()))
            reader.start()
            reader.join()
        assert seen == [0]
        assert store.log.document_count() == 1

    # -- eval sets and runs ----------------------------------------------------------------

    def test_eval_sets_are_kept_whole_and_named_once(self, store: Store) -> None:
        record = eval_set()
        store.evals.add_set(record)
        assert store.evals.get_set("sample") == record
        assert store.evals.sets() == [record]
        with pytest.raises(ConflictError, match="'sample' already exists"):
            store.evals.add_set(record)
        with pytest.raises(NotFoundError, match="'other'"):
            store.evals.get_set("other")
        assert "queries" not in record.summary()
        assert record.summary()["labelled"] is True

    def test_eval_runs_are_recorded_finished_and_listed_newest_first(self, store: Store) -> None:
        store.evals.add_set(eval_set())
        running = store.evals.add_run("sample", "v1", "v2", 7, "job", None, {"status": "running"})
        other = store.evals.add_run("sample", "v1", "v3", None, "job", "pass", {"summary": {}})
        store.evals.finish_run(running, "fail", {"summary": {"delta": -1}})
        run = store.evals.get_run(running)
        assert (run.id, run.migration_id, run.decision, run.report) == (
            running,
            7,
            "fail",
            {"summary": {"delta": -1}},
        )
        assert [r.id for r in store.evals.runs()] == [other, running]
        assert [r.id for r in store.evals.runs(7)] == [running]
        assert [r.id for r in store.evals.runs(limit=1)] == [other]
        with pytest.raises(NotFoundError, match="eval run 99"):
            store.evals.get_run(99)

    # -- config versions and shadow reads --------------------------------------------------

    def test_config_versions_grow_and_read_back_newest_first(self, store: Store) -> None:
        assert store.config.history() == []
        first = store.config.add({"indexes": {"v1": {"ef_search": 16}}}, "alice", "initial")
        second = store.config.add({"indexes": {}}, "bob", "revert")
        assert second > first
        assert [v.version for v in store.config.history()] == [second, first]
        assert [v.version for v in store.config.history(limit=1)] == [second]
        got = store.config.get(first)
        assert (got.actor, got.reason, got.config) == (
            "alice",
            "initial",
            {"indexes": {"v1": {"ef_search": 16}}},
        )
        with pytest.raises(NotFoundError, match="config version 99"):
            store.config.get(99)

    def test_shadow_reads_are_kept_per_migration_newest_first(self, store: Store) -> None:
        reads = [ShadowReadRecord(1, float(i), 10, "v1", 0.9, 2.0, 3.0, None) for i in range(3)]
        failed = ShadowReadRecord(2, 9.0, 10, "v2", None, 2.0, None, "Timeout: slow")
        store.shadow.add([*reads, failed])
        store.shadow.add([])
        assert store.shadow.recent(1) == reads[::-1]
        assert store.shadow.recent(1, limit=1) == [reads[-1]]
        assert store.shadow.recent(2) == [failed]

    # -- typed records out -----------------------------------------------------------------

    def test_every_read_returns_frozen_typed_records(self, store: Store) -> None:
        m = migrate(store)
        store.log.append_upserts(docs("a"))
        store.evals.add_set(eval_set())
        run = store.evals.add_run("sample", "v1", "v2", m.id, "job", None, {})
        store.config.add({}, "a", "r")
        store.shadow.add([ShadowReadRecord(m.id, 1.0, 10, "v1", 1.0, 1.0, 1.0, None)])
        reads: list[tuple[object, type]] = [
            (store.log.read(0)[0], LogRecord),
            (store.log.document("a"), Document),
            (store.log.scan(None, 1)[0], Document),
            (store.catalog.entries()[0], CatalogEntry),
            (store.migrations.get(m.id), Migration),
            (store.migrations.events(m.id)[0], Event),
            (store.evals.get_set("sample"), EvalSetRecord),
            (store.evals.get_run(run), EvalRunRecord),
            (store.config.history()[0], ConfigVersion),
            (store.shadow.recent(m.id)[0], ShadowReadRecord),
        ]
        for record, kind in reads:
            assert type(record) is kind
            assert dataclasses.is_dataclass(record)
            field = dataclasses.fields(record)[0].name  # record is a kind, checked above
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, field, None)
