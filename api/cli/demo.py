"""``switchover demo``: the whole product on one dataset, end to end, over real HTTP.

Ingest into v1 (MiniLM, Flat); migrate to a good target (HNSW) that the watchdog passes,
canary it step by step and finalize; then migrate to a bad target (MiniLM cut to its
first 16 dimensions, re-encoded) whose recall drop the watchdog catches and rolls back on
its own, while a writer keeps writing the whole time. Prints a timeline and writes the
reports.

Why that bad target: it must be bad by more than the judge can doubt on any corpus. A
coarse layout (IVF, nprobe 1) is not: on a 60-passage corpus the query's nearest list
usually holds its answer, so it loses 8-20 recall points, and 150 labelled queries
sometimes cannot tell that from the 2-point margin (the judge then rightly holds). Cut to 16
dimensions the vectors lose 18-40 points there (40 seeded simulations) and more on bigger
corpora.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from evals import Dataset, load_dataset
from indexes import use_faiss_threads
from indexes.errors import SwitchoverError
from migrator import load_settings

from ..app import create_app
from .client import Client

Say = Callable[[str], None]


class DemoError(SwitchoverError):
    """The demo could not show what it set out to show."""


class Writer(threading.Thread):
    """Keeps upserting and deleting small documents; remembers what was acknowledged."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True, name="demo-writer")
        self.url = url
        self.stop = threading.Event()
        self.live: dict[str, str] = {}
        self.acked = 0
        self.failed = 0

    def run(self) -> None:
        rng = random.Random(0)  # noqa: S311 - demo data
        with httpx.Client(base_url=self.url, timeout=60) as http:
            n = 0
            while not self.stop.wait(0.2):
                n += 1
                doc_id, text = f"live-{n}", distinct_note(rng, n)
                ok = http.put("/v1/documents", json={"documents": [{"id": doc_id, "text": text}]})
                if ok.status_code != 200:
                    self.failed += 1
                    continue
                self.live[doc_id] = text
                self.acked += 1
                if n % 5 == 0:
                    victim = rng.choice(sorted(self.live))
                    if http.delete(f"/v1/documents/{victim}").status_code == 200:
                        self.live.pop(victim)
                        self.acked += 1


_WORDS = [
    "harbour",
    "pilot",
    "tide",
    "ledger",
    "copper",
    "kiln",
    "orchard",
    "glacier",
    "violin",
    "monsoon",
    "lantern",
    "quarry",
    "falcon",
    "meadow",
    "cipher",
    "bakery",
    "comet",
    "canyon",
    "ferry",
    "saddle",
    "marble",
    "harvest",
    "beacon",
    "tundra",
    "pottery",
    "lagoon",
    "turbine",
    "atlas",
    "cedar",
    "mosaic",
    "prairie",
    "reef",
    "spindle",
    "chapel",
    "compass",
    "dune",
]


def distinct_note(rng: random.Random, n: int) -> str:
    """A short, distinct note (near-duplicate floods are a different test)."""
    return f"note {n}: " + " ".join(rng.choice(_WORDS) for _ in range(12))


BAD_DIMENSIONS = 16  # of MiniLM's 384: vectors a twenty-fourth the size, and much worse


