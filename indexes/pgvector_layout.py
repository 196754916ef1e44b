"""pgvector layouts: the ``factory`` of an index version whose ``backend`` is ``"pgvector"``.

Three layouts, written as a name and optional build options (pure parsing, no database)::

    flat                                  exact search: a table with no ANN index
    hnsw                                  HNSW graph, m 16, ef_construction 64 (pgvector's defaults)
    hnsw(m=32, ef_construction=128)       HNSW with its build options
    ivfflat(lists=100)                    IVFFlat with 100 lists (lists is required)

Build options are fixed for the version (changing one is a migration); the search knobs
are runtime :class:`~indexes.SearchParams`: ``ef_search`` is pgvector's ``hnsw.ef_search``
and ``nprobe`` its ``ivfflat.probes``. Every bound is pgvector's own, checked here so a bad
value is an :class:`InvalidInputError` (a 4xx) before anything reaches PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import InvalidInputError

PgKind = Literal["flat", "hnsw", "ivfflat"]
GRAMMAR = "flat, hnsw, hnsw(m=16, ef_construction=64) or ivfflat(lists=100)"
# pgvector 0.6's bounds (src/hnsw.h, src/ivfflat.h)
MAX_INDEXED_DIM = 2000
M_RANGE = (2, 100)
EF_CONSTRUCTION_RANGE = (4, 1000)
LISTS_RANGE = (1, 32768)
MAX_EF_SEARCH = 1000
MAX_PROBES = 32768
OPTIONS: dict[str, tuple[str, ...]] = {
    "flat": (),
    "hnsw": ("m", "ef_construction"),
    "ivfflat": ("lists",),
}
_SHAPE = re.compile(r"(?P<kind>[a-z]+)(?:\((?P<options>[^()]*)\))?")
_OPTION = re.compile(r"\s*(?P<key>[a-z_]+)\s*=\s*(?P<value>[0-9]{1,6})\s*")
OPS = {"ip": "vector_ip_ops", "l2": "vector_l2_ops"}


@dataclass(frozen=True)
class PgLayout:
    """A parsed pgvector layout with every build option filled in."""

    kind: PgKind
    m: int = 16
    ef_construction: int = 64
    lists: int = 0

    @property
    def indexed(self) -> bool:
        """Whether the layout has an ANN index (``flat`` is a plain exact scan)."""
        return self.kind != "flat"

    @property
    def needs_training(self) -> bool:
        """IVFFlat computes its lists from the rows present when the index is built."""
        return self.kind == "ivfflat"

    def with_options(self) -> str:
        """The ``WITH (...)`` clause of ``CREATE INDEX`` (constant text built from ints)."""
        if self.kind == "hnsw":
            return f"(m = {self.m:d}, ef_construction = {self.ef_construction:d})"
        return f"(lists = {self.lists:d})"


def parse_layout(factory: str) -> PgLayout:
    """``factory`` as a :class:`PgLayout`; anything else is an :class:`InvalidInputError`."""
    shape = _SHAPE.fullmatch(factory.strip())
    if shape is None or shape["kind"] not in OPTIONS:
        raise InvalidInputError(f"pgvector layout {factory!r} is not one of: {GRAMMAR}")
    kind: PgKind = shape["kind"]  # type: ignore[assignment]  # checked against OPTIONS above
    options = _options(factory, kind, shape["options"])
    if kind == "ivfflat" and "lists" not in options:
        raise InvalidInputError(f"pgvector layout {factory!r}: ivfflat needs lists, e.g. {GRAMMAR}")
    layout = PgLayout(kind, **options)
    _check_ranges(factory, layout, options)
    return layout


def _options(factory: str, kind: PgKind, text: str | None) -> dict[str, int]:
    if text is None:
        return {}
    options: dict[str, int] = {}
    for part in text.split(",") if text.strip() else []:
        match = _OPTION.fullmatch(part)
        if match is None:
            raise InvalidInputError(
                f"pgvector layout {factory!r}: {part.strip()!r} is not name=integer"
            )
        key = match["key"]
        if key not in OPTIONS[kind]:
            allowed = ", ".join(OPTIONS[kind]) or "none"
            raise InvalidInputError(
                f"pgvector layout {factory!r}: {kind} has no option {key!r} (options: {allowed})"
            )
        if key in options:
            raise InvalidInputError(f"pgvector layout {factory!r}: {key} is given twice")
        options[key] = int(match["value"])
    return options


def _check_ranges(factory: str, layout: PgLayout, given: dict[str, int]) -> None:
    bounds = {"m": M_RANGE, "ef_construction": EF_CONSTRUCTION_RANGE, "lists": LISTS_RANGE}
    for key, value in given.items():
        low, high = bounds[key]
        if not low <= value <= high:
            raise InvalidInputError(
                f"pgvector layout {factory!r}: {key} must be from {low} to {high}, got {value}"
            )
    if layout.kind == "hnsw" and layout.ef_construction < 2 * layout.m:
        raise InvalidInputError(
            f"pgvector layout {factory!r}: ef_construction ({layout.ef_construction}) must be"
            f" at least 2 x m ({2 * layout.m})"
        )


def check_dim(factory: str, dim: int) -> None:
    """pgvector indexes ``vector`` columns of at most 2,000 dimensions."""
    if parse_layout(factory).indexed and dim > MAX_INDEXED_DIM:
        raise InvalidInputError(
            f"pgvector layout {factory!r} indexes at most {MAX_INDEXED_DIM} dimensions; the"
            f" embedder has {dim} (use flat, or an embedder with truncate_dim)"
        )


def check_knobs(factory: str, ef_search: int | None, nprobe: int | None) -> None:
    """The runtime knobs within pgvector's bounds (``hnsw.ef_search``, ``ivfflat.probes``)."""
    if ef_search is not None and ef_search > MAX_EF_SEARCH:
        raise InvalidInputError(
            f"ef_search (pgvector's hnsw.ef_search) must be from 1 to {MAX_EF_SEARCH},"
            f" got {ef_search}"
        )
    if nprobe is not None and nprobe > MAX_PROBES:
        raise InvalidInputError(
            f"nprobe (pgvector's ivfflat.probes) must be from 1 to {MAX_PROBES}, got {nprobe}"
        )
    parse_layout(factory)
