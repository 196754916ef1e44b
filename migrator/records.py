"""What a write acknowledges to the adapters (the store's records are in ``store.records``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriteResult:
    """What a write acknowledges: how many documents and the last committed sequence."""

    written: int
    seq: int