class Demo:
    def __init__(self, client: Client, say: Say, report_dir: Path) -> None:
        self.client = client
        self.say = say
        self.report_dir = report_dir
        self.started = time.monotonic()
        self.seen_events: set[int] = set()

    def log(self, text: str) -> None:
        self.say(f"[{time.monotonic() - self.started:6.1f}s] {text}")

    def events(self, mid: int) -> None:
        for e in self.client.request("GET", f"/v1/migrations/{mid}/events")["events"]:
            if e["id"] in self.seen_events:
                continue
            self.seen_events.add(e["id"])
            share = f" {e['canary_percent']:g}%" if e["to_phase"] == "canary" else ""
            self.log(
                f"  event: {e['from_phase'] or '-'} -> {e['to_phase']}{share}"
                f" by {e['actor']}: {e['reason']}"
            )

    def wait(
        self, mid: int, done: Callable[[dict[str, Any]], bool], what: str, timeout: float = 900
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.client.request("GET", "/v1/migrations/current")
            self.events(mid)
            if done(status):
                return status
            time.sleep(0.5)
        seen = {key: status.get(key) for key in ("phase", "guardrails", "judgement", "watchdog")}
        raise DemoError(f"timed out waiting for {what}; last status: {json.dumps(seen)}")

    def action(self, mid: int, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status: dict[str, Any] = self.client.request(
            "POST", f"/v1/migrations/{mid}/{name}", body or {}
        )
        self.events(mid)
        return status

    def migrate(self, target: dict[str, Any], eval_set: str, *, expect_pass: bool) -> int:
        body = {
            "target": target,
            "eval_set": eval_set,
            "canary_steps": [5, 25, 50],
            "shadow_sample": 0.5,
        }
        created = self.client.request("POST", "/v1/migrations", body)
        mid = int(created["id"])
        knobs = {**target.get("search_params", {}), **target.get("embedder", {})}
        params = ", ".join(f"{k}={v}" for k, v in knobs.items())
        self.log(
            f"migration {mid}: {created['source']} -> {target['name']}"
            f" ({target['factory']}{', ' + params if params else ''})"
        )
        self.action(mid, "backfill")
        self.wait(mid, lambda s: bool(s["backfill"]["finished"]), "the backfill")
        self.action(mid, "shadow")
        self.log("  shadow on; the watchdog draws eval-set queries and judges recall")
        status = self.wait(
            mid,
            lambda s: _recall_state(s) != "hold" or s["phase"] != "shadow",
            "a recall judgement",
        )
        if not expect_pass:
            status = self.wait(mid, lambda s: s["phase"] == "rolled_back", "the rollback", 120)
            return mid
        if status["phase"] != "shadow" or _recall_state(status) != "ok":
            raise DemoError(f"the good target did not pass: {status.get('guardrails')}")
        for _ in status["plan"]["canary_steps"]:
            self.action(mid, "canary")
            time.sleep(1.0)
        self.action(mid, "cutover")
        time.sleep(1.0)
        self.action(mid, "finalize")
        return mid

    def write_reports(self, mids: list[int]) -> list[Path]:
        self.report_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for mid in mids:
            runs = self.client.request("GET", f"/v1/evals?migration_id={mid}")["evals"]
            for run in runs[:1]:  # the newest: the one the decision rested on
                for fmt, suffix in (("html", "html"), ("markdown", "md")):
                    text = self.client.request_text("GET", f"/v1/evals/{run['id']}?format={fmt}")
                    path = self.report_dir / f"migration-{mid}-eval-{run['id']}.{suffix}"
                    path.write_text(text, encoding="utf-8")
                    written.append(path)
        return written


def _recall_state(status: dict[str, Any]) -> str:
    for check in status.get("guardrails", []):
        if check["name"] == "recall":
            return str(check["state"])
    return "hold"


def run_demo(data_dir: Path, home: Path | None, port: int, report_dir: Path, say: Say) -> int:
    """Run the demo; returns 0 when every step showed what it should."""
    data = load_dataset(data_dir)
    scratch = None
    if home is None:
        scratch = Path(tempfile.mkdtemp(prefix="switchover-demo-"))
        home = scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    if (home / "switchover.db").exists():
        raise DemoError(f"{home} already holds a switchover database; the demo needs a new home")
    token = "demo-operator"  # noqa: S105 - a throwaway token for a loopback-only demo server
    settings = load_settings(home, port=port, operator_tokens={"demo": token})
    # the demo registers its data folder as the eval set: allow it as an eval data root
    settings = replace(settings, eval_data_roots=(*settings.eval_roots, data_dir.resolve()))
    use_faiss_threads(1)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True, name="demo-server")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    client = Client(url, token=token, timeout=600)
    demo = Demo(client, say, report_dir)
    try:
        _wait_healthy(url)
        demo.log(f"server up at {url}, home {home}")
        _load(client, demo, data, data_dir)
        writer = Writer(url)
        writer.start()
        good = demo.migrate(
            {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 64}},
            "demo",
            expect_pass=True,
        )
        demo.log("v2 (HNSW32, efSearch 64) passed, canaried and is now the primary")
        bad = demo.migrate(
            {"name": "v3", "factory": "Flat", "embedder": {"truncate_dim": BAD_DIMENSIONS}},
            "demo",
            expect_pass=False,
        )
        demo.log(
            f"v3 (MiniLM cut to {BAD_DIMENSIONS} dimensions) was rolled back by the watchdog;"
            " writes continued"
        )
        time.sleep(1.0)
        writer.stop.set()
        writer.join()
        _check_both_sides(client, demo, writer)
        client.request("POST", f"/v1/migrations/{bad}/abort", {"reason": "demo: bad layout"})
        demo.events(bad)
        reports = demo.write_reports([good, bad])
        demo.log(f"writer: {writer.acked} acknowledged writes, {writer.failed} failed")
        for path in reports:
            demo.log(f"report: {path}")
        return 0
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        client.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _load(client: Client, demo: Demo, data: Dataset, data_dir: Path) -> None:
    """Ingest the corpus into v1 and register the eval set that judges both migrations."""
    for start in range(0, len(data.corpus), 128):
        batch = [
            {"id": d.id, "text": d.embedding_text(), "metadata": {"title": d.title}}
            for d in data.corpus[start : start + 128]
        ]
        client.upsert(batch)
    demo.log(f"ingested {len(data.corpus)} documents into v1 (MiniLM, Flat)")
    sample = min(1000, len(data.judged_queries()))
    client.request(
        "POST",
        "/v1/eval-sets",
        {"name": "demo", "path": str(data_dir.resolve()), "sample": sample, "seed": 0},
    )
    demo.log(f"eval set 'demo': {sample} labelled queries (seed 0)")


def _check_both_sides(client: Client, demo: Demo, writer: Writer) -> None:
    """Every write the writer made is on the primary and on the rolled-back target."""
    documents = client.request("GET", "/healthz")["documents"]
    for name in ("v2", "v3"):  # a pinned read closes any apply gap first
        client.request("POST", f"/v1/indexes/{name}/search", {"query": "tide", "k": 1})
    indexes = {i["name"]: i for i in client.request("GET", "/v1/indexes")["indexes"]}
    counts = {name: indexes[name]["count"] for name in ("v2", "v3")}
    if set(counts.values()) != {documents}:
        raise DemoError(f"index counts {counts} differ from the {documents} live documents")
    demo.log(
        f"both v2 and v3 hold all {documents} live documents, including the writer's"
        f" {len(writer.live)} (none lost)"
    )


def _wait_healthy(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise DemoError(f"the demo server at {url} did not come up")
