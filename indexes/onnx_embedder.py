"""The int8 ONNX embedder: a model exported by the install step, run with onnxruntime.

``EmbedderSpec(model=..., backend="onnx-int8")`` names the same model as the torch embedder
and asks for its int8 export, which ``switchover models install NAME --backend onnx-int8``
made (:mod:`indexes.onnx_export`); a missing or damaged export is an InvalidInputError
saying how to make it, never an export at request time. The fingerprint hashes the export's
files and the vector options, the backend included, so its vectors never mix with the fp32
model's in an index or the embedding cache.

Texts are tokenized with the model's own fast tokenizer (truncated to its max sequence
length), encoded one text per run (no padding; ``batch_size`` does not apply: see
``_Session.encode``), mean-pooled and normalised where the model has a Normalize module.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .embedder_spec import EmbedderSpec
from .errors import EmbedderError, InvalidInputError
from .model_embedder import ModelEmbedder
from .model_files import folder_digest, resolve_model_path
from .onnx_export import BACKEND, MANIFEST, MODEL_FILE, TOKENIZER_FILE, export_folder
from .onnx_export import export_problems as _problems


def export_of(spec: EmbedderSpec) -> Path:
    """The verified export folder for ``spec``'s model; InvalidInputError says how to make it."""
    source = resolve_model_path(spec.model)
    folder = export_folder(folder_digest(source))
    hint = f"`switchover models install {_install_name(spec.model)} --backend {BACKEND}`"
    if not folder.is_dir():
        raise InvalidInputError(
            f"the {BACKEND} export of {spec.model!r} is not installed: make it with {hint}"
        )
    problems = _problems(folder)
    if problems:
        raise InvalidInputError(
            f"the {BACKEND} export of {spec.model!r} at {folder} is damaged"
            f" ({'; '.join(problems[:3])}): remake it with {hint} --force"
        )
    return folder


def _install_name(model: str) -> str:
    return model.removeprefix("packaged:")


class _Session:
    """One onnxruntime session and its tokenizer, shared by specs naming the same export."""

    def __init__(self, folder: Path) -> None:
        try:
            import onnxruntime  # noqa: PLC0415 - only needed for this backend
            from tokenizers import Tokenizer  # noqa: PLC0415

            self.manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
            options = onnxruntime.SessionOptions()
            self.session = onnxruntime.InferenceSession(
                str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
            self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # any library failure becomes one domain error
            raise EmbedderError(f"cannot load the ONNX export at {folder}: {exc}") from exc
        self.tokenizer.enable_truncation(int(self.manifest["max_seq_length"]))
        self.tokenizer.no_padding()
        self.inputs: list[str] = list(self.manifest["inputs"])
        self.dim = int(self.manifest["dim"])
        self.lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """One onnxruntime run per text: dynamic quantization scales activations per run, so
        a text batched with others would get a vector that depends on its batch mates
        (cosine down to 0.988 in a test); alone, a text always gets the same vector."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            out[row] = self._one(encoding)
        return out

    def _one(self, encoding: Any) -> np.ndarray:
        arrays = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(encoding.ids)), dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }
        with self.lock:
            hidden = self.session.run(None, {n: arrays[n] for n in self.inputs})[0]
        pooled = np.asarray(hidden[0].mean(axis=0), dtype=np.float32)
        if self.manifest["normalize"]:
            pooled /= max(float(np.linalg.norm(pooled)), 1e-12)
        return pooled


_sessions: dict[str, _Session] = {}
_sessions_lock = threading.Lock()


def _session(folder: Path) -> _Session:
    key = str(folder.resolve())
    with _sessions_lock:
        loaded = _sessions.get(key)
        if loaded is None:
            loaded = _sessions[key] = _Session(folder)
    return loaded


class OnnxInt8Embedder(ModelEmbedder):
    """A model's int8 ONNX export run with onnxruntime; implements :class:`Embedder`."""

    def __init__(self, spec: EmbedderSpec) -> None:
        if spec.kind != "sentence-transformers" or spec.backend != BACKEND:
            raise InvalidInputError(f"OnnxInt8Embedder needs backend {BACKEND!r}")
        self.spec = spec
        folder = export_of(spec)
        self._loaded = _session(folder)
        self._finish_init(self._loaded.dim, folder_digest(folder))

    def _raw_encode(self, texts: list[str], prompt: str) -> np.ndarray:
        return self._loaded.encode([prompt + t for t in texts] if prompt else texts)
