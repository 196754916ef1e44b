"""The embedding cache: encode each unique text once per embedder fingerprint."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from indexes import (
    EmbedderSpec,
    HashEmbedder,
    InvalidInputError,
    MemoryEmbeddingCache,
    QueryVectors,
    content_hash,
    embed_documents_cached,
)


class CountingEmbedder:
    """A hash embedder that records every embed_documents call (a fake, not a mock)."""

    def __init__(self, spec: EmbedderSpec) -> None:
        self._inner = HashEmbedder(spec)
        self.spec = spec
        self.calls: list[list[str]] = []

    @property
    def fingerprint(self) -> str:
        return self._inner.fingerprint

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self._inner.embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> QueryVectors:
        return self._inner.embed_queries(texts)


@pytest.fixture
def embedder(hash_spec: EmbedderSpec) -> CountingEmbedder:
    return CountingEmbedder(hash_spec)


def test_content_hash_is_sha256_of_utf8() -> None:
    assert content_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert content_hash("é") != content_hash("e")


def test_only_unique_misses_reach_the_model_in_one_call(embedder: CountingEmbedder) -> None:
    cache = MemoryEmbeddingCache()
    result = embed_documents_cached(embedder, cache, ["a b", "c d", "a b"])
    assert result.encoded == 2
    assert embedder.calls == [["a b", "c d"]]
    np.testing.assert_array_equal(result.vectors[0], result.vectors[2])
    expected = HashEmbedder(embedder.spec).embed_documents(["a b", "c d", "a b"])
    np.testing.assert_array_equal(result.vectors, expected)  # a fresh model, same vectors


def test_a_second_pass_encodes_nothing(embedder: CountingEmbedder) -> None:
    cache = MemoryEmbeddingCache()
    first = embed_documents_cached(embedder, cache, ["x", "y"])
    again = embed_documents_cached(embedder, cache, ["y", "x", "z"])
    assert again.encoded == 1
    assert embedder.calls[-1] == ["z"]
    np.testing.assert_array_equal(again.vectors[:2], first.vectors[::-1])


def test_another_fingerprint_never_sees_cached_vectors(embedder: CountingEmbedder) -> None:
    cache = MemoryEmbeddingCache()
    embed_documents_cached(embedder, cache, ["shared text"])
    other = CountingEmbedder(EmbedderSpec(kind="hash", dim=64, document_prompt="doc: "))
    assert embed_documents_cached(other, cache, ["shared text"]).encoded == 1


def test_a_damaged_cached_vector_is_re_encoded(embedder: CountingEmbedder) -> None:
    cache = MemoryEmbeddingCache()
    cache.put_many(embedder.fingerprint, {content_hash("t"): np.zeros(3, np.float32)})
    result = embed_documents_cached(embedder, cache, ["t"])
    assert result.encoded == 1
    assert result.vectors.shape == (1, embedder.dim)


def test_empty_input_touches_nothing(embedder: CountingEmbedder) -> None:
    result = embed_documents_cached(embedder, MemoryEmbeddingCache(), [])
    assert result.vectors.shape == (0, embedder.dim)
    assert result.encoded == 0
    assert embedder.calls == []


def test_cached_vectors_are_copies(embedder: CountingEmbedder) -> None:
    cache = MemoryEmbeddingCache()
    vec = np.ones(embedder.dim, np.float32)
    cache.put_many("fp", {"h": vec})
    vec[:] = 5
    assert cache.get_many("fp", ["h", "missing"])["h"][0] == 1.0
    assert len(cache) == 1


def test_a_bare_string_is_refused(embedder: CountingEmbedder) -> None:
    with pytest.raises(InvalidInputError):
        embed_documents_cached(embedder, MemoryEmbeddingCache(), "abc")
