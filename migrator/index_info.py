"""What the catalog and the live runtimes say about each index version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexes import IndexSpec

from .registry import IndexRegistry
from .store import Store


@dataclass(frozen=True)
class IndexInfo:
    name: str
    role: str
    spec: IndexSpec
    fingerprint: str
    dim: int
    count: int
    applied_seq: int
    lag_records: int
    lag_seconds: float
    search_params: dict[str, Any]
    stats: dict[str, Any]
    last_snapshot_seq: int | None
    encoded_since_start: int
    last_error: str | None
    recovery: dict[str, Any]


def index_infos(store: Store, registry: IndexRegistry) -> list[IndexInfo]:
    """Every index version in the catalog, with what its live runtime knows (if it is live)."""
    infos = []
    for entry in store.catalog.entries():
        runtime = registry.find(entry.name)
        behind, seconds = runtime.lag(store) if runtime else (0, 0.0)
        infos.append(
            IndexInfo(
                name=entry.name,
                role=entry.role,
                spec=entry.spec,
                fingerprint=entry.fingerprint,
                dim=entry.dim,
                count=len(runtime.index) if runtime else 0,
                applied_seq=runtime.index.applied_seq if runtime else 0,
                lag_records=behind,
                lag_seconds=seconds,
                search_params=(
                    runtime.index.search_params if runtime else entry.search_params
                ).to_dict(),
                stats=runtime.index.stats() if runtime else {},
                last_snapshot_seq=registry.last_snapshot_seq(entry.name),
                encoded_since_start=runtime.encoded_total if runtime else 0,
                last_error=runtime.last_error if runtime else None,
                recovery=registry.recovery.get(entry.name, {}),
            )
        )
    return infos
