"""Index versions: the immutable spec and the runtime search knobs.

An :class:`IndexSpec` names one index version for good: embedder, backend, layout and
metric. Changing any of them is a migration to a new version. The backend is
``"faiss"`` (in-process; ``factory`` is a FAISS ``index_factory`` string) or
``"pgvector"`` (``factory`` is a pgvector layout, :mod:`indexes.pgvector_layout`).
Search knobs (``efSearch``, ``nprobe``; pgvector's ``hnsw.ef_search`` and
``ivfflat.probes``) are :class:`SearchParams`: runtime config that can change without a
rebuild.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

import faiss

from ._checks import check_int, check_keys, check_optional_int, check_str
from .embedder_spec import EmbedderSpec
from .errors import InvalidInputError
from .pgvector_layout import check_dim, check_knobs, parse_layout

INDEX_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_NAME = re.compile(INDEX_NAME_PATTERN)

Metric = Literal["ip", "l2"]
_METRICS: tuple[str, ...] = get_args(Metric)
Backend = Literal["faiss", "pgvector"]
_BACKENDS: tuple[str, ...] = get_args(Backend)
MAX_EF_SEARCH = 4096
MAX_NPROBE = 65536
MAX_DIM = 65536
# Real factory strings are a few dozen characters; FAISS parses them with std::regex, which
# overflows the stack (SIGSEGV, the whole process) from about 20,000.
MAX_FACTORY_CHARS = 256
# A size of 0 anywhere in a factory (HNSW0, PQ1x0, RR0, PCAR0, NSG0, IVF0) builds, then
# aborts, segfaults, raises SIGFPE or hangs the process when the index is used: every size,
# count and bit width FAISS takes there is at least 1, so a zero is refused up front.
_ZERO_SIZE = re.compile(r"(?<![0-9.])0+(?![0-9.])")


def faiss_metric(metric: Metric) -> int:
    """The FAISS metric constant for ``metric``."""
    return int(faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2)


def faiss_message(exc: BaseException) -> str:
    """FAISS's own sentence from a RuntimeError, without the C++ location prefix."""
    text = str(exc).strip()
    match = re.search(r" at \S+:\d+: (.*)$", text, re.DOTALL)
    return (match.group(1) if match else text).strip()


def _check_name(name: object) -> None:
    """Index names double as folder names: a safe pattern and never ``..``."""
    text = check_str(name, "index name")
    if not _NAME.fullmatch(text) or ".." in text:
        raise InvalidInputError(
            f"index name {text!r} must match {INDEX_NAME_PATTERN} and not contain '..'"
        )


@dataclass(frozen=True)
class IndexSpec:
    """Name, embedder, layout (``factory``), metric and the backend that holds it.

    ``factory`` is a FAISS ``index_factory`` string (without IDMap) for ``backend="faiss"``,
    a pgvector layout (``flat``, ``hnsw(m=16, ef_construction=64)``, ``ivfflat(lists=100)``)
    for ``backend="pgvector"``.
    """

    name: str
    embedder: EmbedderSpec = field(default_factory=EmbedderSpec)
    factory: str = "Flat"
    metric: Metric = "ip"
    backend: Backend = "faiss"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.embedder, EmbedderSpec):
            raise InvalidInputError("index embedder must be an EmbedderSpec")
        check_str(self.factory, "index factory", allow_empty=False)
        if len(self.factory) > MAX_FACTORY_CHARS:
            raise InvalidInputError(
                f"index factory is {len(self.factory)} characters; the limit is {MAX_FACTORY_CHARS}"
            )
        if self.metric not in _METRICS:
            raise InvalidInputError(
                f"index metric must be one of {list(_METRICS)}, got {self.metric!r}"
            )
        if self.backend not in _BACKENDS:
            raise InvalidInputError(
                f"index backend must be one of {list(_BACKENDS)}, got {self.backend!r}"
            )
        if self.backend == "pgvector":
            parse_layout(self.factory)

    @property
    def is_exact(self) -> bool:
        """Whether searches are exhaustive (FAISS ``Flat``, pgvector ``flat``)."""
        if self.backend == "pgvector":
            return not parse_layout(self.factory).indexed
        return self.factory.replace(" ", "") == "Flat"

    def check_search_params(self, params: SearchParams) -> None:
        """Refuse knobs this backend cannot take (pgvector: ef_search <= 1000)."""
        if self.backend == "pgvector":
            check_knobs(self.factory, params.ef_search, params.nprobe)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "embedder": self.embedder.to_dict(),
            "factory": self.factory,
            "metric": self.metric,
            "backend": self.backend,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndexSpec:
        """Build from a mapping (``embedder`` may be a mapping); bad input -> InvalidInputError."""
        checked = dict(check_keys(data, [f.name for f in fields(cls)], "index spec"))
        if "name" not in checked:
            raise InvalidInputError("index spec: 'name' is required")
        embedder = checked.get("embedder")
        if embedder is not None and not isinstance(embedder, EmbedderSpec):
            checked["embedder"] = EmbedderSpec.from_dict(embedder)
        return cls(**checked)

    def validate(self, dim: int) -> None:
        """Refuse a bad name or a layout the backend cannot build at ``dim`` (InvalidInputError)."""
        _check_name(self.name)
        check_int(dim, "index dim", 1, MAX_DIM)
        if self.backend == "pgvector":
            check_dim(self.factory, dim)
            return
        if "idmap" in self.factory.lower():
            raise InvalidInputError(
                f"index factory {self.factory!r}: leave out IDMap, the wrapper adds IndexIDMap2"
            )
        if _ZERO_SIZE.search(self.factory):
            raise InvalidInputError(
                f"index factory {self.factory!r}: every size in it must be at least 1"
            )
        try:
            faiss.index_factory(dim, self.factory, faiss_metric(self.metric))
        except RuntimeError as exc:
            raise InvalidInputError(
                f"index factory {self.factory!r} is not buildable at dim {dim}:"
                f" {faiss_message(exc)}"
            ) from exc


@dataclass(frozen=True)
class SearchParams:
    """Runtime search knobs; ``None`` means the index's own default."""

    ef_search: int | None = None  # HNSW
    nprobe: int | None = None  # IVF

    def __post_init__(self) -> None:
        check_optional_int(self.ef_search, "ef_search", 1, MAX_EF_SEARCH)
        check_optional_int(self.nprobe, "nprobe", 1, MAX_NPROBE)

    def to_dict(self) -> dict[str, Any]:
        return {"ef_search": self.ef_search, "nprobe": self.nprobe}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SearchParams:
        if data is None:
            return cls()
        return cls(**check_keys(data, [f.name for f in fields(cls)], "search params"))

    def overridden_by(self, other: SearchParams | None) -> SearchParams:
        """These params with every knob ``other`` sets taking precedence."""
        if other is None:
            return self
        changes = {k: v for k, v in other.to_dict().items() if v is not None}
        return replace(self, **changes)
