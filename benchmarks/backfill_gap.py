"""Where a re-encoding backfill loses time against one raw ``encode`` call (all-mpnet-base-v2).

``benchmarks/model_change.py`` measured the backfill through a real server at 0.74x raw
encoding for mpnet (0.99x for MiniLM int8) while it encoded 128 texts per call in id order.
This takes the backfill's differences from the raw figure apart, in one process on the same
seeded SQuAD passages: encoding in ``backfill_batch``-sized calls (128) instead of one call
over every text, those calls in id order or sorted by length over the window (what the
backfill does now: migrator/backfill.py), and encoding on a background thread (where the
backfill runs) instead of the main thread. Each row encodes fresh texts (a suffix defeats
the embedding cache) in one pass; rows alternate over ``--rounds`` rounds so a drift in the
machine's load falls on every row alike.

Needs ``make models``. Results: benchmarks/results/backfill_gap.md.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import SQUAD, machine, now_utc, ratio, write_results

from evals import load_dataset
from indexes import PACKAGED_MPNET, EmbedderSpec, load_embedder, resolve_model_path

CHUNK = 128  # the plan's default backfill_batch


def on_thread(fn: Callable[[], object]) -> None:
    thread = threading.Thread(target=fn)
    thread.start()
    thread.join()


def rows(texts: list[str]) -> dict[str, Callable[[list[str]], object]]:
    """Each way of encoding ``texts`` (made fresh per call by the caller)."""
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - slow import

    raw = SentenceTransformer(str(resolve_model_path(PACKAGED_MPNET)), device="cpu")
    embedder = load_embedder(EmbedderSpec(model=PACKAGED_MPNET))
    raw.encode(texts[:8], batch_size=32)
    embedder.embed_documents(["a warm-up", "of the embedder"])

    def encode(batch: list[str]) -> None:
        raw.encode(batch, batch_size=32, normalize_embeddings=True)

    def chunked(embed: Callable[[list[str]], object], batch: list[str]) -> None:
        for start in range(0, len(batch), CHUNK):
            embed(batch[start : start + CHUNK])

    def by_length(embed: Callable[[list[str]], object], batch: list[str]) -> None:
        chunked(embed, sorted(batch, key=len))  # the backfill's window, shortest first

    return {
        "raw encode, one call, main thread": encode,
        "raw encode, 128 per call, main thread": lambda b: chunked(encode, b),
        "raw encode, 128 per call, sorted by length, main thread": lambda b: by_length(encode, b),
        "raw encode, one call, background thread": lambda b: on_thread(lambda: encode(b)),
        "switchover embedder, one call, main thread": embedder.embed_documents,
        "switchover embedder, 128 per call, background thread (the backfill before)": (
            lambda b: on_thread(lambda: chunked(embedder.embed_documents, b))
        ),
        "switchover embedder, 128 per call sorted by length, background thread (the backfill)": (
            lambda b: on_thread(lambda: by_length(embedder.embed_documents, b))
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    docs = random.Random(7).sample(load_dataset(SQUAD).corpus, 400)[: args.passages]
    texts = [d.text for d in docs]
    ways = rows(texts)
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    fresh = 0
    for _ in range(args.rounds):
        for name, way in ways.items():
            fresh += 1
            batch = [f"{t} {'.' * fresh}" for t in texts]  # new texts: no cache hit
            started = time.perf_counter()
            way(batch)
            seconds[name].append(time.perf_counter() - started)
            print(f"{name}: {len(texts) / seconds[name][-1]:.2f} docs/s", flush=True)
    result = summary(texts, seconds)
    write_results("backfill_gap", result, markdown(result))


def summary(texts: list[str], seconds: dict[str, list[float]]) -> dict[str, Any]:
    rates = {name: len(texts) / (sum(s) / len(s)) for name, s in seconds.items()}
    base = rates["raw encode, one call, main thread"]
    return {
        "at": now_utc(),
        "machine": machine(),
        "passages": len(texts),
        "rounds": len(next(iter(seconds.values()))),
        "docs_per_s": {name: round(rate, 2) for name, rate in rates.items()},
        "vs_raw_one_call": {name: ratio(rate, base) for name, rate in rates.items()},
    }


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "# The mpnet backfill's gap to raw encoding, taken apart",
        "",
        f"Run {result['at']} on {result['machine']}; `python benchmarks/backfill_gap.py"
        f" --rounds {result['rounds']}`: {result['passages']} seeded SQuAD dev passages,"
        " all-mpnet-base-v2 on CPU, each row one pass over fresh texts per round, the rows"
        " alternating within a round.",
        "",
        "| way of encoding | docs/s | vs raw, one call, main thread |",
        "|---|---:|---:|",
    ]
    for name, rate in result["docs_per_s"].items():
        lines.append(f"| {name} | {rate} | {result['vs_raw_one_call'][name]} |")
    return lines


if __name__ == "__main__":
    main()
