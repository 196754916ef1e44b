"""The file-backed embedding cache: appends survive a reopen, a crash's torn tail is cut, a
damaged record reads as a miss and is replaced, and nothing reaches the disk half-checked."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from indexes.errors import StorageError
from migrator.store import vector_file
from migrator.store.embedding_cache import FileEmbeddingCache
from migrator.store.vector_file import VectorFile, vector_path

DIM = 6
RECORD = 32 + 4 * DIM + 4


def digest(i: int) -> str:
    return hashlib.sha256(f"text {i}".encode()).hexdigest()


def vectors(n: int, start: int = 0, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {digest(i): rng.random(DIM).astype(np.float32) for i in range(start, start + n)}


def same(found: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> bool:
    return found.keys() == expected.keys() and all(
        np.array_equal(found[k], expected[k]) for k in expected
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "db-vectors"


def reopened(folder: Path) -> FileEmbeddingCache:
    return FileEmbeddingCache(folder)


def written(folder: Path, n: int) -> dict[str, np.ndarray]:
    """``n`` vectors put under "fp" by a cache that is then closed; the vectors."""
    cache = FileEmbeddingCache(folder)
    whole = vectors(n)
    cache.put_many("fp", whole)
    cache.close()
    return whole


def test_vectors_put_are_read_back_after_a_reopen_per_fingerprint(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    first, other = vectors(50), vectors(5, seed=1)
    cache.put_many("model-a", first)
    cache.put_many("model-b \u2603 any characters", other)
    cache.close()
    cache = reopened(folder)
    try:
        assert same(cache.get_many("model-a", [*first, "absent"]), first)
        assert same(cache.get_many("model-b \u2603 any characters", list(other)), other)
        assert cache.get_many("model-c", list(first)) == {}
        assert (cache.count("model-a"), cache.count("model-c")) == (50, 0)
    finally:
        cache.close()


def test_the_first_vector_stored_for_a_key_is_kept(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    try:
        kept = vectors(3)
        cache.put_many("fp", kept)
        size = vector_path(folder, "fp").stat().st_size
        cache.put_many("fp", {k: np.zeros(DIM, dtype=np.float32) for k in kept})
        assert vector_path(folder, "fp").stat().st_size == size, "nothing appended"
        assert same(cache.get_many("fp", list(kept)), kept)
    finally:
        cache.close()


def test_keys_that_are_not_content_hashes_work_too(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    try:
        named = {"h1": np.ones(DIM, dtype=np.float32), "x" * 64: np.zeros(DIM, dtype=np.float32)}
        cache.put_many("fp", named)
        assert same(cache.get_many("fp", ["h1", "x" * 64, "h2"]), named)
    finally:
        cache.close()


def test_a_vector_of_another_dimension_is_refused_and_nothing_is_written(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    try:
        cache.put_many("fp", vectors(2))
        size = vector_path(folder, "fp").stat().st_size
        bad = {**vectors(2, start=10), digest(99): np.ones(DIM + 1, dtype=np.float32)}
        with pytest.raises(ValueError, match="dimension 6"):
            cache.put_many("fp", bad)
        assert vector_path(folder, "fp").stat().st_size == size
        assert cache.count("fp") == 2
    finally:
        cache.close()


def test_a_torn_record_at_the_end_is_cut_at_the_next_open(folder: Path) -> None:
    """A crash in the middle of an append (before its write was acknowledged)."""
    whole = written(folder, 10)
    vec = vector_path(folder, "fp")
    keys = vec.with_suffix(".keys")
    good = vec.stat().st_size
    with vec.open("ab") as f:
        f.write(b"\x01" * (RECORD // 2))  # half a record
    with keys.open("ab") as f:
        f.write(b"\x02" * 40)  # a key and a bit, of records that never reached the disk
    cache = reopened(folder)
    try:
        assert same(cache.get_many("fp", list(whole)), whole)
        assert (vec.stat().st_size, keys.stat().st_size) == (good, 10 * 32)
        more = vectors(3, start=10)
        cache.put_many("fp", more)  # appends after the last whole record
    finally:
        cache.close()
    cache = reopened(folder)
    try:
        assert same(cache.get_many("fp", [*whole, *more]), {**whole, **more})
    finally:
        cache.close()


def test_keys_the_keys_file_lost_are_rebuilt_from_the_records(folder: Path) -> None:
    whole = written(folder, 20)
    keys = vector_path(folder, "fp").with_suffix(".keys")
    os.truncate(keys, 7 * 32 + 5)  # the keys of 7 records and a torn one survived
    cache = reopened(folder)
    try:
        assert same(cache.get_many("fp", list(whole)), whole)
        assert keys.stat().st_size == 20 * 32
    finally:
        cache.close()
    keys.unlink()  # the keys file gone altogether
    cache = reopened(folder)
    try:
        assert same(cache.get_many("fp", list(whole)), whole)
    finally:
        cache.close()


def test_a_damaged_record_reads_as_a_miss_and_the_next_put_replaces_it(folder: Path) -> None:
    whole = written(folder, 5)
    vec = vector_path(folder, "fp")
    header = vec.stat().st_size - 5 * RECORD
    with vec.open("r+b") as f:  # flip a byte inside the vector of record 2
        f.seek(header + 2 * RECORD + 40)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    damaged = list(whole)[2]
    cache = reopened(folder)
    try:
        found = cache.get_many("fp", list(whole))
        assert damaged not in found
        assert same(found, {k: v for k, v in whole.items() if k != damaged})
        assert cache.count("fp") == 4
        cache.put_many("fp", {damaged: whole[damaged]})  # re-encoded by the caller
        assert same(cache.get_many("fp", [damaged]), {damaged: whole[damaged]})
        assert cache.count("fp") == 5
    finally:
        cache.close()
    cache = reopened(folder)  # the replacement is the record the reopened map names
    try:
        assert same(cache.get_many("fp", list(whole)), whole)
    finally:
        cache.close()


def test_a_damaged_record_is_replaced_even_when_put_before_any_read(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    whole = vectors(2)
    cache.put_many("fp", whole)
    vec = vector_path(folder, "fp")
    with vec.open("r+b") as f:
        f.seek(vec.stat().st_size - 10)
        f.write(b"\x00\xff")
    last = list(whole)[1]
    try:
        cache.put_many("fp", {last: whole[last]})
        assert same(cache.get_many("fp", list(whole)), whole)
    finally:
        cache.close()


def test_keys_sharing_their_first_8_bytes_never_read_each_other(folder: Path) -> None:
    a, b = "ab" * 8 + "00" * 24, "ab" * 8 + "11" * 24  # equal first 8 bytes
    cache = FileEmbeddingCache(folder)
    try:
        cache.put_many("fp", {a: np.ones(DIM, dtype=np.float32)})
        assert cache.get_many("fp", [b]) == {}
        cache.put_many("fp", {b: np.zeros(DIM, dtype=np.float32)})
        assert np.array_equal(cache.get_many("fp", [b])[b], np.zeros(DIM))
    finally:
        cache.close()


def test_lookups_stay_right_across_merges_of_the_recent_keys(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_file, "_MERGE_AT", 16)
    cache = FileEmbeddingCache(folder)
    expected: dict[str, np.ndarray] = {}
    try:
        for batch in range(12):
            new = vectors(7, start=7 * batch, seed=batch)
            cache.put_many("fp", new)
            expected.update(new)
            assert same(cache.get_many("fp", [*expected, digest(10_000)]), expected)
        assert cache.count("fp") == 84
    finally:
        cache.close()


def test_a_file_with_a_damaged_header_is_set_aside_and_started_anew(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    cache.put_many("fp", vectors(3))
    cache.close()
    vec = vector_path(folder, "fp")
    with vec.open("r+b") as f:
        f.write(b"garbage!")
    cache = reopened(folder)
    try:
        assert cache.get_many("fp", list(vectors(3))) == {}
        fresh = vectors(2, start=50)
        cache.put_many("fp", fresh)
        assert same(cache.get_many("fp", list(fresh)), fresh)
    finally:
        cache.close()
    assert len(list(folder.glob("*.vec.damaged-*"))) == 1


def test_another_embedders_file_is_not_read_as_this_ones(folder: Path) -> None:
    FileEmbeddingCache(folder).close()
    folder.mkdir(exist_ok=True)
    VectorFile(folder, "real", DIM).close()
    vector_path(folder, "real").rename(vector_path(folder, "impostor"))
    with pytest.raises(StorageError, match="not a vector file of 'impostor'"):
        VectorFile(folder, "impostor")


def test_the_folder_and_files_are_private_whatever_the_umask(folder: Path) -> None:
    old = os.umask(0o022)
    try:
        cache = FileEmbeddingCache(folder)
        cache.put_many("fp", vectors(1))
        cache.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


def test_refused_writes_fail_like_the_databases_and_write_nothing(folder: Path) -> None:
    cache = FileEmbeddingCache(folder)
    try:
        cache.refuse_writes(True)
        with pytest.raises(StorageError, match="readonly"):
            cache.put_many("fp", vectors(1))
        assert not list(folder.iterdir())
        cache.refuse_writes(False)
        cache.put_many("fp", vectors(1))
        assert cache.count("fp") == 1
    finally:
        cache.close()


def test_a_failed_append_leaves_the_files_as_they_were(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FileEmbeddingCache(folder)
    try:
        kept = vectors(4)
        cache.put_many("fp", kept)
        vec = vector_path(folder, "fp")
        sizes = (vec.stat().st_size, vec.with_suffix(".keys").stat().st_size)

        def disk_full(_fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fdatasync", disk_full)  # the os module vector_file calls
        with pytest.raises(StorageError, match="No space left"):
            cache.put_many("fp", vectors(3, start=4))
        monkeypatch.undo()
        assert (vec.stat().st_size, vec.with_suffix(".keys").stat().st_size) == sizes
        assert same(cache.get_many("fp", [*kept, *vectors(3, start=4)]), kept)
        cache.put_many("fp", vectors(3, start=4))  # and the next put works
        assert cache.count("fp") == 7
    finally:
        cache.close()


def test_keys_a_power_loss_left_as_zeros_only_cost_misses_never_wrong_vectors(
    folder: Path,
) -> None:
    """The keys file is synced at close only (it can be rebuilt from the records); a power
    loss can leave zeros where the last keys were. Lookups through them miss, and the texts
    are encoded and put again."""
    whole = written(folder, 6)
    keys = vector_path(folder, "fp").with_suffix(".keys")
    with keys.open("r+b") as f:
        f.seek(4 * 32)
        f.write(b"\x00" * 64)  # the keys of records 4 and 5
    lost = list(whole)[4:]
    cache = reopened(folder)
    try:
        assert same(cache.get_many("fp", list(whole)), {k: whole[k] for k in list(whole)[:4]})
        assert cache.get_many("fp", ["00" * 32]) == {}, "a zero key names no one's vector"
        cache.put_many("fp", {k: whole[k] for k in lost})
        assert same(cache.get_many("fp", list(whole)), whole)
    finally:
        cache.close()
