"""The one exception tree of switchover.

Every error switchover raises on purpose derives from :class:`SwitchoverError`.
Adapters convert them at the edge: the API maps each class to one HTTP status
(``api/errors.py``), the CLI prints one clean line.

    SwitchoverError
    ├── InvalidInputError        bad request content (4xx, changes nothing)
    ├── NotFoundError            unknown document, index, migration ...
    ├── ConflictError            the request is valid but not now (wrong phase, exists)
    │   └── EmbedderMismatchError  a query embedded by another model hit an index
    ├── AuthError                missing or wrong operator token
    ├── EmbedderError            an embedder failed to load or encode
    ├── SnapshotError            a snapshot is missing, corrupt or cannot be written
    └── StorageError             the database refused a write (busy, full)
"""

from __future__ import annotations


class SwitchoverError(Exception):
    """Root of every deliberate switchover error."""


class InvalidInputError(SwitchoverError):
    """The request is malformed or out of bounds; nothing was changed."""


class NotFoundError(SwitchoverError):
    """The named document, index, migration or eval set does not exist."""


class ConflictError(SwitchoverError):
    """The request is well formed but conflicts with the current state."""


class EmbedderMismatchError(ConflictError):
    """Query vectors come from an embedder whose fingerprint is not the index's."""


class AuthError(SwitchoverError):
    """An operator route was called without a valid token."""


class EmbedderError(SwitchoverError):
    """An embedder could not be loaded or failed to encode."""


class SnapshotError(SwitchoverError):
    """A snapshot is missing, corrupt, or could not be written."""


class StorageError(SwitchoverError):
    """The store could not commit (database locked, disk full)."""


class StorageBusyError(StorageError):
    """Transient: the write waited its whole budget for a lock, or too many are in flight.

    Nothing is wrong with the home; the same write succeeds once the lock is free.
    """
