"""The package's public surface is pinned, and importing it stays light and one-way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import indexes

PACKAGE = Path(indexes.__file__).parent

EXPECTED = {
    "INDEX_NAME_PATTERN",
    "PACKAGED_MINILM",
    "PACKAGED_MPNET",
    "OnnxInt8Embedder",
    "install_model",
    "model_status",
    "models_dir",
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
    "list_snapshots",
    "load_embedder",
    "load_latest_snapshot",
    "resolve_model_path",
    "snapshottable",
    "use_faiss_threads",
    "write_snapshot",
}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(indexes.__all__) == EXPECTED
    for name in indexes.__all__:
        assert getattr(indexes, name) is not None


def test_modules_import_nothing_from_the_layers_above() -> None:
    forbidden = {"migrator", "api", "evals", "sqlite3", "sqlite_utils"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & forbidden, f"{path.name} imports {roots & forbidden}"


def test_importing_the_package_does_not_load_torch() -> None:
    code = (
        "import sys, indexes;"
        " print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.strip() == "[]"


def test_importing_the_package_does_not_load_psycopg() -> None:
    """Only a pgvector index version imports ``indexes.pgvector`` (and psycopg with it)."""
    code = "import sys, indexes; print(sorted(m for m in sys.modules if 'psycopg' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.strip() == "[]"
