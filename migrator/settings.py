"""Settings: built explicitly from a home folder, never at import time.

The home folder holds ``switchover.db``, ``indexes/<name>/snapshots`` and an
optional ``switchover.toml``. Every key is checked at start-up: an unknown section or
key, a wrong type (strictly: a bool is not an integer, a string is not a number; a
number key takes an integer or a float) or a value outside the range noted below is an
error naming the file, the section and the key::

    [server]
    host = "127.0.0.1"              # a non-empty string
    port = 8000                     # an integer from 1 to 65535
    target_timeout_seconds = 2.0    # (0, 600]: a request's wait for the target
    db_busy_timeout_seconds = 10.0  # [0, 600]: a write's wait for a database lock (then 503)
    database = "postgresql://user:password@host:5432/dbname"  # the store on PostgreSQL
    pgvector = "postgresql://..."   # where pgvector index versions live (default: database)
                                    # SWITCHOVER_PGVECTOR_URL overrides it
                                    # (default: SQLite, HOME/switchover.db);
                                    # SWITCHOVER_DATABASE_URL and --database override it
    eval_data_roots = ["data"]      # folders eval sets may be read from (relative: to the home)

    [limits]               # every limit (see Limits): an integer >= 1
    max_batch = 256
    max_text_chars = 32768
    max_pending_writes = 32         # writes in flight; past it a write gets a 503 at once

    [default_index]        # the first index created in a new home (checked as IndexSpec is)
    name = "v1"
    factory = "Flat"
    metric = "ip"
    [default_index.embedder]
    model = "packaged:all-MiniLM-L6-v2"

    [snapshots]              # periodic snapshots; the write log stays the source of truth
    every_records = 5000     # >= 1: due after max(every_records, growth_fraction x documents)
    growth_fraction = 0.25   # >= 0: records since the last one (amortised-linear bulk loads)
    interval_seconds = 60    # > 0: ... or after this long with any change
    gap_factor = 4           # >= 0: never sooner than gap_factor x the last one's duration
    max_tail_records = 50000 # >= 1: but always after this many (bounds a restart's replay)

    [operators]            # name = "token" (non-empty); SWITCHOVER_OPERATOR_TOKEN adds "env"
    alice = "..."
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, cast, get_type_hints
from urllib.parse import parse_qs, urlsplit

from indexes import EmbedderSpec, IndexSpec
from indexes.errors import InvalidInputError

TOKEN_ENV = "SWITCHOVER_OPERATOR_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_FILE = "operator-token"  # noqa: S105 - a file name, not a secret
DATABASE_ENV = "SWITCHOVER_DATABASE_URL"
PGVECTOR_ENV = "SWITCHOVER_PGVECTOR_URL"
DATABASE_SCHEMES = ("postgresql://", "postgres://")

Labeller = Callable[[str], str]


@dataclass(frozen=True)
class Range:
    """A setting's documented type and range: checked strictly, described in errors.

    ``int``: an integer, never a bool or a float. ``float``: a finite integer or float,
    never a bool or a string (returned as a float). ``str``: a non-empty string. Bounds
    are inclusive, except ``low`` when ``low_open``.
    """

    kind: type[int] | type[float] | type[str]
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def check(self, value: object, name: str) -> Any:
        """``value`` as the setting's type; InvalidInputError naming ``name`` otherwise."""
        if not self._fits(value):
            raise InvalidInputError(f"{name} must be {self}, got {value!r}")
        return float(cast(float, value)) if self.kind is float else value

    def _fits(self, value: object) -> bool:
        if self.kind is str:
            return isinstance(value, str) and bool(value)
        if isinstance(value, bool) or not isinstance(value, self.kind | int):
            return False  # a bool is an int to Python, never to a config file
        number = float(cast(float, value))
        if not math.isfinite(number):
            return False
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return self.high is None or number <= self.high

    def __str__(self) -> str:
        if self.kind is str:
            return "a non-empty string"
        what = "an integer" if self.kind is int else "a number"
        low, high = _plain(self.low), _plain(self.high)
        if self.low is not None and self.high is not None and not self.low_open:
            return f"{what} from {low} to {high}"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {low}")
        if self.high is not None:
            bounds.append(f"<= {high}")
        return " ".join([what, " and ".join(bounds)]).strip()


