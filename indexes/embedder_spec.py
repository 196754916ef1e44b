"""What an embedder is: its spec, its contract, and the query vectors it hands out.

The spec is part of an index version's immutable identity. ``vector_options`` is
the subset of the spec that changes the vectors (prompts, normalisation,
truncation); it goes into the fingerprint, while knobs such as ``batch_size`` do
not, so tuning throughput never invalidates an index or the embedding cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Protocol, get_args

import numpy as np

from ._checks import check_bool, check_int, check_keys, check_optional_int, check_str
from .errors import InvalidInputError

PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
PACKAGED_MPNET = "packaged:all-mpnet-base-v2"

EmbedderKind = Literal["sentence-transformers", "hash"]
_KINDS: tuple[str, ...] = get_args(EmbedderKind)
# How a sentence-transformers model is run: torch (fp32), or its int8 ONNX export made by the
# install step (``switchover models install NAME --backend onnx-int8``).
EmbedderBackend = Literal["torch", "onnx-int8"]
_BACKENDS: tuple[str, ...] = get_args(EmbedderBackend)
MAX_BATCH_SIZE = 4096
MAX_HASH_DIM = 65536


@dataclass(frozen=True)
class EmbedderSpec:
    """How to turn text into vectors; validated on construction."""

    kind: EmbedderKind = "sentence-transformers"
    model: str = PACKAGED_MINILM  # "packaged:all-MiniLM-L6-v2" or a local folder path
    backend: EmbedderBackend = "torch"
    normalize: bool = True
    truncate_dim: int | None = None
    batch_size: int = 32
    query_prompt: str = ""
    document_prompt: str = ""
    dim: int = 64  # only used by kind="hash"

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidInputError(
                f"embedder kind must be one of {list(_KINDS)}, got {self.kind!r}"
            )
        check_str(self.model, "embedder model", allow_empty=False)
        if self.backend not in _BACKENDS:
            raise InvalidInputError(
                f"embedder backend must be one of {list(_BACKENDS)}, got {self.backend!r}"
            )
        if self.kind == "hash" and self.backend != "torch":
            raise InvalidInputError("the hash embedder has no backend to choose")
        check_bool(self.normalize, "embedder normalize")
        check_optional_int(self.truncate_dim, "embedder truncate_dim", 1)
        check_int(self.batch_size, "embedder batch_size", 1, MAX_BATCH_SIZE)
        check_str(self.query_prompt, "embedder query_prompt")
        check_str(self.document_prompt, "embedder document_prompt")
        check_int(self.dim, "embedder dim", 1, MAX_HASH_DIM)
        if self.kind == "hash" and self.truncate_dim is not None and self.truncate_dim > self.dim:
            raise InvalidInputError(
                f"embedder truncate_dim ({self.truncate_dim}) exceeds dim ({self.dim})"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbedderSpec:
        """Build from a mapping; unknown keys or bad values raise InvalidInputError."""
        checked = check_keys(data, [f.name for f in fields(cls)], "embedder spec")
        return cls(**checked)

    def vector_options(self) -> dict[str, Any]:
        """The options that change the vectors (fingerprinted; ``batch_size`` is not)."""
        options: dict[str, Any] = {
            "kind": self.kind,
            "normalize": self.normalize,
            "truncate_dim": self.truncate_dim,
            "query_prompt": self.query_prompt,
            "document_prompt": self.document_prompt,
        }
        if self.kind == "hash":
            options["dim"] = self.dim
        if self.backend != "torch":  # absent for torch: fingerprints made before it stay valid
            options["backend"] = self.backend
        return options


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no whitespace (stable input to a hash)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True, eq=False)
class QueryVectors:
    """Query vectors that remember which embedder made them.

    An index compares ``fingerprint`` with its own and refuses foreign queries, so
    a query embedded by the wrong model fails loudly instead of returning noise.
    """

    vectors: np.ndarray  # float32 (n, dim)
    fingerprint: str


class Embedder(Protocol):
    """Turns documents and queries into float32 vectors of a fixed ``dim``."""

    spec: EmbedderSpec

    @property
    def fingerprint(self) -> str:
        """Hex sha256 of everything that determines the vectors."""
        ...

    @property
    def dim(self) -> int:
        """Output dimension (after ``truncate_dim``)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 C-contiguous ``(len(texts), dim)``; ``(0, dim)`` for no texts."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> QueryVectors:
        """Query vectors tagged with this embedder's fingerprint."""
        ...


def finish_rows(raw: np.ndarray, spec: EmbedderSpec) -> np.ndarray:
    """Truncate to ``truncate_dim`` then L2-normalise if asked: the shared tail of every embedder.

    Truncation comes first so a Matryoshka-style prefix is re-normalised to unit length.
    Zero rows stay zero rather than becoming NaN.
    """
    rows = np.asarray(raw, dtype=np.float32)
    if spec.truncate_dim is not None:
        rows = rows[:, : spec.truncate_dim]
    if spec.normalize:
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        rows = rows / norms
    return np.ascontiguousarray(rows, dtype=np.float32)
