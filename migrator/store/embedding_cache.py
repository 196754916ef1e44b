"""The embedding cache: vectors by (embedder fingerprint, content hash), never re-encoded.

Implements ``indexes.EmbeddingCache`` for the SQLite store, outside the SQLite file: a folder
beside the database (``switchover.db-vectors``, like its ``-wal``) holds one append-only
:class:`~migrator.store.vector_file.VectorFile` per embedder, opened on its first use.

The write path puts the vectors of a write inside the log record's transaction: the put is on
disk before the transaction commits, so an acknowledged write's vectors are cached; a write
whose transaction rolls back may leave vectors behind, which are still the true vectors of
their texts (the cache is content-addressed) and cost only their bytes. Losing the folder
loses no data: texts are encoded again. Writes keep the first vector stored for a key.
"""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from indexes.errors import StorageError

from .vector_file import VectorFile, set_aside, vector_path

log = logging.getLogger(__name__)


def cache_folder(db_path: Path) -> Path:
    """Where the cached vectors of the database at ``db_path`` live."""
    return db_path.with_name(db_path.name + "-vectors")


class FileEmbeddingCache:
    """Vector files per embedder, seen through the ``indexes.EmbeddingCache`` protocol."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, exist_ok=True)
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:  # as the database's files: private
            folder.chmod(0o700)
        self._files: dict[str, VectorFile] = {}
        self._lock = threading.Lock()
        self._refused = False

    def _file(self, fingerprint: str, dim: int | None) -> VectorFile | None:
        """The embedder's file (created for a put: ``dim`` given); None if it has none."""
        with self._lock:
            found = self._files.get(fingerprint)
            if found is not None:
                return found
            try:
                found = VectorFile(self.folder, fingerprint, dim)
            except FileNotFoundError:
                return None
            except StorageError as exc:  # a damaged header: the cache starts that file anew
                aside = set_aside(vector_path(self.folder, fingerprint))
                log.warning("%s; set aside as %s, its vectors will be encoded again", exc, aside)
                if dim is None:
                    return None
                found = VectorFile(self.folder, fingerprint, dim)
            except OSError as exc:
                raise StorageError(f"cannot open the embedding cache: {exc}") from exc
            self._files[fingerprint] = found
            return found

    def get_many(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        file = self._file(fingerprint, None)
        if file is None:
            return {}
        try:
            return file.get_many(list(dict.fromkeys(hashes)))
        except OSError as exc:
            raise StorageError(f"cannot read the embedding cache: {exc}") from exc

    def put_many(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        if self._refused:
            raise StorageError("attempt to write a readonly database (writes are refused)")
        file = self._file(fingerprint, int(np.size(next(iter(vectors.values())))))
        if file is None:  # cannot happen: given a dimension, a missing file is created
            raise StorageError(f"no vector file for {fingerprint!r}")
        file.put_many(vectors)

    def count(self, fingerprint: str) -> int:
        """How many vectors of this embedder are cached."""
        file = self._file(fingerprint, None)
        return 0 if file is None else file.count()

    def refuse_writes(self, on: bool = True) -> None:
        """While ``on``, every put fails as the database's writes do."""
        self._refused = on

    def close(self) -> None:
        with self._lock:
            for file in self._files.values():
                file.close()
            self._files.clear()
