"""Input checks shared by the spec dataclasses and the index wrapper.

Specs arrive from TOML files, JSON bodies and the catalog, so every field is
checked at construction and a bad value raises :class:`InvalidInputError` with a
message naming the field (never an ``assert`` or a bare ``TypeError``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import EmbedderMismatchError, InvalidInputError


def check_keys(data: object, allowed: Iterable[str], what: str) -> Mapping[str, Any]:
    """``data`` as a mapping whose keys are all in ``allowed``."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} must be a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in set(data) - set(allowed))
    if unknown:
        raise InvalidInputError(
            f"{what}: unknown key(s) {unknown}; expected some of {sorted(allowed)}"
        )
    return data


def check_int(value: object, name: str, low: int, high: int | None = None) -> int:
    """An int (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise InvalidInputError(f"{name} must be {bound}, got {value}")
    return value


def check_optional_int(value: object, name: str, low: int, high: int | None = None) -> None:
    """None, or an int within ``[low, high]``."""
    if value is not None:
        check_int(value, name, low, high)


def check_bool(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be true or false, got {value!r}")


def check_str(value: object, name: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {value!r}")
    if not allow_empty and not value:
        raise InvalidInputError(f"{name} must not be empty")
    return value


def check_texts(texts: object) -> list[str]:
    """A list of strings; a bare string is refused (it would be encoded per character)."""
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence):
        raise InvalidInputError("texts must be a sequence of strings, not a single string")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidInputError(f"texts[{i}] must be a string, got {type(text).__name__}")
    return out


def as_vector(value: object, dim: int, name: str) -> np.ndarray:
    """A finite float32 vector of shape ``(dim,)``, copied so later caller edits cannot leak in."""
    vec = np.array(value, dtype=np.float32)
    if vec.shape != (dim,):
        raise InvalidInputError(f"{name} must have shape ({dim},), got {vec.shape}")
    if not np.isfinite(vec).all():
        raise InvalidInputError(f"{name} contains NaN or infinity")
    return vec


def as_matrix(value: object, dim: int, name: str) -> np.ndarray:
    """A finite, C-contiguous float32 matrix of shape ``(n, dim)``."""
    mat = np.ascontiguousarray(value, dtype=np.float32)
    if mat.ndim != 2 or mat.shape[1] != dim:
        raise InvalidInputError(f"{name} must have shape (n, {dim}), got {mat.shape}")
    if not np.isfinite(mat).all():
        raise InvalidInputError(f"{name} contains NaN or infinity")
    return mat


def checked_queries(
    vectors: Any, embedded_by: str, k: int, *, fingerprint: str, dim: int, index: str
) -> np.ndarray:
    """The query matrix of a search of ``k`` hits on ``index``; vectors embedded by
    another embedder (``embedded_by``, a fingerprint) raise :class:`EmbedderMismatchError`."""
    if embedded_by != fingerprint:
        raise EmbedderMismatchError(
            f"query vectors come from embedder {embedded_by[:12]} but index"
            f" {index!r} uses embedder {fingerprint[:12]}"
        )
    check_int(k, "k", 1)
    return as_matrix(vectors, dim, "query vectors")


def checked_upserts(upserts: Mapping[str, Any], dim: int) -> list[tuple[str, np.ndarray]]:
    """``(document id, vector)`` pairs, every id a non-empty string, every vector ``dim``.

    The vectors are copied and checked as one matrix (a write batch's cost is one copy and
    one finiteness check, not one per row); a bad one is then named by its document.
    """
    ids = [check_str(i, "document id", allow_empty=False) for i in upserts]
    try:
        matrix = as_matrix(np.array(list(upserts.values()), dtype=np.float32), dim, "vectors")
    except (InvalidInputError, ValueError, TypeError):
        return [(i, as_vector(v, dim, f"vector of {i!r}")) for i, v in upserts.items()]
    return list(zip(ids, matrix, strict=True))
