"""Embedders: the spec, the contract, the implementations and a shared loader.

``load_embedder`` keeps one embedder per spec for the whole process, so two index
versions with the same embedder share one loaded model (and its memory).
"""

from __future__ import annotations

import threading

from .embedder_spec import PACKAGED_MINILM, PACKAGED_MPNET, Embedder, EmbedderSpec, QueryVectors
from .hash_embedder import HashEmbedder
from .model_files import resolve_model_path
from .onnx_embedder import OnnxInt8Embedder
from .st_embedder import SentenceTransformerEmbedder

__all__ = [
    "PACKAGED_MINILM",
    "PACKAGED_MPNET",
    "Embedder",
    "EmbedderSpec",
    "HashEmbedder",
    "OnnxInt8Embedder",
    "QueryVectors",
    "SentenceTransformerEmbedder",
    "load_embedder",
    "resolve_model_path",
]

_embedders: dict[EmbedderSpec, Embedder] = {}
_embedders_lock = threading.Lock()


def load_embedder(spec: EmbedderSpec) -> Embedder:
    """The process-wide embedder for ``spec``, loaded on first use (thread-safe)."""
    with _embedders_lock:
        embedder = _embedders.get(spec)
        if embedder is None:
            embedder = _embedders[spec] = _build(spec)
    return embedder


def _build(spec: EmbedderSpec) -> Embedder:
    if spec.kind == "hash":
        return HashEmbedder(spec)
    if spec.backend == "onnx-int8":
        return OnnxInt8Embedder(spec)
    return SentenceTransformerEmbedder(spec)
