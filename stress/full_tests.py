"""``make test-full``: the long tests in their full form, summarised for the README.

Runs pytest with ``SWITCHOVER_FULL_TESTS=1`` on the tests that have a short form in the
suite (see ``tests/forms.py``), then writes ``stress/results/full_tests.md``: each test's
outcome and seconds, the machine's load before and after, and the command. The exit status
is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/e2e/test_demo.py",
    "tests/e2e/test_squad_recall.py",
    "tests/e2e/test_model_change_e2e.py",
    "tests/e2e/test_slice_regression.py",
    "tests/api/test_fuzz_schema.py",
]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def outcomes(junit: Path) -> list[tuple[str, str, float]]:
    """(test id, outcome, seconds) for every test case of a JUnit XML report."""
    rows = []
    # our own pytest's report, written a moment ago: not untrusted input
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcome = "failed" if failed else "skipped" if skipped else "passed"
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        rows.append((name, outcome, float(case.get("time", 0))))
    return rows


def report(rows: list[tuple[str, str, float]], loads: tuple[str, str], seconds: float) -> str:
    lines = [
        "# The long tests in their full form",
        "",
        f"Written by `make test-full` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" {seconds / 60:.1f} min on 2 shared cores; load average (1, 5, 15 min) {loads[0]}"
        f" before and {loads[1]} after. The suite (`make test`, CI) runs the same tests"
        " on less data (`tests/forms.py`).",
        "",
        "| test | outcome | seconds |",
        "|---|---|---:|",
    ]
    lines += [f"| `{name}` | {outcome} | {secs:.0f} |" for name, outcome, secs in rows]
    passed = sum(outcome == "passed" for _, outcome, _ in rows)
    lines += ["", f"{passed} of {len(rows)} passed.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "stress/results/full_tests.md")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args()
    junit = args.out.with_suffix(".xml")
    env = {**os.environ, "SWITCHOVER_FULL_TESTS": "1", "HF_HUB_OFFLINE": "1"}
    before, started = load_average(), time.monotonic()
    command = [sys.executable, "-m", "pytest", "-m", "slow", "-q", f"--junitxml={junit}"]
    done = subprocess.run([*command, *TESTS, *args.pytest_args], cwd=REPO, env=env, check=False)
    seconds = time.monotonic() - started
    args.out.write_text(report(outcomes(junit), (before, load_average()), seconds))
    junit.unlink()
    print(f"wrote {args.out}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
