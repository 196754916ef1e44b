"""Settings: built explicitly from a home folder, never at import time.

The home folder holds ``switchover.db``, ``indexes/<name>/snapshots`` and an
optional ``switchover.toml``::

    [server]
    host = "127.0.0.1"
    port = 8000
    target_timeout_seconds = 2.0    # a request's wait for the target before going on without it
    db_busy_timeout_seconds = 10.0  # a write's wait for a database lock before a 503

    [limits]
    max_batch = 256
    max_text_chars = 32768

    [default_index]        # the first index created in a new home
    name = "v1"
    factory = "Flat"
    metric = "ip"
    [default_index.embedder]
    model = "packaged:all-MiniLM-L6-v2"

    [snapshots]              # periodic snapshots; the write log stays the source of truth
    every_records = 5000     # due after max(every_records, growth_fraction x documents)
    growth_fraction = 0.25   #   records since the last one (amortised-linear bulk loads)
    interval_seconds = 60    # ... or after this long with any change
    gap_factor = 4           # never sooner than gap_factor x the last one's duration

    [operators]            # name = token; SWITCHOVER_OPERATOR_TOKEN adds one named "env"
    alice = "..."
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from indexes import EmbedderSpec, IndexSpec
from indexes.errors import InvalidInputError

TOKEN_ENV = "SWITCHOVER_OPERATOR_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_FILE = "operator-token"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask; anything beyond gets a 4xx."""

    max_batch: int = 256
    max_id_chars: int = 256
    max_text_chars: int = 32_768
    max_metadata_bytes: int = 16_384
    # objects and arrays a document's metadata may nest, the metadata object itself counting
    # as one: what is written must read back (JSON encoders refuse very deep values); over
    # HTTP a whole body nests at most 64 levels (api/body_limit.py), so at most about 60
    max_metadata_depth: int = 32
    max_query_chars: int = 4_096
    max_k: int = 100
    max_body_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    home: Path
    host: str = "127.0.0.1"
    port: int = 8000
    default_index: IndexSpec = field(default_factory=lambda: IndexSpec(name="v1"))
    limits: Limits = field(default_factory=Limits)
    # Periodic snapshots (and backfill checkpoints) write the whole index, so their
    # cadence grows with it: one is due after max(snapshot_every_records,
    # snapshot_growth_fraction x the index's documents) log records since the last, or
    # after snapshot_interval_seconds with any change; and never sooner than
    # snapshot_gap_factor x the time the last one took after it ended (a backfill
    # checkpoint: after max(5 s, that)). A bulk load of N documents then writes O(N) in
    # snapshots, not O(N^2), and snapshots take at most ~1/(gap_factor + 1) of the time.
    # Longer gaps only mean more log to replay (or copies to redo) after a crash; the
    # write log holds every acknowledged write either way.
    snapshot_every_records: int = 5_000
    snapshot_interval_seconds: float = 60.0
    snapshot_growth_fraction: float = 0.25
    snapshot_gap_factor: float = 4.0
    target_timeout_s: float = 2.0  # how long a request waits for the side that may lag
    db_busy_timeout_s: float = 10.0  # how long a write waits for a database lock
    operator_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.home / "switchover.db"

    def snapshot_dir(self, index_name: str) -> Path:
        return self.home / "indexes" / index_name / "snapshots"


def load_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for ``home``: defaults, then ``switchover.toml``, then ``overrides``."""
    home = home.expanduser().resolve()
    values: dict[str, Any] = {}
    config_file = home / "switchover.toml"
    if config_file.exists():
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{config_file}: {exc}") from exc
        values = _from_toml(raw, config_file)
    tokens = dict(values.pop("operator_tokens", {}))
    if os.environ.get(TOKEN_ENV):
        tokens["env"] = os.environ[TOKEN_ENV]
    token_file = home / TOKEN_FILE
    if token_file.exists():
        tokens.setdefault("local", token_file.read_text(encoding="utf-8").strip())
    settings = Settings(home=home, operator_tokens=tokens, **values)
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _from_toml(raw: dict[str, Any], source: Path) -> dict[str, Any]:
    known = {"server", "limits", "default_index", "snapshots", "operators"}
    unknown = set(raw) - known
    if unknown:
        raise InvalidInputError(f"{source}: unknown section(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    server = raw.get("server", {})
    for key in ("host", "port"):
        if key in server:
            values[key] = server[key]
    for key, name in (
        ("target_timeout_seconds", "target_timeout_s"),
        ("db_busy_timeout_seconds", "db_busy_timeout_s"),
    ):
        if key in server:
            values[name] = float(server[key])
    if "limits" in raw:
        names = {f.name for f in fields(Limits)}
        bad = set(raw["limits"]) - names
        if bad:
            raise InvalidInputError(f"{source}: unknown limit(s) {sorted(bad)}")
        values["limits"] = Limits(**raw["limits"])
    if "default_index" in raw:
        spec = dict(raw["default_index"])
        spec.setdefault("name", "v1")
        spec["embedder"] = EmbedderSpec.from_dict(spec.get("embedder", {})).to_dict()
        values["default_index"] = IndexSpec.from_dict(spec)
    snaps = raw.get("snapshots", {})
    for key, cast in (
        ("every_records", int),
        ("interval_seconds", float),
        ("growth_fraction", float),
        ("gap_factor", float),
    ):
        if key in snaps:
            values[f"snapshot_{key}"] = cast(snaps[key])
    if "operators" in raw:
        values["operator_tokens"] = {str(k): str(v) for k, v in raw["operators"].items()}
    return values
