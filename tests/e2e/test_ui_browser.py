"""The status page in a real browser, after a real story: Debian's chromium, headless.

A real server (MiniLM) takes the bundled sample; a good migration (HNSW32) is judged, canaried
and finalized; a bad one (MiniLM cut to 16 dimensions) is rolled back by the watchdog on its
own. Then chromium loads ``/ui`` and the DOM must show the recall plot and every audit event,
the watchdog's rollback among them. ``SWITCHOVER_UPDATE_SCREENSHOT=1`` refreshes ``docs/ui.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from evals import load_dataset
from tests.conftest import REPO, SAMPLE_DIR
from tests.server import ServerProcess

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"  # Debian's package; `make test` installs it when missing
SCREENSHOT = REPO / "docs" / "ui.png"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
    "--virtual-time-budget=8000",
)
GOOD = {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 64}}
BAD = {"name": "v3", "factory": "Flat", "embedder": {"truncate_dim": 16}}  # as the demo's

Status = dict[str, Any]


def chromium() -> str:
    """The browser, or a failure that says how to get it (CI installs it; never a skip)."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if found is None:
        pytest.fail(
            "chromium is not installed: the status-page test drives Debian's headless chromium."
            " Run `make test` (it installs it) or `apt-get install -y chromium`."
        )
    return found


def browse(url: str, profile: Path, *mode: str) -> str:
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *mode, url],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


class Elements(HTMLParser):
    """Every start tag of a document as (tag, attributes), in document order."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {key: value or "" for key, value in attrs}))

    def having(self, tag: str, cls: str, **data: str) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.found
            if name == tag
            and cls in attrs.get("class", "").split()
            and all(attrs.get(f"data-{key}") == value for key, value in data.items())
        ]


def wait_for(
    fetch: Callable[[], Status], done: Callable[[Status], bool], what: str, log: Path
) -> Status:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = fetch()
        if done(status):
            return status
        time.sleep(0.5)
    raise AssertionError(
        f"timed out waiting for {what}: {fetch()}\nserver log:\n{log.read_text()[-3000:]}"
    )


def recall_state(status: Status) -> str:
    checks = [c for c in status.get("guardrails", []) if c["name"] == "recall"]
    return str(checks[0]["state"]) if checks else "hold"


class Operator:
    def __init__(self, http: httpx.Client, log: Path) -> None:
        self.http = http
        self.log = log

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Status:
        response = self.http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        result: Status = response.json()
        return result

    def current(self) -> Status:
        return self.call("GET", "/v1/migrations/current")

    def start(self, target: dict[str, Any], shadow_sample: float) -> int:
        body = {
            "target": target,
            "eval_set": "sample",
            "canary_steps": [25, 50],
            "shadow_sample": shadow_sample,
        }
        mid = int(self.call("POST", "/v1/migrations", body)["id"])
        self.call("POST", f"/v1/migrations/{mid}/backfill")
        wait_for(self.current, lambda s: bool(s["backfill"]["finished"]), "backfill", self.log)
        self.call("POST", f"/v1/migrations/{mid}/shadow")
        return mid


def load_sample(http: httpx.Client) -> list[str]:
    """Ingest the bundled sample and register its questions; returns the question texts."""
    data = load_dataset(SAMPLE_DIR)
    docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus]
    for start in range(0, len(docs), 64):
        batch = {"documents": docs[start : start + 64]}
        http.put("/v1/documents", json=batch).raise_for_status()
    eval_set = {"name": "sample", "path": str(SAMPLE_DIR.resolve()), "sample": 150, "seed": 0}
    http.post("/v1/eval-sets", json=eval_set).raise_for_status()
    return [q.text for q in data.queries]


def run_story(http: httpx.Client, log: Path) -> tuple[int, int]:
    """A good migration finalized, a bad one rolled back by the watchdog; some live reads."""
    questions = load_sample(http)
    op = Operator(http, log)
    good = op.start(GOOD, shadow_sample=0.5)
    judged = wait_for(op.current, lambda s: recall_state(s) != "hold", "a judgement", log)
    assert recall_state(judged) == "ok", judged.get("guardrails")
    for action in ("canary", "canary", "cutover", "finalize"):
        op.call("POST", f"/v1/migrations/{good}/{action}")
    bad = op.start(BAD, shadow_sample=1.0)
    wait_for(op.current, lambda s: s["phase"] == "rolled_back", "the watchdog's rollback", log)
    for question in questions[:60]:  # reads on v2, shadowed on v3: p95 latency for both
        http.post("/v1/search", json={"query": question, "k": 10}).raise_for_status()
    return good, bad


def page_status(url: str) -> Status:
    response = httpx.get(f"{url}/ui/status.json", timeout=60)  # no token
    response.raise_for_status()
    result: Status = response.json()
    return result


def test_the_status_page_shows_the_plot_and_the_watchdogs_rollback(tmp_path: Path) -> None:
    chromium()  # fail first, not after minutes of migrating, when the browser is missing
    with (
        ServerProcess(tmp_path / "home", eval_data_roots=[SAMPLE_DIR]) as server,
        httpx.Client(base_url=server.url, timeout=600, headers=server.operator_header) as http,
    ):
        good, bad = run_story(http, server.log_path)
        status = wait_for(
            lambda: page_status(server.url),
            lambda s: (
                any(r["origin"] == "watchdog-rollback" for r in s["eval_runs"])
                and all(i["latency_samples"] > 0 for i in s["indexes"] if i["name"] in ("v2", "v3"))
            ),
            "the rollback's eval run and live latencies on the status page",
            server.log_path,
        )
        assert status["migration"]["phase"] == "rolled_back"
        assert server.token not in str(status)

        shot = tmp_path / "ui.png"
        browse(f"{server.url}/ui", tmp_path / "chromium", f"--screenshot={shot}")
        dom = Elements(browse(f"{server.url}/ui", tmp_path / "chromium", "--dump-dom"))

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000, "a blank page makes a tiny PNG"
    if os.environ.get("SWITCHOVER_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    assert ("body", {"data-state": "ready"}) in dom.found, "the page fetched and rendered"
    assert [a for tag, a in dom.found if tag == "svg" and a.get("id") == "recall-plot"]

    runs = [r for r in status["eval_runs"] if r["summary"]]
    recall_points = dom.having("circle", "recall")
    assert len(recall_points) == 2 * len(runs)
    assert {p["data-series"] for p in recall_points} == {"v1", "v2", "v3"}
    assert all(0.0 <= float(p["data-value"]) <= 1.0 for p in recall_points)
    deltas = {int(p["data-run"]): p for p in dom.having("circle", "delta")}
    by_migration = {r["migration_id"]: r for r in reversed(runs)}  # each one's newest run
    assert deltas[by_migration[good]["id"]]["data-decision"] == "pass"
    assert deltas[by_migration[bad]["id"]]["data-decision"] == "fail"
    assert float(deltas[by_migration[bad]["id"]]["data-value"]) < -0.02

    events = dom.having("li", "event")
    assert [int(e["data-id"]) for e in events] == [e["id"] for e in status["events"]]
    assert {int(e["data-migration"]) for e in events} == {good, bad}
    rollback = dom.having("li", "event", actor="watchdog", to="rolled_back")
    assert len(rollback) == 1
    assert rollback[0]["data-migration"] == str(bad)
    assert dom.having("details", "metrics"), "each decision's evidence can be expanded"
    assert dom.having("tr", "guardrail", name="recall", state="breach")
    assert dom.having("span", "phase", phase="rolled_back")
