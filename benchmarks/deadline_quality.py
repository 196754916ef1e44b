"""Decision quality with the deadline on doubt: 20 seeds per row, real and simulated deltas.

Real per-query recall@10 deltas come from SQuAD dev with MiniLM (every passage, every
question, judged against the qrels): the source is Flat; the targets are Flat itself (A/A),
Flat over document vectors with a few passages dropped or with Gaussian noise added (each
tuned to about 3 points worse), and IVF64 at nprobe 8. Simulated deltas are drawn in
{-1, 0, +1} with the given mean and sd (a 10,000-query pool). Each seed is one random order
of the pool; ``migrator.rollout_sim.simulate`` runs the watchdog's sequential judgement and
the plan's inconclusive policy over it, starting with reads on the target (a canary pushed
through, or a judgement restarted mid-canary) or in shadow.
Results: ``benchmarks/results/decision_quality_deadline.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import numpy.typing as npt
from _common import SQUAD, machine, now_utc, quick_mode, write_results

from migrator.inconclusive import InconclusivePolicy
from migrator.rollout_sim import Start, simulate

SEEDS = 20
POOL = 10_000
RATE_QPS = 25.0  # the watchdog's default: 25 queries a tick, a tick a second
POLICIES: dict[str, tuple[InconclusivePolicy | None, Start]] = {
    "canary, no policy": (None, "canary"),
    "canary, default (pool exhausted / 3600 s)": (InconclusivePolicy(), "canary"),
    "canary, deadline 300 s": (
        InconclusivePolicy(deadline_s=300.0, on_pool_exhausted=True),
        "canary",
    ),
    "shadow, default": (InconclusivePolicy(), "shadow"),
}
ENDS = ("passed", "failed", "rolled_back", "frozen", "blocked", "held")


def simulated(mean: float, sd: float, seed: int, n: int = POOL) -> npt.NDArray[np.float64]:
    """``n`` deltas in {-1, 0, +1} with the given mean and sd (as tests/evals/simulation.py)."""
    second = sd * sd + mean * mean
    lose, gain = (second - mean) / 2, (second + mean) / 2
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 0.0, 1.0], size=n, p=[lose, 1 - lose - gain, gain])


def tally(pools: list[npt.NDArray[np.float64]]) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {}
    for label, (policy, start) in POLICIES.items():
        ends: Counter[str] = Counter()
        for deltas in pools:
            ends[simulate(deltas, policy, start=start, rate_qps=RATE_QPS).end] += 1
        rows[label] = {end: ends[end] for end in ENDS}
    return rows


def real_deltas(quick: bool, passages: int | None) -> dict[str, npt.NDArray[np.float64]]:
    """Per-query recall@10 deltas of each real target against Flat, on SQuAD dev."""
    import faiss  # noqa: PLC0415 - only the real-data rows need FAISS and the model

    from evals import load_dataset, recall_at_k  # noqa: PLC0415
    from indexes import EmbedderSpec, load_embedder  # noqa: PLC0415

    data = load_dataset(SQUAD)
    corpus = data.corpus
    if passages:  # a seeded subset and the questions answered inside it
        corpus = random.Random(3).sample(corpus, min(passages, len(corpus)))
    kept = {d.id for d in corpus}
    judged = [q for q in data.judged_queries() if set(data.qrels[q.id]) <= kept]
    if quick:
        judged = judged[:1500]
    embedder = load_embedder(EmbedderSpec())
    docs = embedder.embed_documents([d.embedding_text() for d in corpus])
    queries = embedder.embed_queries([q.text for q in judged]).vectors
    ids = [d.id for d in corpus]
    qrels = [data.qrels[q.id] for q in judged]

    def recall(vectors: Any, keep: npt.NDArray[np.bool_] | None = None, **params: int) -> Any:
        factory = "IVF64,Flat" if params else "Flat"
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        rows = np.arange(len(ids)) if keep is None else np.flatnonzero(keep)
        index.train(vectors[rows])
        index.add(vectors[rows])
        for key, value in params.items():
            faiss.ParameterSpace().set_index_parameter(index, key, value)
        _, found = index.search(queries, 10)
        return np.array(
            [
                recall_at_k([ids[rows[j]] for j in row if j >= 0], rel, 10)
                for row, rel in zip(found, qrels, strict=True)
            ]
        )

    source = recall(docs)

    def dropped(share: float) -> Any:
        keep = np.random.default_rng(13).random(len(ids)) >= share
        return recall(docs, keep) - source

    def noisy(sigma: float) -> Any:
        noise = np.random.default_rng(17).normal(0, sigma, docs.shape).astype(np.float32)
        moved = docs + noise
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        return recall(moved) - source

    return {
        "A/A: Flat (identical)": recall(docs) - source,
        "Flat, 3% of passages dropped": _tuned(dropped, 0.01, 0.08),
        "Flat, noise on every vector": _tuned(noisy, 0.005, 0.1),
        "IVF64,Flat nprobe 8": recall(docs, nprobe=8) - source,
    }


def _tuned(make: Any, low: float, high: float, goal: float = -0.032) -> Any:
    """Bisect the degradation until the mean delta is within 0.3 points of ``goal``."""
    deltas = make((low + high) / 2)
    for _ in range(12):
        if abs(float(deltas.mean()) - goal) <= 0.003:
            break
        mid = (low + high) / 2
        low, high = (mid, high) if deltas.mean() > goal else (low, mid)
        deltas = make((low + high) / 2)
    return deltas


def pools_of(deltas: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    """20 seeded random orders of the pool (the first ``POOL`` of each)."""
    return [
        deltas[np.random.default_rng(seed).permutation(len(deltas))][:POOL] for seed in range(SEEDS)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="simulated rows only, 5 seeds")
    parser.add_argument("--simulated-only", action="store_true")
    parser.add_argument(
        "--passages", type=int, default=None, help="a seeded subset of SQuAD (default: all)"
    )
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    started, clock = now_utc(), time.perf_counter()
    rows: list[dict[str, Any]] = []
    cases = {
        "simulated: 3 points worse, sd 0.28": (-0.03, 0.28),
        "simulated: 3 points worse, sd 0.18": (-0.03, 0.18),
        "simulated: identical, sd 0.28": (0.0, 0.28),
        "simulated: identical, sd 0.10": (0.0, 0.10),
    }
    for name, (mean, sd) in cases.items():
        pools = [simulated(mean, sd, seed) for seed in range(SEEDS)]
        rows.append(_row(name, "simulated", mean, sd, pools))
    if not (quick or args.simulated_only):
        for name, deltas in real_deltas(quick, args.passages).items():
            rows.append(
                _row(
                    name,
                    "SQuAD, MiniLM",
                    float(deltas.mean()),
                    float(deltas.std()),
                    pools_of(deltas),
                )
            )
    results = {
        "started": started,
        "seconds": round(time.perf_counter() - clock, 1),
        "machine": machine(),
        "seeds": SEEDS,
        "pool": POOL,
        "rate_qps": RATE_QPS,
        "margin": 0.02,
        "passages": args.passages,
        "rows": rows,
    }
    write_results("decision_quality_deadline", results, _markdown(results))


def _row(name: str, data: str, mean: float, sd: float, pools: list[Any]) -> dict[str, Any]:
    row = {
        "target": name,
        "deltas": data,
        "true_delta": round(mean, 4),
        "sd": round(sd, 3),
        "pool": len(pools[0]),
        "outcomes": tally(pools),
    }
    print(row, flush=True)
    return row


def _markdown(results: dict[str, Any]) -> list[str]:
    lines = [
        "# Decision quality with a deadline on doubt",
        "",
        f"Run {results['started']} on {results['machine']} ({results['seconds']} s);"
        " `make bench-deadline` (`benchmarks/deadline_quality.py`). Margin 0.02;"
        f" {results['seeds']} seeds per row, each a random order of the row's pool of paired"
        f" recall@10 deltas (up to {results['pool']:,}), judged sequentially (50, 100, 200, ...)"
        f" by `migrator.rollout_sim.simulate` at {results['rate_qps']:g} queries/s (the watchdog's"
        " default budget), with the plan's inconclusive policy (`migrator/inconclusive.py`)."
        + (
            f" Real rows: a seeded subset of {results['passages']:,} SQuAD dev passages and"
            " the questions answered inside it (pool: all of them)."
            if results.get("passages")
            else ""
        ),
        "",
        "Columns per policy: **pass** (the target keeps serving, or may advance), **fail**"
        " (the judge rolled it back), **incl.** (the inconclusive policy rolled it back),"
        " **blocked** (shadow: it may not advance, never served), **held** (no policy: the"
        " canary keeps serving a target nobody could judge).",
        "",
    ]
    labels = list(POLICIES)
    header = "| target | deltas | true delta | sd | pool | " + " | ".join(labels) + " |"
    lines += [header, "|" + "---|" * (5 + len(labels))]
    for row in results["rows"]:
        cells = [_cell(row["outcomes"][label]) for label in labels]
        lines.append(
            f"| {row['target']} | {row['deltas']} | {row['true_delta']:+.4f} | {row['sd']} |"
            f" {row['pool']:,} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Each cell: pass / fail / incl. / blocked / held, out of 20. A target 3 or more points"
        " worse must never pass (it ends rolled back, or is never served); an identical target"
        " may be rolled back (fail + incl.) at most once in 20.",
    ]
    return lines


def _cell(ends: dict[str, int]) -> str:
    return " / ".join(str(ends[e]) for e in ("passed", "failed", "rolled_back", "blocked", "held"))


if __name__ == "__main__":
    main()
