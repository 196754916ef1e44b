"""One contract, every embedder: the hash fake, MiniLM, its int8 ONNX export and mpnet.

The int8 export and all-mpnet-base-v2 come from the install step (``make models``), which
``make test`` runs before the slow tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from indexes import (
    PACKAGED_MINILM,
    PACKAGED_MPNET,
    Embedder,
    EmbedderSpec,
    InvalidInputError,
    load_embedder,
)

Build = Callable[..., Embedder]

TEXTS = [
    "Cats sleep for most of the day.",
    "The stock market fell sharply on Monday.",
    "A recipe for chocolate cake with dark cocoa.",
    "",
]


def _hash(**options: Any) -> Embedder:
    return load_embedder(EmbedderSpec(kind="hash", dim=64, **options))


def _minilm(**options: Any) -> Embedder:
    return load_embedder(
        EmbedderSpec(kind="sentence-transformers", model=PACKAGED_MINILM, **options)
    )


def _mpnet(**options: Any) -> Embedder:
    return load_embedder(EmbedderSpec(model=PACKAGED_MPNET, **options))


def _minilm_int8(**options: Any) -> Embedder:
    return load_embedder(EmbedderSpec(model=PACKAGED_MINILM, backend="onnx-int8", **options))


@pytest.fixture(
    params=[
        pytest.param(_hash, id="hash"),
        pytest.param(_minilm, id="minilm", marks=pytest.mark.slow),
        pytest.param(_minilm_int8, id="minilm-onnx-int8", marks=pytest.mark.slow),
        pytest.param(_mpnet, id="mpnet", marks=pytest.mark.slow),
    ]
)
def build(request: pytest.FixtureRequest) -> Build:
    return request.param  # type: ignore[no-any-return]


def test_documents_are_float32_c_contiguous_rows(build: Build) -> None:
    embedder = build()
    vectors = embedder.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dim)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous


def test_no_texts_gives_an_empty_matrix_of_the_right_width(build: Build) -> None:
    embedder = build()
    assert embedder.embed_documents([]).shape == (0, embedder.dim)
    assert embedder.embed_queries([]).vectors.shape == (0, embedder.dim)


def test_embedding_is_deterministic_and_independent_of_the_batch(build: Build) -> None:
    embedder = build()
    together = embedder.embed_documents(TEXTS)
    np.testing.assert_array_equal(together, embedder.embed_documents(TEXTS))
    alone = embedder.embed_documents(TEXTS[:1])
    np.testing.assert_allclose(alone[0], together[0], atol=1e-5)


def test_normalized_vectors_have_unit_length(build: Build) -> None:
    vectors = build(normalize=True).embed_documents(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_truncate_dim_keeps_a_renormalized_prefix(build: Build) -> None:
    full = build().embed_documents(TEXTS[:2])
    short = build(truncate_dim=32)
    vectors = short.embed_documents(TEXTS[:2])
    assert short.dim == 32
    assert vectors.shape == (2, 32)
    prefix = full[:, :32] / np.linalg.norm(full[:, :32], axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, prefix, atol=1e-5)


def test_prompts_change_their_side_only(build: Build) -> None:
    plain = build()
    prompted = build(query_prompt="query: ", document_prompt="passage: ")
    assert not np.allclose(
        plain.embed_queries(TEXTS[:2]).vectors, prompted.embed_queries(TEXTS[:2]).vectors
    )
    assert not np.allclose(plain.embed_documents(TEXTS[:2]), prompted.embed_documents(TEXTS[:2]))
    query_only = build(query_prompt="query: ")
    np.testing.assert_allclose(
        plain.embed_documents(TEXTS[:2]), query_only.embed_documents(TEXTS[:2]), atol=1e-6
    )


def test_queries_carry_the_embedder_fingerprint(build: Build) -> None:
    embedder = build()
    result = embedder.embed_queries(["where do cats sleep"])
    assert result.fingerprint == embedder.fingerprint
    assert result.vectors.shape == (1, embedder.dim)


def test_fingerprint_is_stable_and_tracks_vector_options_only(build: Build) -> None:
    embedder = build()
    assert len(embedder.fingerprint) == 64
    int(embedder.fingerprint, 16)
    rebuilt = type(embedder)(embedder.spec)  # type: ignore[call-arg]
    assert rebuilt.fingerprint == embedder.fingerprint
    assert build(batch_size=3).fingerprint == embedder.fingerprint
    variants = [
        build(normalize=False),
        build(truncate_dim=32),
        build(query_prompt="query: "),
        build(document_prompt="passage: "),
    ]
    prints = {embedder.fingerprint, *(v.fingerprint for v in variants)}
    assert len(prints) == 1 + len(variants)


def test_a_related_sentence_ranks_above_an_unrelated_one(build: Build) -> None:
    embedder = build()
    docs = embedder.embed_documents(
        ["Cats sleep for most of the day.", "The stock market fell sharply on Monday."]
    )
    query = embedder.embed_queries(["How many hours do cats sleep?"]).vectors[0]
    related, unrelated = docs @ query
    assert related > unrelated


def test_a_bare_string_is_refused(build: Build) -> None:
    with pytest.raises(InvalidInputError, match="sequence of strings"):
        build().embed_documents("not a list")


def test_load_embedder_shares_one_instance_per_spec(build: Build) -> None:
    assert build() is build()


@pytest.mark.slow
def test_the_real_models_differ_in_dimension_and_fingerprint() -> None:
    minilm, int8, mpnet = _minilm(), _minilm_int8(), _mpnet()
    assert (minilm.dim, int8.dim, mpnet.dim) == (384, 384, 768)
    assert len({minilm.fingerprint, int8.fingerprint, mpnet.fingerprint}) == 3
    cosines = (minilm.embed_documents(TEXTS[:3]) * int8.embed_documents(TEXTS[:3])).sum(axis=1)
    assert cosines.min() > 0.97  # int8 stays close to fp32 (about 0.994 on average)


@pytest.mark.slow
@pytest.mark.parametrize("build_model", [_minilm, _mpnet], ids=["minilm", "mpnet"])
@pytest.mark.parametrize("prompt", ["", "query: "])
def test_one_text_gets_the_vector_the_library_encode_gives_it(
    build_model: Build, prompt: str
) -> None:
    """A lone query skips ``SentenceTransformer.encode``'s per-call set-up (indexes/
    st_embedder.py): the vector must be the one ``encode`` returns, bit for bit, or a
    search would no longer match the documents embedded in batches."""
    embedder = build_model(query_prompt=prompt, document_prompt=prompt, normalize=False)
    model = embedder._loaded.model  # type: ignore[attr-defined]  # the library's own object
    for text in [*TEXTS, "x " * 600]:  # the last one is past the model's max length
        expected = model.encode(
            [text], prompt=prompt or None, convert_to_numpy=True, show_progress_bar=False
        )
        np.testing.assert_array_equal(embedder.embed_queries([text]).vectors, expected)
        np.testing.assert_array_equal(embedder.embed_documents([text]), expected)
