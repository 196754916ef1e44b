"""Two replicas (two services, two homes) on one real PostgreSQL, in one process.

What one replica commits the other follows: writes reach its indexes from the shared log,
a migration created through one opens its target on the other (replayed from the whole
log), phase, share and search parameters follow within a second, one leads at a time
and the other takes over when it closes. The hash embedder keeps it fast; the real model
and real servers are in ``tests/e2e/test_replicas_e2e.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexes import SearchParams
from indexes.errors import StorageBusyError
from migrator import ActionRequest, ConfigChange, DocumentIn, MigrationRequest, Switchover
from migrator.phases import Phase
from migrator.read_path import READ_AFTER_WAIT_S
from migrator.requests import SearchParamsChange, TargetRequest
from migrator.store import Migration
from tests.conftest import hash_settings

GO = ActionRequest(override=True)


def doc(i: int, rev: int = 0) -> DocumentIn:
    return DocumentIn(f"d{i}", f"lamp tide gear {i} revision {rev} {'star ' * (i % 5)}")


def eventually(check: Callable[[], bool], within_s: float = 5.0) -> float:
    """Seconds until ``check()`` held; fails the test past ``within_s``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within_s, "did not happen in time"
        time.sleep(0.02)
    return time.monotonic() - started


def live_phase(replica: Switchover) -> Phase | None:
    """The phase of the replica's live migration; None when there is none."""
    current = replica.live_migration()
    return None if current is None else current.phase


def live_migration_of(replica: Switchover) -> Migration:
    """The replica's live migration; there must be one."""
    found = replica.live_migration()
    assert found is not None, "no live migration"
    return found


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[tuple[Switchover, Switchover]]:
    a = Switchover(hash_settings(tmp_path / "a", database_url=pg_url))
    a.start()
    eventually(lambda: a.replication.leading)
    b = Switchover(hash_settings(tmp_path / "b", database_url=pg_url))
    b.start()
    yield a, b
    b.close(snapshot=False)
    a.close(snapshot=False)


def test_a_write_through_one_replica_is_applied_by_the_other_from_the_log(
    pair: tuple[Switchover, Switchover],
) -> None:
    a, b = pair
    seq = a.upsert([doc(i) for i in range(20)]).seq
    eventually(lambda: b.runtime("v1").index.applied_seq >= seq, within_s=2.0)
    assert b.runtime("v1").index.ids() == {f"d{i}" for i in range(20)}
    a.delete("d3")
    eventually(lambda: "d3" not in b.runtime("v1").index.ids(), within_s=2.0)


def test_a_read_with_the_token_of_a_write_elsewhere_sees_it(
    pair: tuple[Switchover, Switchover],
) -> None:
    a, b = pair
    b.registry.stop()  # no background applier on b: only the token can make it see the write
    seq = a.upsert([doc(7, 1)]).seq
    hits = b.search("lamp tide gear 7 revision 1", k=1, after_seq=seq).hits
    assert hits[0].id == "d7"


def test_a_read_waits_a_bounded_time_for_its_write_then_gets_a_busy_error(
    pair: tuple[Switchover, Switchover],
) -> None:
    a, b = pair
    b.registry.stop()
    primary = b.runtime("v1")
    with primary.apply_lock:  # b cannot apply a's write for now
        seq = a.upsert([doc(8, 2)]).seq
        started = time.monotonic()
        with pytest.raises(StorageBusyError, match=f"has not applied write {seq} yet"):
            b.search("lamp", after_seq=seq)
        assert time.monotonic() - started >= READ_AFTER_WAIT_S
    assert b.search("lamp tide gear 8 revision 2", k=1, after_seq=seq).hits[0].id == "d8"


def test_one_replica_leads_and_the_other_takes_over_when_it_goes(
    tmp_path: Path, pg_url: str
) -> None:
    a = Switchover(hash_settings(tmp_path / "a", database_url=pg_url))
    b = Switchover(hash_settings(tmp_path / "b", database_url=pg_url))
    a.start()
    eventually(lambda: a.replication.leading)
    b.start()
    time.sleep(1.5)  # b has tried the lock at least once
    assert (a.replication.leading, b.replication.leading) == (True, False)
    assert (a.watchdog.running, b.watchdog.running) == (True, False)
    a.close(snapshot=False)
    took = eventually(lambda: b.replication.leading, within_s=5.0)
    assert b.watchdog.running, f"took over in {took:.2f}s without its watchdog"
    b.close(snapshot=False)


def test_a_migration_made_through_one_replica_is_followed_by_the_other(
    pair: tuple[Switchover, Switchover],
) -> None:
    a, b = pair
    a.upsert([doc(i) for i in range(60)])
    mid = b.create_migration(MigrationRequest(TargetRequest("v2", "HNSW16")), "bob").id
    eventually(lambda: b.registry.find("v2") is not None and a.registry.find("v2") is not None)
    b.migration_action(mid, "backfill", ActionRequest(), "bob")  # b follows: a leads and runs it
    eventually(lambda: a.store.migrations.get(mid).backfill.finished)
    a.upsert([doc(i, 1) for i in range(55, 70)])
    for replica in (a, b):

        def caught_up(r: Switchover = replica) -> bool:
            return r.runtime("v2").index.ids() == r.runtime("v1").index.ids()

        eventually(caught_up)
    for move, body in (("shadow", ActionRequest()), ("canary", GO)):
        a.migration_action(mid, move, body, "alice")
    eventually(lambda: live_phase(b) == Phase.CANARY)
    assert b.search("lamp", routing_key="k", k=3).served_by in {"v1", "v2"}
    b.migration_action(mid, "rollback", ActionRequest(reason="drill"), "bob")
    took = eventually(lambda: live_migration_of(a).phase == Phase.ROLLED_BACK, within_s=1.0)
    assert all(a.search("lamp", routing_key=f"k{i}").served_by == "v1" for i in range(30)), took
    change = ConfigChange(
        {"v2": SearchParamsChange(SearchParams(ef_search=77), frozenset({"ef_search"}))},
        None,
        "tune",
    )
    a.set_config(change, "alice")
    eventually(lambda: b.runtime("v2").index.search_params.ef_search == 77, within_s=1.0)
    for move, body in (
        ("resume", ActionRequest()),
        ("canary", GO),
        ("cutover", GO),
        ("finalize", ActionRequest()),
    ):
        a.migration_action(mid, move, body, "alice")
    eventually(lambda: b.live_migration() is None and b.registry.primary().name == "v2")
    assert b.registry.find("v1") is None
    assert b.runtime("v2").index.ids() == {d.id for d in b.store.log.scan(None, 1000)}
    assert b.runtime("v2").index.search_params == SearchParams(ef_search=77)


