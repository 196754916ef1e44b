"""Runtime configuration versions: every change and every revert is a new, whole version."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from indexes.errors import NotFoundError

from .records import ConfigVersion
from .tables import Tables


class ConfigVersionTable:
    """The ``config_versions`` table."""

    def __init__(self, conns: Tables) -> None:
        self._conns = conns

    def add(self, config: Mapping[str, Any], actor: str, reason: str) -> int:
        """Record ``config`` as the newest version; returns its number."""
        row = {
            "at": time.time(),
            "actor": actor,
            "reason": reason,
            "config": json.dumps(config, sort_keys=True),
        }
        return self._conns.insert_row("config_versions", row)

    def history(self, limit: int = 100) -> list[ConfigVersion]:
        """The newest ``limit`` versions, newest first."""
        rows = self._conns.rows("config_versions", order_by="version DESC", limit=limit)
        return [_version(r) for r in rows]

    def get(self, version: int) -> ConfigVersion:
        row = self._conns.one("config_versions", "version = ?", [version])
        if row is None:
            raise NotFoundError(f"config version {version} does not exist")
        return _version(row)


def _version(row: Mapping[str, Any]) -> ConfigVersion:
    return ConfigVersion(**{**row, "config": json.loads(row["config"])})
