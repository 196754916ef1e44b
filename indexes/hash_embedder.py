"""A deterministic embedder without a model: the fake that keeps tests fast.

Each lowercase word token is hashed (blake2b) into the seed of a Gaussian vector and
a text's vector is the sum of its tokens' vectors, so texts that share words land
close together. It honours the same contract as the real embedder (shapes,
prompts, truncation, normalisation, fingerprints), so one contract test covers both.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ._checks import check_texts
from .embedder_spec import EmbedderSpec, QueryVectors, canonical_json, finish_rows
from .errors import InvalidInputError

_TOKEN = re.compile(r"\w+")
_EMPTY_KEY = "\x00no-tokens"  # cannot collide with a \w+ token


@lru_cache(maxsize=1 << 14)  # ~4 MB of vectors at dim 64
def _token_vector(token: str, dim: int) -> np.ndarray:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    vec = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal(dim)
    out = vec.astype(np.float32)
    out.flags.writeable = False  # shared through the cache
    return out


class HashEmbedder:
    """Bag-of-hashed-words vectors; implements :class:`Embedder`."""

    def __init__(self, spec: EmbedderSpec) -> None:
        if spec.kind != "hash":
            raise InvalidInputError(f"HashEmbedder needs kind='hash', got {spec.kind!r}")
        self.spec = spec
        self._fingerprint = hashlib.sha256(
            ("hash" + canonical_json(spec.vector_options())).encode("utf-8")
        ).hexdigest()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self.spec.truncate_dim or self.spec.dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(check_texts(texts), self.spec.document_prompt)

    def embed_queries(self, texts: Sequence[str]) -> QueryVectors:
        return QueryVectors(
            self._embed(check_texts(texts), self.spec.query_prompt), self.fingerprint
        )

    def _embed(self, texts: list[str], prompt: str) -> np.ndarray:
        raw = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        empty: list[int] = []
        for i, text in enumerate(texts):
            tokens = _TOKEN.findall((prompt + text).lower())
            if not tokens:
                empty.append(i)
                raw[i] = _token_vector(_EMPTY_KEY, self.spec.dim)
            for token in tokens:
                raw[i] += _token_vector(token, self.spec.dim)
        out = finish_rows(raw, self.spec)
        if empty and not self.spec.normalize:  # a fixed unit vector whatever ``normalize`` says
            out[empty] /= np.linalg.norm(out[empty], axis=1, keepdims=True)
        return out
