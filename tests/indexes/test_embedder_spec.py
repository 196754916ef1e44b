"""Embedder specs are validated data; model folders are found offline and fingerprinted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from indexes import (
    PACKAGED_MINILM,
    EmbedderError,
    EmbedderSpec,
    HashEmbedder,
    InvalidInputError,
    SentenceTransformerEmbedder,
    load_embedder,
    resolve_model_path,
)
from indexes.model_files import folder_digest


def test_defaults_name_the_packaged_minilm() -> None:
    spec = EmbedderSpec()
    assert spec.kind == "sentence-transformers"
    assert spec.model == PACKAGED_MINILM
    assert spec.normalize is True


def test_to_dict_from_dict_round_trips() -> None:
    spec = EmbedderSpec(kind="hash", dim=32, truncate_dim=16, query_prompt="q: ", batch_size=8)
    assert EmbedderSpec.from_dict(spec.to_dict()) == spec


def test_from_dict_fills_defaults() -> None:
    assert EmbedderSpec.from_dict({"kind": "hash"}) == EmbedderSpec(kind="hash")


def test_from_dict_names_unknown_keys() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown key.*'revison'"):
        EmbedderSpec.from_dict({"revison": "main"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "word2vec"),
        ("model", ""),
        ("normalize", "yes"),
        ("truncate_dim", 0),
        ("truncate_dim", "64"),
        ("batch_size", 0),
        ("batch_size", True),
        ("query_prompt", None),
        ("dim", -1),
    ],
)
def test_from_dict_refuses_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidInputError, match=field):
        EmbedderSpec.from_dict({field: value})


def test_hash_truncation_cannot_exceed_dim() -> None:
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        EmbedderSpec(kind="hash", dim=16, truncate_dim=32)


def test_hash_fingerprint_depends_on_dim() -> None:
    a = HashEmbedder(EmbedderSpec(kind="hash", dim=16))
    b = HashEmbedder(EmbedderSpec(kind="hash", dim=32))
    assert a.fingerprint != b.fingerprint


def test_hash_embedder_gives_empty_text_a_fixed_unit_vector() -> None:
    embedder = HashEmbedder(EmbedderSpec(kind="hash", dim=16, normalize=False))
    vectors = embedder.embed_documents(["", "  ...  ", "words here"])
    assert vectors[0] == pytest.approx(vectors[1])
    assert float((vectors[0] ** 2).sum()) == pytest.approx(1.0, abs=1e-5)


def test_load_embedder_returns_one_instance_per_spec() -> None:
    spec = EmbedderSpec(kind="hash", dim=24)
    assert load_embedder(spec) is load_embedder(EmbedderSpec(kind="hash", dim=24))
    assert load_embedder(spec) is not load_embedder(EmbedderSpec(kind="hash", dim=25))


def test_packaged_model_resolves_to_a_local_folder() -> None:
    path = resolve_model_path(PACKAGED_MINILM)
    assert (path / "modules.json").is_file()
    assert (path / "tokenizer.json").is_file()


def test_a_missing_model_folder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a local folder"):
        resolve_model_path(str(tmp_path / "nope"))
    with pytest.raises(InvalidInputError, match="unknown packaged model"):
        resolve_model_path("packaged:bert-huge")


def _fake_model(root: Path) -> Path:
    (root / "1_Pooling").mkdir(parents=True)
    (root / "model.safetensors").write_bytes(b"weights")
    (root / "tokenizer.json").write_text('{"vocab": 1}')
    (root / "1_Pooling" / "config.json").write_text("{}")
    (root / "README.md").write_text("docs")
    return root


def test_folder_digest_covers_tokenizer_files_but_not_readme(tmp_path: Path) -> None:
    root = _fake_model(tmp_path / "m")
    before = folder_digest(root)
    assert folder_digest(root) == before
    (root / "README.md").write_text("other docs")
    assert folder_digest(root) == before
    (root / "tokenizer.json").write_text('{"vocab": 2}')
    assert folder_digest(root) != before


def test_folder_digest_sees_an_edit_that_keeps_size_and_mtime_of_others(tmp_path: Path) -> None:
    root = _fake_model(tmp_path / "m")
    before = folder_digest(root)
    weights = root / "model.safetensors"
    stat = weights.stat()
    weights.write_bytes(b"WEIGHTS")  # same size
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert folder_digest(root) != before


def test_folder_digest_does_not_depend_on_where_the_folder_lives(tmp_path: Path) -> None:
    assert folder_digest(_fake_model(tmp_path / "a")) == folder_digest(_fake_model(tmp_path / "b"))


@pytest.mark.slow
def test_a_folder_that_is_not_a_model_raises_embedder_error_naming_it(tmp_path: Path) -> None:
    root = _fake_model(tmp_path / "broken-model")
    with pytest.raises(EmbedderError, match="broken-model"):
        SentenceTransformerEmbedder(EmbedderSpec(model=str(root)))
