"""``make bench``: every benchmark script in turn, each in its own process, then the summary.

``--quick`` runs each script's smoke configuration and writes under
``benchmarks/results/quick/`` instead, leaving the committed figures alone. A script that
fails is reported and the others still run; the exit status is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import now_utc, quick_mode, results_dir

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "core",
    "migration",
    "dual_write",
    "memory",
    "scale",
    "decision_quality",
    "postgres",
    "model_change",
    "filtered_search",
    "batch_search",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run of every script")
    parser.add_argument("--only", nargs="*", choices=SCRIPTS, help="run just these scripts")
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run: dict[str, object] = {"started": now_utc(), "quick": quick}
    timings: dict[str, dict[str, object]] = {}
    for name in args.only or SCRIPTS:
        flags = ["--quick"] if quick and name != "decision_quality" else []
        if quick and name == "decision_quality":
            print("decision_quality has no smoke mode; skipped with --quick", flush=True)
            continue
        print(f"=== {name} ===", flush=True)
        t0 = time.time()
        code = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), *flags], env=env, check=False
        ).returncode
        timings[name] = {"minutes": round((time.time() - t0) / 60, 1), "exit": code}
        print(f"=== {name}: exit {code}, {timings[name]['minutes']} min ===", flush=True)
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "run.json"
    if args.only and previous.exists():  # a partial run updates the scripts it ran
        earlier = json.loads(previous.read_text())
        timings = {**earlier.get("scripts", {}), **timings}
        run["started"] = earlier.get("started", run["started"])
        run["partial_runs"] = [*earlier.get("partial_runs", []), sorted(args.only)]
    run["scripts"] = timings
    run["minutes"] = round(sum(float(str(t["minutes"])) for t in timings.values()), 1)
    previous.write_text(json.dumps(run, indent=2) + "\n")
    subprocess.run([sys.executable, str(HERE / "summary.py")], env=env, check=True)
    if any(t["exit"] != 0 for t in timings.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
