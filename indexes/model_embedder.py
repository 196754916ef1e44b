"""What the two model-folder embedders share: the truncate check, the fingerprint, the
prompts and the one domain error an encoding failure becomes.

A subclass loads its model, then calls :meth:`ModelEmbedder._finish_init`; it encodes
prompted texts in :meth:`ModelEmbedder._raw_encode`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ._checks import check_texts
from .embedder_spec import EmbedderSpec, QueryVectors, canonical_json, finish_rows
from .errors import EmbedderError, InvalidInputError

__all__ = ["ModelEmbedder"]


class ModelEmbedder:
    """Base of :class:`Embedder` implementations that run a model read from a folder."""

    spec: EmbedderSpec
    _native_dim: int
    _fingerprint: str

    def _finish_init(self, native_dim: int, files_digest: str) -> None:
        """Check ``truncate_dim`` against the model and fix the fingerprint."""
        spec = self.spec
        if spec.truncate_dim is not None and spec.truncate_dim > native_dim:
            raise InvalidInputError(
                f"embedder truncate_dim ({spec.truncate_dim}) exceeds the output dimension"
                f" of {spec.model!r} ({native_dim})"
            )
        self._native_dim = native_dim
        self._fingerprint = hashlib.sha256(
            f"{files_digest}\n{canonical_json(spec.vector_options())}".encode()
        ).hexdigest()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self.spec.truncate_dim or self._native_dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(check_texts(texts), self.spec.document_prompt)

    def embed_queries(self, texts: Sequence[str]) -> QueryVectors:
        vectors = self._encode(check_texts(texts), self.spec.query_prompt)
        return QueryVectors(vectors, self.fingerprint)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            raw = self._raw_encode(texts, prompt)
        except Exception as exc:  # any library failure becomes one domain error
            raise EmbedderError(f"embedder {self.spec.model!r} failed to encode: {exc}") from exc
        return finish_rows(np.asarray(raw), self.spec)

    def _raw_encode(self, texts: list[str], prompt: str) -> np.ndarray:
        """The model's own vectors for ``texts`` with ``prompt`` applied."""
        raise NotImplementedError
