"""The evals package says what it offers and depends on nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

import evals

PACKAGE = Path(evals.__file__).parent

EXPECTED = {
    "CorpusDoc",
    "Dataset",
    "Decision",
    "EvalRun",
    "Judgement",
    "Query",
    "QueryResult",
    "Searcher",
    "evaluate",
    "judge",
    "judge_sequentially",
    "KnownItem",
    "known_items",
    "load_corpus",
    "load_dataset",
    "load_qrels",
    "load_queries",
    "look_schedule",
    "mean",
    "mrr_at_k",
    "ndcg_at_k",
    "overlap_at_k",
    "paired_deltas",
    "recall_at_k",
    "required_samples",
    "run_to_dict",
    "to_html",
    "to_markdown",
}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(evals.__all__) == EXPECTED
    for name in evals.__all__:
        assert getattr(evals, name) is not None


def test_modules_import_nothing_from_the_layers_above() -> None:
    forbidden = {"migrator", "api", "fastapi", "sqlite3", "sqlite_utils", "scipy"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & forbidden, f"{path.name} imports {roots & forbidden}"