def _plain(bound: float | None) -> str:
    if bound is None:
        return ""
    return str(int(bound)) if float(bound).is_integer() else str(bound)


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
    # a search's metadata filter (indexes/filters.py): and/or/not nesting, conditions, values
    max_filter_depth: int = 8
    max_filter_nodes: int = 64
    max_filter_values: int = 1024
    # queries one POST /v1/search/batch may carry
    max_search_batch: int = 64
    max_body_bytes: int = 16 * 1024 * 1024
    # writes in flight at once (embedding or waiting for a lock); the next gets a 503 at once
    max_pending_writes: int = 32


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
    # write log holds every acknowledged write either way. snapshot_max_tail_records caps
    # that replay: a snapshot is due once that many records arrived, whatever the other
    # rules say, so a restart replays at most about that many (benchmarks/results/
    # scale_restart.md: 50,000 from the embedding cache take a few seconds).
    snapshot_every_records: int = 5_000
    snapshot_interval_seconds: float = 60.0
    snapshot_growth_fraction: float = 0.25
    snapshot_gap_factor: float = 4.0
    snapshot_max_tail_records: int = 50_000
    target_timeout_s: float = 2.0  # how long a request waits for the side that may lag
    db_busy_timeout_s: float = 10.0  # how long a write waits for a database lock
    # None: the embedded SQLite store in the home; a postgresql:// URL: the store there
    # (snapshots of in-process indexes stay in the home either way).
    database_url: str | None = None
    # Where pgvector index versions live (``[server] pgvector``, SWITCHOVER_PGVECTOR_URL);
    # None: the store's PostgreSQL when it has one. Only versions with backend "pgvector".
    pgvector_url: str | None = None
    operator_tokens: dict[str, str] = field(default_factory=dict)
    # The folders an eval set's path must lie in once symlinks are resolved (each of its
    # files too); None: HOME/data. From ``[server] eval_data_roots``, relative to the home.
    eval_data_roots: tuple[Path, ...] | None = None

    @property
    def eval_roots(self) -> tuple[Path, ...]:
        """The eval data roots in effect, resolved (symlinks followed)."""
        roots = (self.home / "data",) if self.eval_data_roots is None else self.eval_data_roots
        return tuple((self.home / Path(r).expanduser()).resolve() for r in roots)

    @property
    def pgvector_dsn(self) -> str | None:
        """The PostgreSQL that holds pgvector versions, or None when none is configured."""
        return self.pgvector_url or self.database_url

    @property
    def db_path(self) -> Path:
        return self.home / "switchover.db"

    def snapshot_dir(self, index_name: str) -> Path:
        return self.home / "indexes" / index_name / "snapshots"


# The documented range of every key of switchover.toml. [limits]: see limit_ranges().
SECTIONS = ("server", "limits", "default_index", "snapshots", "operators")
SCALAR_KEYS: dict[str, dict[str, tuple[str, Range]]] = {  # section -> key -> (field, range)
    "server": {
        "host": ("host", Range(str)),
        "port": ("port", Range(int, 1, 65535)),
        "target_timeout_seconds": ("target_timeout_s", Range(float, 0, 600, low_open=True)),
        "db_busy_timeout_seconds": ("db_busy_timeout_s", Range(float, 0, 600)),
        "database": ("database_url", Range(str)),
        "pgvector": ("pgvector_url", Range(str)),
    },
    "snapshots": {
        "every_records": ("snapshot_every_records", Range(int, 1)),
        "interval_seconds": ("snapshot_interval_seconds", Range(float, 0, low_open=True)),
        "growth_fraction": ("snapshot_growth_fraction", Range(float, 0)),
        "gap_factor": ("snapshot_gap_factor", Range(float, 0)),
        "max_tail_records": ("snapshot_max_tail_records", Range(int, 1)),
    },
}


def limit_ranges() -> dict[str, Range]:
    """Each field of :class:`Limits` with its range: ``metadata["range"]`` if it has one,
    else an integer >= 1 (a number > 0 for a float field): a zero or negative bound would
    refuse every request. Generic, so a limit added later is checked too."""
    hints = get_type_hints(Limits)
    ranges = {}
    for f in fields(Limits):
        default = Range(float, 0, low_open=True) if hints[f.name] is float else Range(int, 1)
        ranges[f.name] = f.metadata.get("range", default)
    return ranges


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
    if os.environ.get(DATABASE_ENV):
        values["database_url"] = os.environ[DATABASE_ENV]
    if os.environ.get(PGVECTOR_ENV):
        values["pgvector_url"] = os.environ[PGVECTOR_ENV]
    settings = Settings(home=home, operator_tokens=tokens, **values)
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    if settings.database_url is not None:
        check_database_url(settings.database_url)
    if settings.pgvector_url is not None:
        check_database_url(settings.pgvector_url)
    return settings


