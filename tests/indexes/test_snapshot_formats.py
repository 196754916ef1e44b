"""Snapshot formats: format 2 keeps the id map as two lists; format 1 (older homes) still
loads; a format this version does not know, or a state whose lists disagree, is refused."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indexes import VectorIndex, list_snapshots, load_latest_snapshot, write_snapshot

from .helpers import EXHAUSTIVE, FINGERPRINT, doc_ids, make_index, queries, unit_vectors

FORMAT_1 = Path(__file__).parent / "data" / "snapshots-format-1"
PROBE = queries(unit_vectors(5, seed=31))


def _as_built_for_the_format_1_fixture() -> VectorIndex:
    """The index the fixture was written from (its README), built afresh."""
    index = make_index("HNSW32,Flat")
    index.apply(1, dict(zip(doc_ids(20), unit_vectors(20, seed=7), strict=True)))
    index.apply(2, {"d3": unit_vectors(1, seed=8)[0]}, deletes=["d1"])
    return index


def _index() -> VectorIndex:
    index = make_index("HNSW32,Flat")
    index.apply(1, dict(zip(doc_ids(30), unit_vectors(30, seed=3), strict=True)))
    index.apply(2, {"d4": unit_vectors(1, seed=9)[0]}, deletes=["d2"])
    return index


def _rewrite_state(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit ``state.json`` and re-sign it in the manifest: a well-formed lie, not a torn file."""
    state = json.loads((folder / "state.json").read_bytes())
    change(state)
    data = json.dumps(state).encode()
    (folder / "state.json").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_bytes())
    manifest["files"]["state.json"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_format_2_keeps_the_id_map_as_two_lists_in_one_order(tmp_path: Path) -> None:
    index = _index()
    info = write_snapshot(index, tmp_path)
    state = json.loads((info.path / "state.json").read_bytes())
    assert "id_to_int" not in state
    assert len(state["ids"]) == len(state["labels"]) == len(index)
    pairs = dict(zip(state["ids"], state["labels"], strict=True))
    assert pairs == index.export_state().id_to_int
    assert state["tombstones"] == index.export_state().tombstones


def test_a_format_1_snapshot_from_an_older_home_still_loads(tmp_path: Path) -> None:
    shutil.copytree(FORMAT_1, tmp_path / "snapshots", ignore=shutil.ignore_patterns("*.md"))
    expected = _as_built_for_the_format_1_fixture()
    [folder] = (tmp_path / "snapshots").iterdir()
    assert json.loads((folder / "manifest.json").read_bytes())["format"] == 1

    loaded = load_latest_snapshot(tmp_path / "snapshots", expected.spec, FINGERPRINT)
    assert loaded is not None
    restored, info = loaded
    assert (info.applied_seq, info.count) == (2, 19)
    assert restored.ids() == expected.ids()
    assert restored.stats() == expected.stats()  # the two tombstones came back too
    assert restored.search(PROBE, 10, EXHAUSTIVE) == expected.search(PROBE, 10, EXHAUSTIVE)


def test_a_format_1_home_writes_format_2_next_and_both_load(tmp_path: Path) -> None:
    shutil.copytree(FORMAT_1, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.md"))
    spec = _as_built_for_the_format_1_fixture().spec
    loaded = load_latest_snapshot(tmp_path, spec, FINGERPRINT)
    assert loaded is not None
    restored = loaded[0]
    restored.apply(3, {"new": unit_vectors(1, seed=5)[0]})
    newer = write_snapshot(restored, tmp_path)
    assert json.loads((newer.path / "manifest.json").read_bytes())["format"] == 2
    again = load_latest_snapshot(tmp_path, spec, FINGERPRINT)
    assert again is not None
    assert again[1] == newer
    assert again[0].ids() == restored.ids()
    assert [s.applied_seq for s in list_snapshots(tmp_path)] == [3, 2]


def test_a_format_this_version_does_not_know_is_skipped_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = _index()
    info = write_snapshot(index, tmp_path)
    manifest = json.loads((info.path / "manifest.json").read_bytes())
    (info.path / "manifest.json").write_text(json.dumps({**manifest, "format": 3}))
    with caplog.at_level(logging.WARNING):
        assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is None
    assert "format 3 is not one this version reads (1, 2)" in caplog.text


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s: s["labels"].pop(), "ids and labels must be two lists of one length"),
        (lambda s: s.update(ids=[s["ids"][0]] * len(s["ids"])), "ids are not unique"),
        (lambda s: s["labels"].__setitem__(0, 1.5), "labels must be integers"),
        (lambda s: s["labels"].__setitem__(0, "7"), "labels must be integers"),
        (lambda s: s["ids"].__setitem__(0, 7), "ids must be strings"),
        (lambda s: s.update(labels=dict.fromkeys(s["ids"], 0)), "two lists of one length"),
    ],
    ids=["short", "duplicate ids", "float label", "string label", "int id", "object"],
)
def test_a_signed_state_whose_id_lists_disagree_is_refused(
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    index = _index()
    info = write_snapshot(index, tmp_path)
    _rewrite_state(info.path, change)
    with caplog.at_level(logging.WARNING):
        assert load_latest_snapshot(tmp_path, index.spec, FINGERPRINT) is None
    assert "unusable contents" in caplog.text
    assert why in caplog.text
