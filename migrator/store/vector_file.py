"""One embedder's cached vectors: an append-only record file, its keys file, a map in memory.

The embedding cache is content-addressed (the vector of a text under one embedder never
changes), so it needs no updates, no deletes and no transactions: only appends that are on
disk before the write that made them is acknowledged. Kept as rows of the SQLite file, every
1.5 KB vector went to the WAL and again to the database, and its random (fingerprint, hash)
key dirtied an index page of its own per row; appended to a file of its own, a batch of
vectors is one ``pwrite`` and one ``fdatasync``.

Two files per embedder, named by the sha256 of its fingerprint:

* ``NAME.vec``: a header (magic, dimension, the fingerprint) then fixed-size records: the
  32-byte key, ``dim`` little-endian float32, and the crc32 of both.
* ``NAME.keys``: the records' keys, 32 bytes each, in record order: start-up reads 32 bytes a
  vector, not the vectors.

A key is the content hash as bytes (the sha256 hex the write path uses), or the sha256 of any
other key string. In memory: the first 8 bytes of each key, sorted, with the record each
names, and a dict of the keys appended since the last sort; a hit is confirmed against the
record's own key and crc when it is read, so an 8-byte collision or a damaged record reads as
a miss (and a damaged record is forgotten, so the next put appends a good one).

Writes hold this object's lock (threads) and an ``flock`` on the keys file (processes), write
the records and then their keys at the position the record file's size gives, and
``fdatasync`` the records before returning (the keys file only at close: it can be rebuilt
from the records, and a second sync per batch cost up to 4 ms here). A failed write truncates
both files back. A crash can leave a torn tail: opening truncates the records to whole ones,
drops keys past them, and rebuilds keys the keys file lacks from the records themselves. A
power loss may also leave keys the disk never got (zeros) inside the keys file: each names a
record that is not its own, so lookups through it miss (every hit is checked against the
record's own key) and those texts are encoded again; no lookup ever returns a wrong vector.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from indexes.durable import fsync_dir
from indexes.errors import StorageError

log = logging.getLogger(__name__)

MAGIC = b"SWVECS01"
KEY_BYTES = 32
_HEAD = struct.Struct("<8sII")  # magic, dim, fingerprint length
_MERGE_AT = 65_536  # keys appended since the last sort, before they are merged into it


def file_stem(fingerprint: str) -> str:
    """The files' name for an embedder: its fingerprint may hold any character."""
    return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:32]


def vector_path(folder: Path, fingerprint: str) -> Path:
    """The record file of an embedder's vectors in ``folder``."""
    return folder / f"{file_stem(fingerprint)}.vec"


def key_bytes(key: str) -> bytes:
    """The 32-byte key of a cache key: a sha256 hex as its bytes, anything else hashed."""
    if len(key) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(key)
    return hashlib.sha256(key.encode("utf-8")).digest()


def keys_bytes(keys: Sequence[str]) -> bytes:
    """:func:`key_bytes` of each key, joined; content hashes (all 64 hex) in one call."""
    if all(len(k) == 2 * KEY_BYTES for k in keys):
        with contextlib.suppress(ValueError):
            return bytes.fromhex("".join(keys))
    return b"".join(key_bytes(k) for k in keys)


def _prefixes(keys: bytes) -> np.ndarray:
    """The first 8 bytes of each 32-byte key, as uint64."""
    rows = np.frombuffer(keys, dtype=np.uint8).reshape(-1, KEY_BYTES)
    return np.ascontiguousarray(rows[:, :8]).view("<u8").ravel()


