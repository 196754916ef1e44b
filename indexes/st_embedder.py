"""The real embedder: a sentence-transformers model loaded from a local folder, offline.

``sentence_transformers`` (and torch) take seconds to import, so they are imported
on first load, not when ``indexes`` is imported. A loaded model is shared by every
spec that names the same folder (specs differing only in prompts or batch size
reuse it), and encoding is serialised per model: the fast tokenizer is not safe to
call from several threads at once, and on a CPU the cores are busy anyway.

One text (a search's query) skips ``encode`` and runs what ``encode`` runs for a batch of
one, the model's own ``preprocess`` and forward pass: the same vector, bit for bit, without
``encode``'s per-call set-up (argument checks, the device scan, ``eval()`` over every module,
the length sort, the progress-bar object, stacking), which cost a query about 1-2 ms of CPU
on top of the 12-15 ms forward pass (benchmarks/results/search_profile.md).

Documents are encoded on torch's own intra-op thread count (one per available core),
whatever the calling thread's OpenMP count: torch and FAISS share one OpenMP runtime,
whose count is per thread, so ``use_faiss_threads(1)`` (``switchover serve``) left every
thread that had searched or added to an index, the backfill's included after its first
batch, encoding documents on one thread. Queries keep the calling thread's count (a
request thread's: one query at a time, where OpenMP's wake-ups cost more than they give).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .embedder_spec import EmbedderSpec
from .errors import EmbedderError, InvalidInputError
from .model_embedder import ModelEmbedder
from .model_files import folder_digest, resolve_model_path


class _LoadedModel:
    """One SentenceTransformer plus the lock that serialises its ``encode`` calls."""

    def __init__(self, model: Any, native_dim: int, inference_mode: Any) -> None:
        self.model = model
        self.native_dim = native_dim
        self.lock = threading.Lock()
        self._inference_mode = inference_mode  # torch's, kept so torch loads with the model
        # sentence-transformers 6 names the step (5.x prompts inside encode(), so it encodes);
        # a default prompt or an output truncation of the model's own is left to encode()
        self.direct = (
            callable(getattr(model, "preprocess", None))
            and getattr(model, "default_prompt_name", None) is None
            and getattr(model, "truncate_dim", None) is None
        )

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        """The model's vectors for ``texts`` (call with ``lock`` held)."""
        if len(texts) == 1 and self.direct:
            return self._encode_one(texts[0], prompt)
        raw = self.model.encode(
            texts,
            prompt=prompt or None,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        return np.asarray(raw)

    def _encode_one(self, text: str, prompt: str) -> np.ndarray:
        """``encode([text])`` as its inner loop computes it: preprocess (the prompt too),
        forward, the sentence embedding on the CPU (the model was loaded on it, in eval mode)."""
        with self._inference_mode():
            features = self.model.preprocess([text], prompt=prompt or None)
            embedding = self.model(features)["sentence_embedding"]
            return np.asarray(embedding.float().cpu().numpy())


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
        import torch  # noqa: PLC0415 - slow import, loaded with the first model
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - slow import

        model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        model.eval()  # encode() sets it per call; the one-text path relies on it being so
        # sentence-transformers 6 renamed the method; 5.x only has the long name
        get_dim = getattr(model, "get_embedding_dimension", None)
        native_dim = (get_dim or model.get_sentence_embedding_dimension)()
    except Exception as exc:  # any library failure becomes one domain error
        raise EmbedderError(f"cannot load embedder model {label!r}: {exc}") from exc
    if not isinstance(native_dim, int):
        raise EmbedderError(f"embedder model {label!r} does not report its output dimension")
    return _LoadedModel(model, native_dim, torch.inference_mode)


class SentenceTransformerEmbedder(ModelEmbedder):
    """A local sentence-transformers model; implements :class:`Embedder`."""

    def __init__(self, spec: EmbedderSpec) -> None:
        if spec.kind != "sentence-transformers":
            raise InvalidInputError(
                f"SentenceTransformerEmbedder needs kind 'sentence-transformers', got {spec.kind!r}"
            )
        self.spec = spec
        path = resolve_model_path(spec.model)
        self._loaded = _load_model(path, spec.model)
        try:
            files = folder_digest(path)
        except OSError as exc:
            raise EmbedderError(f"cannot read the files of {spec.model!r}: {exc}") from exc
        self._finish_init(self._loaded.native_dim, files)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with intra_op_threads(DOCUMENT_THREADS):
            return super().embed_documents(texts)

    def _raw_encode(self, texts: list[str], prompt: str) -> np.ndarray:
        with self._loaded.lock:  # one encode() call: the library sorts by length inside it
            return self._loaded.encode(texts, prompt, self.spec.batch_size)


DOCUMENT_THREADS = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Torch's intra-op (OpenMP) thread count for this thread set to ``count`` for the
    block, and the thread's own count restored after it (FAISS keeps relying on it)."""
    import torch  # noqa: PLC0415 - loaded with the model; a slow import

    before = torch.get_num_threads()
    if before == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
