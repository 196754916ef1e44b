"""The crash loop's migration walk, without a server: which layouts its operator migrates
to, in turn, and what the result records about them."""

from __future__ import annotations

from pathlib import Path

from stress.crashloop import FAISS_LAYOUTS, PG_LAYOUTS, Harness, backend_counts


def finish(harness: Harness, phase: str) -> str:
    """Plan the next migration, pretend it ended in ``phase``; its target's layout."""
    harness.next_plan()
    create = harness.model.plan[0]
    target = create.body["target"]
    mig = harness.model.mig
    mig.id, mig.phase, mig.target = len(harness.walked), phase, target["name"]
    harness.model.migrations += 1
    harness.model.plan = []
    return f"{target.get('backend', 'faiss')} {target['factory']}"


def test_on_replicas_the_walk_cycles_faiss_flat_hnsw_then_pgvector_and_back(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, seed=3, database_url="postgresql://unused/db", replicas=3)
    targets = [finish(harness, "finalized") for _ in range(4)]
    assert targets == ["faiss HNSW32,Flat", "pgvector hnsw", "faiss Flat", "faiss HNSW32,Flat"]
    walked = harness.walked_so_far()
    assert [w["from"] for w in walked] == ["faiss Flat", "faiss HNSW32,Flat", "pgvector hnsw",
                                          "faiss Flat"]  # fmt: skip
    assert backend_counts(walked) == {
        "faiss->faiss": {"planned": 2, "finalized": 2},
        "faiss->pgvector": {"planned": 1, "finalized": 1},
        "pgvector->faiss": {"planned": 1, "finalized": 1},
    }


def test_an_aborted_migration_is_tried_again_to_the_same_layout(tmp_path: Path) -> None:
    harness = Harness(tmp_path, seed=3, database_url="postgresql://unused/db", replicas=3)
    assert finish(harness, "finalized") == "faiss HNSW32,Flat"
    assert finish(harness, "aborted") == "pgvector hnsw"
    assert finish(harness, "finalized") == "pgvector hnsw"
    assert backend_counts(harness.walked_so_far())["faiss->pgvector"] == {
        "planned": 2,
        "finalized": 1,
    }


def test_one_server_on_sqlite_alternates_the_two_faiss_layouts(tmp_path: Path) -> None:
    harness = Harness(tmp_path, seed=3)
    assert harness.layouts == FAISS_LAYOUTS
    assert [finish(harness, "finalized") for _ in range(3)] == [
        "faiss HNSW32,Flat", "faiss Flat", "faiss HNSW32,Flat"
    ]  # fmt: skip


def test_the_cycle_may_be_given_so_a_short_run_reaches_pgvector_first(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path, seed=3, database_url="postgresql://unused/db", replicas=3,
        layouts=(FAISS_LAYOUTS[0], PG_LAYOUTS[-1]),
    )  # fmt: skip
    assert [finish(harness, "finalized") for _ in range(2)] == ["pgvector hnsw", "faiss Flat"]