class _KeyMap:
    """Key prefix -> record number: a sorted array, and a dict of what came since."""

    def __init__(self, prefixes: np.ndarray) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)
        self._records = np.empty(0, dtype=np.int64)
        self._tail: dict[int, int] = {}
        self._merge(prefixes, np.arange(len(prefixes), dtype=np.int64))
        self.count = int(np.count_nonzero(self._records >= 0))

    def _merge(self, prefixes: np.ndarray, records: np.ndarray) -> None:
        """Fold ``prefixes`` (later ones win) into the sorted arrays."""
        keys = np.concatenate([self._sorted, prefixes.astype(np.uint64, copy=False)])
        where = np.concatenate([self._records, records])
        order = np.argsort(keys, kind="stable")  # equal keys keep their order: newest last
        keys, where = keys[order], where[order]
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[1:] != keys[:-1]
        self._sorted, self._records = keys[last], where[last]

    def find(self, prefixes: np.ndarray) -> np.ndarray:
        """The record of each prefix, -1 where there is none."""
        found = np.full(len(prefixes), -1, dtype=np.int64)
        if len(self._sorted):
            at = np.searchsorted(self._sorted, prefixes).clip(max=len(self._sorted) - 1)
            hit = self._sorted[at] == prefixes
            found[hit] = self._records[at[hit]]
        if self._tail:
            for i, prefix in enumerate(prefixes.tolist()):
                record = self._tail.get(prefix)
                if record is not None:
                    found[i] = record
        return found

    def set(self, prefix: int, record: int, *, was: int) -> None:
        """Point ``prefix`` at ``record`` (-1: forget it); ``was`` is what it pointed at."""
        self.set_many([prefix], [record], np.array([was]))

    def set_many(self, prefixes: list[int], records: list[int], was: np.ndarray) -> None:
        """:meth:`set` for each (prefix, record, was) of the three."""
        self._tail.update(zip(prefixes, records, strict=True))
        self.count += sum(1 for r in records if r >= 0) - int(np.count_nonzero(was >= 0))
        if len(self._tail) >= max(_MERGE_AT, len(self._sorted) // 8):
            tail = np.fromiter(self._tail.keys(), dtype=np.uint64, count=len(self._tail))
            where = np.fromiter(self._tail.values(), dtype=np.int64, count=len(self._tail))
            self._tail = {}
            self._merge(tail, where)


class VectorFile:
    """The cached vectors of one embedder (see the module's docstring)."""

    def __init__(self, folder: Path, fingerprint: str, dim: int | None = None) -> None:
        """Open the embedder's files in ``folder``; create them when ``dim`` is given.

        FileNotFoundError if they do not exist and ``dim`` is None.
        """
        self.fingerprint = fingerprint
        self._lock = threading.Lock()
        self._vec_path = vector_path(folder, fingerprint)
        self._keys_path = self._vec_path.with_suffix(".keys")
        if dim is not None and not self._vec_path.exists():
            self._create(dim)
        self._vec = os.open(self._vec_path, os.O_RDWR)
        try:
            self.dim, self._start = self._read_header()
            self._keys = os.open(self._keys_path, os.O_RDWR | os.O_CREAT, 0o600)
        except BaseException:
            os.close(self._vec)
            raise
        self._record = KEY_BYTES + 4 * self.dim + 4
        self._dtype = np.dtype(
            [("key", "V32"), ("vector", "<f4", (self.dim,)), ("crc", "<u4")], align=False
        )
        with self._exclusive():
            records = self._recover()
            self._map = _KeyMap(_prefixes(os.pread(self._keys, records * KEY_BYTES, 0)))

    # -- files ----------------------------------------------------------------------------

    def _create(self, dim: int) -> None:
        """The header, written to a temporary name and renamed: a crash leaves none or all."""
        name = self.fingerprint.encode("utf-8")
        tmp = self._vec_path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _HEAD.pack(MAGIC, dim, len(name)) + name)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._vec_path)
        fsync_dir(self._vec_path.parent)

    def _read_header(self) -> tuple[int, int]:
        """(dim, where the records start); StorageError for a file that is not one of ours."""
        head = os.pread(self._vec, _HEAD.size, 0)
        magic, dim, length = _HEAD.unpack(head) if len(head) == _HEAD.size else (b"", 0, 0)
        name = os.pread(self._vec, length, _HEAD.size)
        if magic != MAGIC or dim <= 0 or name != self.fingerprint.encode("utf-8"):
            raise StorageError(f"{self._vec_path} is not a vector file of {self.fingerprint!r}")
        return dim, _HEAD.size + length

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This object's lock and an ``flock`` on the keys file: one writer at a time."""
        with self._lock:
            fcntl.flock(self._keys, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._keys, fcntl.LOCK_UN)

    def _records_on_disk(self) -> int:
        return (os.fstat(self._vec).st_size - self._start) // self._record

    def _recover(self) -> int:
        """Make both files hold the same whole records (after a crash); how many they hold."""
        records = self._records_on_disk()
        if os.fstat(self._vec).st_size != self._start + records * self._record:
            os.ftruncate(self._vec, self._start + records * self._record)  # a torn record
        keys = os.fstat(self._keys).st_size // KEY_BYTES
        if keys > records:  # keys of records that never reached the disk
            os.ftruncate(self._keys, records * KEY_BYTES)
        elif keys < records or os.fstat(self._keys).st_size != keys * KEY_BYTES:
            os.ftruncate(self._keys, keys * KEY_BYTES)
            missing = self._read_records(np.arange(keys, records, dtype=np.int64))
            os.pwrite(self._keys, missing["key"].tobytes(), keys * KEY_BYTES)
            os.fdatasync(self._keys)
            log.warning(
                "rebuilt %d keys of %s from its records", records - keys, self._keys_path.name
            )
        return records

    def _read_records(self, records: np.ndarray) -> np.ndarray:
        """The records numbered ``records`` (ascending), one ``pread`` per consecutive run."""
        out = np.empty(len(records), dtype=self._dtype)
        if not len(records):
            return out
        breaks = np.flatnonzero(np.diff(records) != 1) + 1
        for lo, hi in zip(
            np.concatenate([[0], breaks]).tolist(),
            np.concatenate([breaks, [len(records)]]).tolist(),
            strict=True,
        ):
            first, n = int(records[lo]), hi - lo
            raw = os.pread(self._vec, n * self._record, self._start + first * self._record)
            got = len(raw) // self._record
            out[lo : lo + got] = np.frombuffer(raw, dtype=self._dtype, count=got)
            if got < n:  # past the end (another process truncated): an invalid record
                out[lo + got : hi] = np.zeros(n - got, dtype=self._dtype)
                out["crc"][lo + got : hi] = 1
        return out

    # -- the cache ------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of ``keys`` found whole (missing or damaged ones are absent)."""
        if not keys:
            return {}
        raw = keys_bytes(keys)
        with self._lock:
            where = self._map.find(_prefixes(raw))
            hit = np.flatnonzero(where >= 0)
            if not len(hit):
                return {}
            order = hit[np.argsort(where[hit], kind="stable")]
            records = self._read_records(where[order])
            found: dict[str, np.ndarray] = {}
            for i, record in zip(order.tolist(), records, strict=True):
                body = record.tobytes()
                if body[:KEY_BYTES] != raw[i * KEY_BYTES : (i + 1) * KEY_BYTES]:
                    continue  # another key with the same first 8 bytes: a miss
                if zlib.crc32(body[:-4]) != int(record["crc"]):
                    self._forget(raw[i * KEY_BYTES : (i + 1) * KEY_BYTES], int(where[i]))
                    continue
                found[keys[i]] = record["vector"].copy()
            return found

    def _forget(self, key: bytes, record: int) -> None:
        log.warning("damaged cached vector (record %d of %s)", record, self._vec_path.name)
        self._map.set(int(_prefixes(key)[0]), -1, was=record)

    def put_many(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Append the vectors of keys not held yet, on disk before this returns.

        ValueError for a vector that is not of this file's dimension (nothing written).
        """
        if not vectors:
            return
        names = list(vectors)
        raw = keys_bytes(names)
        rows = np.empty(len(names), dtype=self._dtype)
        shapes = {np.shape(v) for v in vectors.values()}
        if shapes != {(self.dim,)}:
            wrong = next(iter(shapes - {(self.dim,)}))
            raise ValueError(f"a vector of shape {wrong} for an embedder of dimension {self.dim}")
        rows["vector"] = np.stack(list(vectors.values()))
        rows["key"] = np.frombuffer(raw, dtype="V32")
        with self._exclusive():
            where = self._map.find(_prefixes(raw))
            held = np.flatnonzero(where >= 0)
            # keep the first vector stored for a key, if it reads back whole
            kept = held[self._whole(raw, where, held)]
            new = np.setdiff1d(np.arange(len(names)), kept)
            if len(new):
                self._append(rows[new], where[new])

    def _whole(self, raw: bytes, where: np.ndarray, held: np.ndarray) -> np.ndarray:
        """Which of the ``held`` keys (positions in ``raw``) have a whole record of their own."""
        order = np.argsort(where[held], kind="stable")
        whole = np.zeros(len(held), dtype=bool)
        for j, record in zip(order.tolist(), self._read_records(where[held][order]), strict=True):
            body, i = record.tobytes(), int(held[j])
            own = body[:KEY_BYTES] == raw[i * KEY_BYTES : (i + 1) * KEY_BYTES]
            whole[j] = own and zlib.crc32(body[:-4]) == int(record["crc"])
        return whole

    def _append(self, rows: np.ndarray, was: np.ndarray) -> None:
        body = rows.tobytes()
        for i in range(len(rows)):  # the crc of each record's key and vector
            at = i * self._record
            rows["crc"][i] = zlib.crc32(body[at : at + self._record - 4])
        first = self._records_on_disk()
        try:
            os.pwrite(self._vec, rows.tobytes(), self._start + first * self._record)
            os.pwrite(self._keys, rows["key"].tobytes(), first * KEY_BYTES)
            os.fdatasync(self._vec)  # the keys can be rebuilt from the records: no sync here
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._vec, self._start + first * self._record)
                os.ftruncate(self._keys, first * KEY_BYTES)
            raise StorageError(f"cannot write the embedding cache: {exc}") from exc
        prefixes = _prefixes(rows["key"].tobytes()).tolist()
        self._map.set_many(prefixes, list(range(first, first + len(rows))), was)

    def count(self) -> int:
        """How many keys have a vector here."""
        with self._lock:
            return self._map.count

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(OSError):
                os.fdatasync(self._keys)
            for fd in (self._vec, self._keys):
                with contextlib.suppress(OSError):
                    os.close(fd)


def set_aside(path: Path) -> Path:
    """Move a damaged file out of the way (kept for inspection); its new name."""
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    os.replace(path, aside)
    return aside
