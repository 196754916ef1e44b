"""Export a sentence-transformers folder to ONNX and quantize it to int8, locally.

An install-time step (``switchover models install all-MiniLM-L6-v2 --backend onnx-int8``),
never run at request time. The transformer is traced with torch's exporter (dynamic batch
and sequence axes), its weights quantized by onnxruntime's dynamic quantizer (QInt8, per
channel: per-tensor int8 lost far more on MiniLM, a mean cosine of 0.95 to the fp32 vectors
against 0.994), and the tokenizer copied beside it. Pooling and normalisation are done by
:mod:`indexes.onnx_embedder` as the sentence-transformers modules say, so only models whose
pooling is plain mean pooling are exported; others are refused.

The export folder is named after the source folder's digest, so an export is only ever used
for the exact model files it came from; its ``export.json`` lists every file's sha256, and
loading checks them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .model_catalog import check_files, file_sha256, models_dir
from .model_files import folder_digest

BACKEND = "onnx-int8"
MANIFEST = "export.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
_OPSET = 17


def export_folder(source_digest: str, root: Path | None = None) -> Path:
    """Where the int8 export of the model with ``source_digest`` lives."""
    return (root or models_dir()) / "exports" / f"{source_digest[:24]}-{BACKEND}"


def read_st_layout(source: Path) -> dict[str, Any]:
    """Max sequence length, whether a Normalize module follows, the pooling; refuse others."""
    modules = _json(source / "modules.json")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise InvalidInputError(f"{source}: only Transformer + Pooling (+ Normalize) models export")
    pooling_path = next(m["path"] for m in modules if str(m["type"]).endswith("Pooling"))
    pooling = _json(source / pooling_path / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True]
    if modes != ["pooling_mode_mean_tokens"]:
        raise InvalidInputError(f"{source}: only mean pooling exports, this model uses {modes}")
    if not (source / TOKENIZER_FILE).is_file():
        raise InvalidInputError(f"{source}: no {TOKENIZER_FILE} (a fast tokenizer is needed)")
    config = _json(source / "sentence_bert_config.json")
    return {
        "max_seq_length": int(config.get("max_seq_length", 512)),
        "normalize": "Normalize" in kinds,
        "pooling": "mean",
        "dim": int(pooling["word_embedding_dimension"]),
    }


def export_int8(source: Path, label: str, root: Path | None = None, *, force: bool = False) -> Path:
    """Export + quantize ``source`` (a model folder named ``label``); returns the folder."""
    digest = folder_digest(source)
    dest = export_folder(digest, root)
    if dest.is_dir() and not force and not export_problems(dest):
        return dest
    layout = read_st_layout(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export.") as work:
        staging = Path(work) / "out"
        staging.mkdir()
        inputs = _trace(source, Path(work) / "fp32.onnx")
        _quantize(Path(work) / "fp32.onnx", staging / MODEL_FILE)
        shutil.copyfile(source / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        manifest = {
            "source": label,
            "source_digest": digest,
            "backend": BACKEND,
            "quantization": {"weight_type": "QInt8", "per_channel": True, "dynamic": True},
            "inputs": inputs,
            "pad_id": _pad_id(source),
            **layout,
            "versions": _versions(),
            "files": {n: file_sha256(staging / n) for n in (MODEL_FILE, TOKENIZER_FILE)},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    return dest


def export_problems(folder: Path) -> list[str]:
    """What is wrong with an export folder ([] when every file matches its manifest)."""
    try:
        manifest = _json(folder / MANIFEST)
    except InvalidInputError as exc:
        return [str(exc)]
    return check_files(folder, manifest.get("files", {}))


def _trace(source: Path, out: Path) -> list[str]:
    import torch  # noqa: PLC0415 - install-time only
    from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    names = [n for n in tokenizer.model_input_names if n in _INPUTS]
    texts = ["an example", "a second, longer example"]
    sample = tokenizer(texts, padding=True, return_tensors="pt")
    wrapper = _LastHidden(model, names, torch)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            tuple(sample[n] for n in names),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=_OPSET,
            dynamo=False,  # the TorchScript tracer: no onnxscript dependency, dynamic axes
        )
    return names


_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _LastHidden(model: Any, names: list[str], torch: Any) -> Any:  # noqa: N802 - a class factory
    """A module whose positional inputs are ``names`` and whose output is the last hidden state."""

    class LastHidden(torch.nn.Module):  # type: ignore[misc]  # torch is untyped here (imported late)
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *tensors: Any) -> Any:
            return self.inner(**dict(zip(names, tensors, strict=True))).last_hidden_state

    return LastHidden()


def _quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)


def _pad_id(source: Path) -> int:
    try:
        config = _json(source / "tokenizer_config.json")
    except InvalidInputError:
        return 0
    pad = config.get("pad_token")
    if isinstance(pad, dict):
        pad = pad.get("content")
    from tokenizers import Tokenizer  # noqa: PLC0415

    found = Tokenizer.from_file(str(source / TOKENIZER_FILE)).token_to_id(pad) if pad else None
    return int(found) if found is not None else 0


def _versions() -> dict[str, str]:
    from importlib.metadata import version  # noqa: PLC0415

    return {name: version(name) for name in ("torch", "transformers", "onnx", "onnxruntime")}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
