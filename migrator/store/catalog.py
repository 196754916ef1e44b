"""The index catalog: every index version, its role and its search parameters."""

from __future__ import annotations

import json
import time
from typing import Any

from indexes import IndexSpec, SearchParams
from indexes.errors import ConflictError, NotFoundError

from .records import CatalogEntry, Role
from .tables import Tables


class CatalogTable:
    """The ``index_catalog`` table."""

    def __init__(self, conns: Tables) -> None:
        self._conns = conns

    def add(self, spec: IndexSpec, fingerprint: str, dim: int, role: Role) -> CatalogEntry:
        """Record a new index version; ConflictError if the name is taken."""
        entry = CatalogEntry(spec, fingerprint, dim, role, SearchParams(), time.time())
        with self._conns.atomic():
            if self._conns.one("index_catalog", "name = ?", [spec.name]) is not None:
                raise ConflictError(f"index {spec.name!r} already exists")
            self._conns.insert_row(
                "index_catalog",
                {
                    "name": spec.name,
                    "spec": json.dumps(spec.to_dict(), sort_keys=True),
                    "fingerprint": fingerprint,
                    "dim": dim,
                    "role": role,
                    "search_params": json.dumps(entry.search_params.to_dict()),
                    "created_at": entry.created_at,
                },
            )
        return entry

    def entries(self) -> list[CatalogEntry]:
        """Every index version, oldest first."""
        return [_entry(r) for r in self._conns.rows("index_catalog", order_by="created_at")]

    def set_search_params(self, name: str, params: SearchParams) -> None:
        self._update(name, {"search_params": json.dumps(params.to_dict())})

    def set_role(self, name: str, role: Role) -> None:
        self._update(name, {"role": role})

    def _update(self, name: str, values: dict[str, Any]) -> None:
        if not self._conns.update_row("index_catalog", name, values):
            raise NotFoundError(f"index {name!r} does not exist")


def _entry(row: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        spec=IndexSpec.from_dict(json.loads(row["spec"])),
        fingerprint=row["fingerprint"],
        dim=int(row["dim"]),
        role=row["role"],
        search_params=SearchParams.from_dict(json.loads(row["search_params"])),
        created_at=float(row["created_at"]),
    )
