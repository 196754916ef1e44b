"""Snapshots restore an index exactly, and a bad one is skipped, never trusted."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from indexes import (
    EmbedderSpec,
    IndexSpec,
    SearchParams,
    SnapshotError,
    VectorIndex,
    durable,
    index_state,
    list_snapshots,
    load_latest_snapshot,
    write_snapshot,
)
from indexes import snapshots as snapshots_module
from indexes.index_state import IndexState

from .helpers import (
    EXHAUSTIVE,
    FINGERPRINT,
    doc_ids,
    make_index,
    queries,
    ready_index,
    unit_vectors,
)

PROBE = queries(unit_vectors(5, seed=31))


def _index(factory: str = "Flat", seq: int = 1) -> VectorIndex:
    index, _ = ready_index(factory, n=200)
    if seq > 1:
        index.apply(seq, {"extra": unit_vectors(1, seed=seq)[0]}, deletes=["d1"])
    return index


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat", "IVF16,Flat"])
def test_round_trip_restores_ids_results_and_sequence(tmp_path: Path, factory: str) -> None:
    index = _index(factory, seq=3)
    index.set_search_params(SearchParams(ef_search=200, nprobe=16))
    info = write_snapshot(index, tmp_path)
    assert re.fullmatch(r"000000000003-\d{8}T\d{12}Z", info.path.name)
    assert (info.applied_seq, info.count) == (3, len(index))

    loaded = load_latest_snapshot(tmp_path, index.spec, FINGERPRINT)
    assert loaded is not None
    restored, loaded_info = loaded
    assert loaded_info == info
    assert restored.ids() == index.ids()
    assert restored.applied_seq == 3
    assert restored.search_params == index.search_params
    assert restored.stats() == index.stats()
    assert restored.search(PROBE, 10, EXHAUSTIVE) == index.search(PROBE, 10, EXHAUSTIVE)


def test_the_manifest_describes_the_snapshot(tmp_path: Path) -> None:
    index = _index(seq=2)
    info = write_snapshot(index, tmp_path)
    manifest = json.loads((info.path / "manifest.json").read_text())
    assert manifest["format"] == 2
    assert manifest["spec"] == index.spec.to_dict()
    assert manifest["embedder_fingerprint"] == FINGERPRINT
    assert (manifest["dim"], manifest["count"], manifest["applied_seq"]) == (64, len(index), 2)
    assert manifest["search_params"] == {"ef_search": None, "nprobe": None}
    assert manifest["created_at"] == info.created_at
    assert sorted(manifest["files"]) == ["index.faiss", "pending.npy", "state.json"]


def test_an_untrained_index_keeps_its_buffer(tmp_path: Path) -> None:
    index = make_index("IVF16,Flat")
    vectors = unit_vectors(30, seed=4)
    index.apply(1, dict(zip(doc_ids(30), vectors, strict=True)))
    write_snapshot(index, tmp_path)
    loaded = load_latest_snapshot(tmp_path, index.spec, FINGERPRINT)
    assert loaded is not None
    restored = loaded[0]
    assert not restored.is_trained
    assert restored.stats()["pending"] == 30
    assert restored.search(PROBE, 5) == index.search(PROBE, 5)
    assert restored.auto_train_size == index.auto_train_size


def test_a_corrupt_newest_snapshot_falls_back_to_the_older_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = _index()
    older = write_snapshot(index, tmp_path)
    index.apply(2, deletes=["d5"])
    newer = write_snapshot(index, tmp_path)
    _flip_a_byte(newer.path / "index.faiss")

    with caplog.at_level(logging.WARNING):
        loaded = load_latest_snapshot(tmp_path, index.spec, FINGERPRINT)
    assert loaded is not None
    assert loaded[1] == older
    assert "d5" in loaded[0]
    assert "checksum mismatch for index.faiss" in caplog.text
    assert newer.path.name in caplog.text

    _flip_a_byte(older.path / "state.json")
    assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is None


@pytest.mark.parametrize("name", ["index.faiss", "state.json"])
def test_a_file_too_broken_to_parse_is_named_by_its_checksum(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the files are parsed while their checksums are computed on another thread: a parse
    # failure waits for the checksums, and the mismatch is what the warning names
    index = _index()
    info = write_snapshot(index, tmp_path)
    path = info.path / name
    path.write_bytes(b"\x00garbage" + path.read_bytes()[:64])
    with caplog.at_level(logging.WARNING):
        assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is None
    assert f"checksum mismatch for {name}" in caplog.text


def test_an_unreadable_manifest_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = _index()
    info = write_snapshot(index, tmp_path)
    (info.path / "manifest.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is None
    assert "unreadable manifest" in caplog.text
    assert list_snapshots(tmp_path) == []


def test_a_tampered_manifest_count_is_caught(tmp_path: Path) -> None:
    index = _index()
    info = write_snapshot(index, tmp_path)
    manifest = json.loads((info.path / "manifest.json").read_text())
    (info.path / "manifest.json").write_text(json.dumps({**manifest, "count": 3}))
    assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is None


def test_a_snapshot_of_another_spec_or_embedder_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = _index()
    write_snapshot(index, tmp_path)
    other_layout = IndexSpec(name="t1", embedder=index.spec.embedder, factory="HNSW32,Flat")
    other_model = IndexSpec(name="t1", embedder=EmbedderSpec(kind="hash", dim=64, normalize=False))
    with caplog.at_level(logging.WARNING):
        assert load_latest_snapshot(tmp_path, other_layout, FINGERPRINT) is None
        assert load_latest_snapshot(tmp_path, other_model, FINGERPRINT) is None
        assert load_latest_snapshot(tmp_path, index.spec, "e" * 64) is None
    assert caplog.text.count("spec differs") == 2
    assert "embedder fingerprint ffffffffffff is not eeeeeeeeeeee" in caplog.text
    assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is not None


def test_old_snapshots_and_leftover_tmp_folders_are_pruned(tmp_path: Path) -> None:
    index = _index()
    stale = tmp_path / ".tmp-000000000001-crashed"
    stale.mkdir()
    (stale / "index.faiss").write_bytes(b"half")
    infos = []
    for seq in range(2, 6):
        index.apply(seq, deletes=[f"d{seq}"])
        infos.append(write_snapshot(index, tmp_path, keep=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(i.path.name for i in infos[-2:])
    assert [s.applied_seq for s in list_snapshots(tmp_path)] == [5, 4]


def test_no_snapshot_folder_means_none(tmp_path: Path) -> None:
    assert load_latest_snapshot(tmp_path / "missing", make_index().spec, FINGERPRINT) is None
    assert list_snapshots(tmp_path / "missing") == []


def test_an_unwritable_directory_raises_snapshot_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(SnapshotError, match="cannot write a snapshot of index 't1'"):
        write_snapshot(_index(), blocker / "snapshots")


def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing_write(path: Path, data: bytes | memoryview) -> str:
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    real_write = durable.write_synced  # the function snapshots imported from indexes.durable
    monkeypatch.setattr(snapshots_module, "write_synced", failing_write)
    with pytest.raises(SnapshotError, match="No space left"):
        write_snapshot(_index(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_index_file_is_faiss_own_serialisation(tmp_path: Path) -> None:
    index = _index("IVF16,Flat", seq=3)
    info = write_snapshot(index, tmp_path)
    streamed = (info.path / "index.faiss").read_bytes()
    assert streamed == index.export_state().faiss_bytes.tobytes()


class _DiskFillsUp:
    """An index whose snapshot file's disk fills up after the first pieces streamed."""

    def __init__(self, index: VectorIndex) -> None:
        self.index = index
        self.spec = index.spec
        self.pieces = 0

    def export_state(self, faiss_sink: Callable[[bytes], object] | None = None) -> IndexState:
        assert faiss_sink is not None

        def sink(piece: bytes) -> None:
            self.pieces += 1
            if self.pieces == 3:
                raise OSError(28, "No space left on device")
            faiss_sink(piece)

        return self.index.export_state(faiss_sink=sink)


def test_a_disk_full_while_the_index_streams_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_state, "STREAM_PIECE", 4096)  # many pieces, not one
    index = _index()
    full = _DiskFillsUp(index)
    with pytest.raises(SnapshotError, match="No space left on device"):
        write_snapshot(full, tmp_path)  # type: ignore[arg-type]  # a partial fake: what write_snapshot reads
    assert full.pieces >= 3
    assert list(tmp_path.iterdir()) == []
    index.apply(2, {"after": unit_vectors(1, seed=9)[0]})  # the read lock was let go
    assert write_snapshot(index, tmp_path).applied_seq == 2


def test_pending_vectors_survive_bit_exact(tmp_path: Path) -> None:
    index = make_index("IVF16,Flat")
    vectors = unit_vectors(3, seed=12)
    index.apply(1, dict(zip(doc_ids(3), vectors, strict=True)))
    info = write_snapshot(index, tmp_path)
    np.testing.assert_array_equal(np.load(info.path / "pending.npy"), vectors)