def check_database_url(url: str) -> str:
    """A PostgreSQL URL (``postgresql://...``); InvalidInputError naming where keys come from."""
    if not url.startswith(DATABASE_SCHEMES):
        raise InvalidInputError(
            f"the database URL must start with {' or '.join(DATABASE_SCHEMES)}"
            f" (from --database, {DATABASE_ENV} or [server] database);"
            f" got a URL starting {url.partition(':')[0][:20]!r}"
        )
    return url


def describe_database(url: str) -> str:
    """``host:port/dbname`` of a PostgreSQL URL, for messages: never its user or password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    try:
        port = parts.port or int(query.get("port", ["5432"])[0])
    except ValueError:
        port = None
    dbname = parts.path.lstrip("/") or query.get("dbname", [""])[0] or "?"
    return f"{host}:{port or '?'}/{dbname}"


def _from_toml(raw: dict[str, Any], source: Path) -> dict[str, Any]:
    """Every key known, strictly typed and in its range; errors name file, section and key."""
    _check_known(raw, SECTIONS, f"{source}: ", "section", "[{}]".format)
    tables = {name: _table(raw, name, source) for name in raw}
    values: dict[str, Any] = {}
    for section, given in tables.items():
        table = dict(given)
        if section == "server" and "eval_data_roots" in table:  # a list, checked on its own
            values["eval_data_roots"] = _eval_data_roots(table.pop("eval_data_roots"), source)
        if section in SCALAR_KEYS:
            keys = SCALAR_KEYS[section]
            _check_known(table, keys, f"{source}: [{section}] ", "key", repr)
            for key, value in table.items():
                name, rule = keys[key]
                values[name] = rule.check(value, f"{source}: [{section}] {key}")
    if "limits" in tables:
        rules = limit_ranges()
        limits = tables["limits"]
        _check_known(limits, rules, f"{source}: [limits] ", "key", repr)
        values["limits"] = Limits(
            **{k: rules[k].check(v, f"{source}: [limits] {k}") for k, v in limits.items()}
        )
    if "default_index" in tables:
        values["default_index"] = _default_index(tables["default_index"], source)
    if "operators" in tables:
        token = Range(str)
        values["operator_tokens"] = {
            str(k): token.check(v, f"{source}: [operators] {k}")
            for k, v in tables["operators"].items()
        }
    return values


def _table(raw: dict[str, Any], name: str, source: Path) -> dict[str, Any]:
    table = raw[name]
    if not isinstance(table, dict):
        raise InvalidInputError(f"{source}: [{name}] must be a table, got {table!r}")
    return table


def _check_known(
    table: Mapping[str, Any], known: Iterable[str], where: str, kind: str, label: Labeller
) -> None:
    """An unknown key is an error naming it, with the nearest known one as a hint."""
    expected = sorted(known)
    unknown = sorted(set(table) - set(expected))
    if unknown:
        close = difflib.get_close_matches(unknown[0], expected, n=1)
        hint = f" (did you mean {label(close[0])}?)" if close else ""
        raise InvalidInputError(
            f"{where}unknown {kind} {label(unknown[0])}{hint}; expected one of {expected}"
        )


def _default_index(table: dict[str, Any], source: Path) -> IndexSpec:
    spec = dict(table)
    spec.setdefault("name", "v1")
    try:
        spec["embedder"] = EmbedderSpec.from_dict(spec.get("embedder", {}))
        return IndexSpec.from_dict(spec)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{source}: [default_index] {exc}") from exc


def _eval_data_roots(roots: Any, source: Path) -> tuple[Path, ...]:
    """``[server] eval_data_roots``: a list of folder paths (relative ones: to the home)."""
    if not isinstance(roots, list) or not all(isinstance(r, str) and r for r in roots):
        raise InvalidInputError(f"{source}: eval_data_roots must be a list of folder paths")
    return tuple(Path(r) for r in roots)