def test_a_pgvector_target_is_filled_once_by_the_leader_and_served_by_every_replica(
    tmp_path: Path, pg_url: str
) -> None:
    a = Switchover(hash_settings(tmp_path / "a", database_url=pg_url))
    a.start()
    eventually(lambda: a.replication.leading)
    b = Switchover(hash_settings(tmp_path / "b", database_url=pg_url))
    b.start()
    try:
        a.upsert([doc(i) for i in range(80)])
        target = TargetRequest("v2", "hnsw", backend="pgvector")
        mid = b.create_migration(MigrationRequest(target), "bob").id
        eventually(lambda: a.registry.find("v2") is not None and b.registry.find("v2") is not None)
        b.migration_action(mid, "backfill", ActionRequest(), "bob")  # a leads: a copies
        eventually(lambda: a.store.migrations.get(mid).backfill.finished, within_s=30)
        assert a.store.migrations.get(mid).backfill.done == 80
        b.upsert([doc(i, 1) for i in range(75, 90)])
        b.delete("d2")
        want = {d.id for d in b.store.log.scan(None, 1000)}
        for replica in (a, b):

            def applied_all(r: Switchover = replica) -> bool:
                return r.runtime("v2").index.applied_seq == r.last_seq()

            eventually(applied_all)
            assert replica.runtime("v2").index.ids() == want
        for move, body in (("shadow", ActionRequest()), ("canary", GO), ("cutover", GO)):
            a.migration_action(mid, move, body, "alice")
        eventually(lambda: live_phase(b) == Phase.CUTOVER)
        found = b.search(doc(88, 1).text, k=1, routing_key="k")  # written through b
        assert (found.served_by, found.hits[0].id) == ("v2", "d88")
    finally:
        b.close(snapshot=False)
        a.close(snapshot=False)


def test_search_parameters_changed_through_a_follower_restart_the_leaders_judgement(
    pair: tuple[Switchover, Switchover],
) -> None:
    a, b = pair  # a leads and runs the watchdog
    a.upsert([doc(i) for i in range(40)])
    mid = a.create_migration(MigrationRequest(TargetRequest("v2", "HNSW16")), "alice").id
    a.migration_action(mid, "backfill", ActionRequest(), "alice")
    eventually(lambda: a.store.migrations.get(mid).backfill.finished)
    a.migration_action(mid, "shadow", ActionRequest(), "alice")
    eventually(lambda: live_phase(b) == Phase.SHADOW)
    epoch = a.evidence.epoch
    change = ConfigChange(
        {"v2": SearchParamsChange(SearchParams(ef_search=1), frozenset({"ef_search"}))},
        None,
        "cut latency",
    )
    b.set_config(change, "bob")
    eventually(lambda: a.runtime("v2").index.search_params.ef_search == 1, within_s=2.0)
    assert a.evidence.epoch > epoch, "the leader kept judging the old parameters' evidence"
    untouched = a.evidence.epoch
    b.set_config(
        ConfigChange(
            {"v1": SearchParamsChange(SearchParams(ef_search=5), frozenset({"ef_search"}))},
            None,
            "the source too",
        ),
        "bob",
    )
    eventually(lambda: a.runtime("v1").index.search_params.ef_search == 5, within_s=2.0)
    assert a.evidence.epoch > untouched


def test_a_refresh_never_undoes_a_migration_created_here_while_it_read_the_store(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race a fresh-clone CI run hit: the state sync read "no live migration", a create
    # through this replica committed and adopted migration 1, then the sync followed its
    # stale read and the next move answered 409 "migration 1 is planned; it is over".
    a = Switchover(hash_settings(tmp_path / "a", database_url=pg_url))  # not started: no poller
    try:
        a.upsert([doc(i) for i in range(5)])
        created: list[int] = []
        creating = threading.Thread(
            target=lambda: created.append(
                a.create_migration(MigrationRequest(TargetRequest("v2", "Flat")), "ann").id
            )
        )
        read_store = a.store.migrations.active

        def active_while_a_create_runs() -> Migration | None:
            seen = read_store()
            if not creating.is_alive() and not created:
                creating.start()
                creating.join(timeout=0.5)  # done by now unless the refresh holds it off
            return seen

        monkeypatch.setattr(a.store.migrations, "active", active_while_a_create_runs)
        a.replication.sync.refresh()
        creating.join(timeout=30)
        live = a.live_migration()
        assert created
        assert live is not None
        assert live.id == created[0]
        moved = a.migration_action(created[0], "backfill", ActionRequest(), "ann")
        assert moved.phase == "backfilling"
    finally:
        a.close(snapshot=False)
