"""The real embedder: a sentence-transformers model loaded from a local folder, offline.

``sentence_transformers`` (and torch) take seconds to import, so they are imported
on first load, not when ``indexes`` is imported. A loaded model is shared by every
spec that names the same folder (specs differing only in prompts or batch size
reuse it), and encoding is serialised per model: the fast tokenizer is not safe to
call from several threads at once, and on a CPU the cores are busy anyway.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_texts
from .embedder_spec import EmbedderSpec, QueryVectors, canonical_json, finish_rows
from .errors import EmbedderError, InvalidInputError
from .model_files import folder_digest, resolve_model_path


class _LoadedModel:
    """One SentenceTransformer plus the lock that serialises its ``encode`` calls."""

    def __init__(self, model: Any, native_dim: int) -> None:
        self.model = model
        self.native_dim = native_dim
        self.lock = threading.Lock()


_models: dict[str, _LoadedModel] = {}
_models_lock = threading.Lock()


def _load_model(path: Path, label: str) -> _LoadedModel:
    key = str(path.resolve())
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            loaded = _models[key] = _read_model(key, label)
    return loaded


def _read_model(folder: str, label: str) -> _LoadedModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - slow import

        model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        # sentence-transformers 6 renamed the method; 5.x only has the long name
        get_dim = getattr(model, "get_embedding_dimension", None)
        native_dim = (get_dim or model.get_sentence_embedding_dimension)()
    except Exception as exc:  # any library failure becomes one domain error
        raise EmbedderError(f"cannot load embedder model {label!r}: {exc}") from exc
    if not isinstance(native_dim, int):
        raise EmbedderError(f"embedder model {label!r} does not report its output dimension")
    return _LoadedModel(model, native_dim)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; implements :class:`Embedder`."""

    def __init__(self, spec: EmbedderSpec) -> None:
        if spec.kind != "sentence-transformers":
            raise InvalidInputError(
                f"SentenceTransformerEmbedder needs kind 'sentence-transformers', got {spec.kind!r}"
            )
        self.spec = spec
        path = resolve_model_path(spec.model)
        self._loaded = _load_model(path, spec.model)
        if spec.truncate_dim is not None and spec.truncate_dim > self._loaded.native_dim:
            raise InvalidInputError(
                f"embedder truncate_dim ({spec.truncate_dim}) exceeds the output dimension"
                f" of {spec.model!r} ({self._loaded.native_dim})"
            )
        try:
            files = folder_digest(path)
        except OSError as exc:
            raise EmbedderError(f"cannot read the files of {spec.model!r}: {exc}") from exc
        self._fingerprint = hashlib.sha256(
            f"{files}\n{canonical_json(spec.vector_options())}".encode()
        ).hexdigest()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self.spec.truncate_dim or self._loaded.native_dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(check_texts(texts), self.spec.document_prompt)

    def embed_queries(self, texts: Sequence[str]) -> QueryVectors:
        return QueryVectors(
            self._encode(check_texts(texts), self.spec.query_prompt), self.fingerprint
        )

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            with self._loaded.lock:  # one encode() call: the library sorts by length inside it
                raw = self._loaded.model.encode(
                    texts,
                    prompt=prompt or None,
                    batch_size=self.spec.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=False,
                    show_progress_bar=False,
                )
        except Exception as exc:  # any library failure becomes one domain error
            raise EmbedderError(f"embedder {self.spec.model!r} failed to encode: {exc}") from exc
        return finish_rows(np.asarray(raw), self.spec)
