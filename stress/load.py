"""Load during a canary, with an automatic rollback in the middle.

A small asyncio client (loopback only; bounded concurrency, rate and duration) mixes
searches and writes against a real server (real MiniLM model) while a migration
``v1`` (``Flat``) -> ``v2`` (``HNSW32,Flat``, efSearch 64) is in canary. Part-way through,
an operator config change cripples the target (``v2`` efSearch 64 -> 1, through
``PUT /v1/config``); the script never sends a rollback: the watchdog must see the recall
loss in the live shadow reads and roll reads back on its own, while the load goes on.

Measured: requests by kind, failures (any non-2xx or transport error), client-side
p50/p95/p99 per kind in three windows (before the degradation, degradation to rollback,
after the rollback), which index served the reads in each window, and the time from the
degradation to the automatic rollback. Afterwards every acknowledged write is checked:
the document store holds its newest text (or 404 for a delete) at the acknowledged
sequence, and both indexes hold exactly the live documents (counts, lag 0, and a pinned
search per live or deleted document on each index).

Writes ``stress/results/load.json`` and ``load.md``; exits non-zero if any check fails.
Run: ``make load`` (about 7 minutes) or ``python stress/load.py --duration 60``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.cli.demo import distinct_note  # noqa: E402
from evals import Dataset, load_dataset  # noqa: E402
from migrator.routing import routes_to_target  # noqa: E402
from tests.server import ServerProcess, operator_header  # noqa: E402

RESULTS = REPO / "stress" / "results"
SQUAD = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))
SAMPLE = REPO / "data" / "sample"

# Hard bounds: this is a load script for one loopback server, not a traffic generator.
MAX_DURATION_S = 3600.0
MAX_CONCURRENCY = 64
MAX_RATE = 200.0

TARGET = {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 64}}
DEGRADE = {"indexes": {"v2": {"ef_search": 1}}}


class LoadError(Exception):
    """The scenario could not be set up (not a finding about the load itself)."""


def loopback_url(url: str) -> str:
    """The URL if it names a loopback host over http(s); otherwise refuse."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise SystemExit(f"refusing {url!r}: an http(s) URL with a host is needed")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise SystemExit(f"refusing {url!r}: this load script only targets loopback hosts")
    return url.rstrip("/")


# -- the record of every request ---------------------------------------------------------


@dataclass
class Call:
    kind: str  # search | upsert | delete
    started: float  # wall clock (time.time()), to compare with the server's event times
    ms: float
    status: int | None  # None: transport error
    served_by: str | None = None
    key: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class DocState:
    """What the client was told about one document it wrote: the newest acknowledgement."""

    text: str | None  # None: deleted
    seq: int
    last_text: str | None = None  # a deleted document's text before the delete


@dataclass
class Ledger:
    calls: list[Call] = field(default_factory=list)
    docs: dict[str, DocState] = field(default_factory=dict)
    uncertain: set[str] = field(default_factory=set)  # a write that failed: state unknown
    acked_upserts: int = 0
    acked_deletes: int = 0


class Pacer:
    """A global rate bound: requests start at most ``rate`` per second, evenly spaced."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            at = max(self.next, now)
            self.next = at + self.interval
        await asyncio.sleep(at - now)


# -- scenario setup (synchronous, before the load) ---------------------------------------


def corpus_and_eval_set(
    data_dir: Path, docs: int, scratch: Path
) -> tuple[list[dict[str, Any]], Path, list[str]]:
    """Documents to ingest, a BEIR folder for the eval set over them, and live queries.

    A corpus larger than ``docs`` is sampled (seeded) and the eval set keeps the queries
    whose judged documents are all in the sample.
    """
    data = load_dataset(data_dir)
    if len(data.corpus) <= docs:
        chosen, folder = list(data.corpus), data_dir
    else:
        chosen = random.Random(11).sample(data.corpus, docs)
        folder = _subset_folder(data, {d.id for d in chosen}, scratch / "eval")
    payload = [
        {"id": d.id, "text": d.embedding_text(), "metadata": {"title": d.title}} for d in chosen
    ]
    judged = load_dataset(folder).judged_queries()
    if len(judged) < 50:
        raise LoadError(f"only {len(judged)} judged queries over the sample; use more --docs")
    return payload, folder, [q.text for q in judged]


def _subset_folder(data: Dataset, ids: set[str], folder: Path) -> Path:
    folder.mkdir(parents=True)
    queries = [
        q for q in data.judged_queries() if {d for d, s in data.qrels[q.id].items() if s > 0} <= ids
    ]
    with (folder / "corpus.jsonl").open("w") as out:
        for d in data.corpus:
            if d.id in ids:
                out.write(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        for q in queries:
            out.write(json.dumps({"id": q.id, "text": q.text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q.id}\t{d}\t{s}" for q in queries for d, s in data.qrels[q.id].items()]
    (folder / "qrels.tsv").write_text("\n".join(lines) + "\n")
    return folder


def set_up(
    http: httpx.Client, auth: dict[str, str], args: argparse.Namespace, scratch: Path, say: Any
) -> tuple[int, list[str], dict[str, Any]]:
    """Ingest, register the eval set, migrate to the canary; returns (id, queries, info)."""
    docs, folder, queries = corpus_and_eval_set(args.data, args.docs, scratch)
    started = time.monotonic()
    for start in range(0, len(docs), 64):
        batch = docs[start : start + 64]
        http.put("/v1/documents", json={"documents": batch}).raise_for_status()
    say(f"ingested {len(docs)} documents into v1 in {time.monotonic() - started:.0f}s")
    sample = min(1000, len(queries))
    body = {"name": "load", "path": str(folder.resolve()), "sample": sample, "seed": 0}
    http.post("/v1/eval-sets", json=body, headers=auth).raise_for_status()
    plan = {
        "target": TARGET,
        "eval_set": "load",
        "canary_steps": [args.canary],
        "shadow_sample": args.shadow_sample,
    }
    created = http.post("/v1/migrations", json=plan, headers=auth)
    created.raise_for_status()
    mid = int(created.json()["id"])
    http.post(f"/v1/migrations/{mid}/backfill", headers=auth).raise_for_status()
    _wait(http, auth, lambda s: bool(s["backfill"]["finished"]), "the backfill", 600)
    http.post(f"/v1/migrations/{mid}/shadow", headers=auth).raise_for_status()
    status = _wait(http, auth, _recall_decided, "a recall judgement", 900)
    recall = _check(status, "recall")
    if status["phase"] != "shadow" or recall["state"] != "ok":
        raise LoadError(f"the good target did not pass its judgement: {recall}")
    say(f"v2 passed the recall judgement: {recall['detail']}")
    http.post(
        f"/v1/migrations/{mid}/canary", json={"percent": args.canary}, headers=auth
    ).raise_for_status()
    say(f"canary at {args.canary:g}%: sticky per X-Routing-Key")
    info = {"documents": len(docs), "eval_queries": sample, "recall_judgement": recall}
    return mid, queries, info


def _status(http: httpx.Client, auth: dict[str, str]) -> dict[str, Any]:
    response = http.get("/v1/migrations/current", headers=auth)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _wait(http: httpx.Client, auth: dict[str, str], done: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(http, auth)
        if done(status):
            return status
        time.sleep(0.5)
    raise LoadError(f"timed out waiting for {what}")


def _check(status: dict[str, Any], name: str) -> dict[str, Any]:
    for check in status.get("guardrails", []):
        if check["name"] == name:
            return dict(check)
    return {"name": name, "state": "hold", "detail": "not reported"}


def _recall_decided(status: dict[str, Any]) -> bool:
    return bool(status["phase"] != "shadow" or _check(status, "recall")["state"] != "hold")


# -- the load ----------------------------------------------------------------------------


@dataclass
class Timeline:
    started: float = 0.0  # wall clock
    degraded: float | None = None  # the config change's response: the crippled target is live
    degrade_sent: float | None = None
    rollback_seen: float | None = None  # first status poll that showed rolled_back
    phases: list[dict[str, Any]] = field(default_factory=list)
    degrade_response: dict[str, Any] | None = None


async def worker(
    wid: int,
    http: httpx.AsyncClient,
    pacer: Pacer,
    deadline: float,
    args: argparse.Namespace,
    queries: list[str],
    ledger: Ledger,
) -> None:
    """One simulated client: it owns its document ids, so its writes never race another's."""
    rng = random.Random(1000 + wid)
    live: list[str] = []
    texts: dict[str, str] = {}  # acknowledged text of each live document of ours
    n = 0
    while time.monotonic() < deadline:
        await pacer.wait()
        if time.monotonic() >= deadline:
            return
        key = f"user-{rng.randrange(args.users)}"
        headers = {"X-Routing-Key": key}
        if rng.random() >= args.write_ratio:
            body = {"query": rng.choice(queries), "k": 10}
            await _call(http, ledger, "search", "POST", "/v1/search", key, headers, body)
            continue
        draw = rng.random()
        if live and draw < 0.15:  # delete one of ours
            doc_id = live.pop(rng.randrange(len(live)))
            call = await _call(http, ledger, "delete", "DELETE", f"/v1/documents/{doc_id}", key)
            _acknowledge(ledger, call, doc_id, None, texts.pop(doc_id, None))
            continue
        if live and draw < 0.40:  # update one of ours with a new text
            doc_id = rng.choice(live)
        else:  # a new document
            n += 1
            doc_id = f"load-w{wid}-{n}"
            live.append(doc_id)
        text = distinct_note(rng, wid * 1_000_000 + n) + f" rev {rng.randrange(10**6)}"
        body = {"documents": [{"id": doc_id, "text": text}]}
        call = await _call(http, ledger, "upsert", "PUT", "/v1/documents", key, headers, body)
        if _acknowledge(ledger, call, doc_id, text):
            texts[doc_id] = text


async def _call(
    http: httpx.AsyncClient,
    ledger: Ledger,
    kind: str,
    method: str,
    path: str,
    key: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[Call, dict[str, Any]]:
    started, t0 = time.time(), time.perf_counter()
    payload: dict[str, Any] = {}
    try:
        response = await http.request(method, path, json=body, headers=headers)
        status: int | None = response.status_code
        error = None if response.is_success else response.text[:300]
        if response.is_success:
            payload = response.json()
    except httpx.HTTPError as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"
    ms = (time.perf_counter() - t0) * 1000
    call = Call(kind, started, ms, status, payload.get("served_by"), key, error)
    ledger.calls.append(call)
    return call, payload


def _acknowledge(
    ledger: Ledger,
    result: tuple[Call, dict[str, Any]],
    doc_id: str,
    text: str | None,
    last_text: str | None = None,
) -> bool:
    call, payload = result
    if not call.ok:
        ledger.uncertain.add(doc_id)  # counted as a failure; its state is unknown
        return False
    ledger.docs[doc_id] = DocState(text, int(payload["seq"]), last_text)
    if text is None:
        ledger.acked_deletes += 1
    else:
        ledger.acked_upserts += 1
    return True


async def operator(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    degrade_at: float,
    deadline: float,
    timeline: Timeline,
) -> None:
    """Polls the migration's phase, and makes the one bad config change at ``degrade_at``.

    It never sends a rollback: that is the watchdog's job.
    """
    phase = None
    while time.monotonic() < deadline:
        if timeline.degrade_sent is None and time.monotonic() >= degrade_at:
            timeline.degrade_sent = time.time()
            body = {**DEGRADE, "reason": "load: lower v2 efSearch to 1 to cut latency (a mistake)"}
            response = await http.put("/v1/config", json=body, headers=auth)
            response.raise_for_status()
            timeline.degraded = time.time()
            timeline.degrade_response = response.json()
        response = await http.get("/v1/migrations/current", headers=auth)
        response.raise_for_status()
        status = response.json()
        if status["phase"] != phase:
            phase = status["phase"]
            timeline.phases.append({"at": time.time(), "phase": phase})
            if phase == "rolled_back" and timeline.rollback_seen is None:
                timeline.rollback_seen = time.time()
        await asyncio.sleep(0.25)


async def run_load(
    url: str, token: str, args: argparse.Namespace, queries: list[str]
) -> tuple[Ledger, Timeline]:
    ledger, timeline = Ledger(), Timeline()
    limits = httpx.Limits(max_connections=args.concurrency + 2)
    auth = operator_header(token)
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as http:
        pacer = Pacer(args.rate)
        start = time.monotonic()
        timeline.started = time.time()
        deadline = start + args.duration
        tasks = [
            worker(w, http, pacer, deadline, args, queries, ledger) for w in range(args.concurrency)
        ]
        tasks.append(operator(http, auth, start + args.degrade_after, deadline, timeline))
        await asyncio.gather(*tasks)
    return ledger, timeline


# -- verification ------------------------------------------------------------------------


async def verify_writes(
    url: str,
    token: str,
    ledger: Ledger,
    indexes: tuple[str, ...],
    base_docs: int,
    *,
    revert: bool = True,
) -> dict[str, Any]:
    """Every acknowledged write is in the store and on each index; nothing extra is.

    ``revert=False``: another replica already reverted the config; only read it here.
    """
    auth = operator_header(token)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        # the operator undoes the bad change, so pinned searches on v2 are exact enough to
        # tell a lost write from a search miss (the rollback itself left the knob alone)
        config = await (
            http.post("/v1/config/revert", headers=auth)
            if revert
            else http.get("/v1/config", headers=auth)
        )
        config.raise_for_status()
        lag = await _wait_caught_up(http, indexes)
        health = (await http.get("/healthz")).json()
        live = {d: s for d, s in ledger.docs.items() if s.text is not None}
        deleted = {d for d, s in ledger.docs.items() if s.text is None}
        expected_docs = base_docs + len(live)
        sem = asyncio.Semaphore(4)
        wrong_store: list[str] = []
        missing: dict[str, list[str]] = {name: [] for name in indexes}
        resurrected: dict[str, list[str]] = {name: [] for name in indexes}

        async def check_store(doc_id: str, state: DocState) -> None:
            async with sem:
                response = await http.get(f"/v1/documents/{doc_id}")
            if state.text is None:
                if response.status_code != 404:
                    wrong_store.append(f"{doc_id}: deleted but GET gave {response.status_code}")
                return
            if response.status_code != 200:
                wrong_store.append(f"{doc_id}: GET gave {response.status_code}")
                return
            doc = response.json()
            if doc["text"] != state.text or int(doc["seq"]) != state.seq:
                wrong_store.append(f"{doc_id}: store has seq {doc['seq']}, acked {state.seq}")

        async def pinned(name: str, text: str, k: int) -> list[str]:
            async with sem:
                response = await http.post(
                    f"/v1/indexes/{name}/search", json={"query": text, "k": k}
                )
            response.raise_for_status()
            return [h["id"] for h in response.json()["hits"]]

        async def check_index(name: str, doc_id: str, text: str) -> None:
            if doc_id in await pinned(name, text, 10):
                return
            # an approximate index may rank an exact-text match low: widen once
            if doc_id not in await pinned(name, text, 100):
                missing[name].append(doc_id)

        async def check_deleted(name: str, doc_id: str, state: DocState) -> None:
            text = state.last_text
            if text is not None and doc_id in await pinned(name, text, 10):
                resurrected[name].append(doc_id)

        jobs = [check_store(d, s) for d, s in ledger.docs.items()]
        for name in indexes:
            jobs += [check_index(name, d, s.text) for d, s in live.items() if s.text]
            jobs += [check_deleted(name, d, ledger.docs[d]) for d in deleted]
        await asyncio.gather(*jobs)
        listing = {i["name"]: i for i in (await http.get("/v1/indexes")).json()["indexes"]}
    counts = {name: listing[name]["count"] for name in indexes}
    lost = (
        len(wrong_store)
        + sum(len(v) for v in missing.values())
        + sum(len(v) for v in resurrected.values())
        + sum(1 for c in counts.values() if c != expected_docs)
        + (health["documents"] != expected_docs)
    )
    return {
        "acknowledged_upserts": ledger.acked_upserts,
        "acknowledged_deletes": ledger.acked_deletes,
        "documents_written": len(ledger.docs),
        "live_written": len(live),
        "deleted_written": len(deleted),
        "uncertain": sorted(ledger.uncertain),
        "expected_documents": expected_docs,
        "store_documents": health["documents"],
        "last_seq": health["last_seq"],
        "index_counts": counts,
        "index_lag_records": lag,
        "store_mismatches": wrong_store[:20],
        "missing_from_index": {k: v[:20] for k, v in missing.items()},
        "deleted_but_found": {k: v[:20] for k, v in resurrected.items()},
        "pinned_searches": len(indexes) * (len(live) + len(deleted)),
        "lost_writes": lost,
        "config_reverted_to": config.json()["indexes"].get("v2"),
    }


async def _wait_caught_up(http: httpx.AsyncClient, indexes: tuple[str, ...]) -> dict[str, int]:
    deadline = time.monotonic() + 120
    lag: dict[str, int] = {}
    while time.monotonic() < deadline:
        listing = {i["name"]: i for i in (await http.get("/v1/indexes")).json()["indexes"]}
        lag = {name: int(listing[name]["lag_records"]) for name in indexes}
        if not any(lag.values()):
            return lag
        await asyncio.sleep(0.5)
    return lag


# -- analysis ----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)), 1) if values else None


def window_stats(calls: list[Call], start: float, end: float) -> dict[str, Any]:
    inside = [c for c in calls if start <= c.started < end]
    stats: dict[str, Any] = {
        "seconds": round(end - start, 1),
        "requests": len(inside),
        "failures": sum(not c.ok for c in inside),
        "served_by": dict(Counter(c.served_by for c in inside if c.kind == "search")),
    }
    for kind in ("search", "upsert", "delete"):
        ms = [c.ms for c in inside if c.kind == kind]
        stats[kind] = {"n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95)}
        stats[kind]["p99_ms"] = pct(ms, 99)
    return stats


def analyse(
    ledger: Ledger, timeline: Timeline, events: list[dict[str, Any]], mid: int, canary: float
) -> dict[str, Any]:
    calls = ledger.calls
    end = max((c.started + c.ms / 1000 for c in calls), default=timeline.started) + 1
    degraded = timeline.degraded or end
    rolled = timeline.rollback_seen or end
    windows = {
        "before": window_stats(calls, timeline.started, degraded),
        "during": window_stats(calls, degraded, rolled),
        "after": window_stats(calls, rolled, end),
    }
    # sticky routing while the canary held: a key the hash gives the source never reads
    # from the target; a key it gives the target reads from the source only when the
    # server diverted that read because the target had not yet applied the newest write
    per_key: defaultdict[str, set[str]] = defaultdict(set)
    to_target_wrongly = to_source = 0
    for c in calls:
        if c.kind == "search" and c.ok and c.started < degraded and c.key and c.served_by:
            per_key[c.key].add(c.served_by)
            on_target = routes_to_target(canary, c.key, mid)
            to_target_wrongly += not on_target and c.served_by != "v1"
            to_source += on_target and c.served_by != "v2"
    rollbacks = [e for e in events if e["to_phase"] == "rolled_back"]
    rollback = rollbacks[0] if rollbacks else None
    lagging = None if rollback is None else rollback["metrics"].get("lagging")
    evidence = None
    if rollback is not None:
        metrics = rollback["metrics"]
        evidence = {
            "event_id": rollback["id"],
            "at": rollback["at"],
            "actor": rollback["actor"],
            "from_phase": rollback["from_phase"],
            "reason": rollback["reason"],
            "breached": [c for c in metrics.get("guardrails", []) if c["state"] == "breach"],
            "guardrail_states": {c["name"]: c["state"] for c in metrics.get("guardrails", [])},
            "eval_run": metrics.get("eval_run"),
            "documents": metrics.get("documents"),
            "target_lag_records": metrics.get("target_lag_records"),
            "shadow": metrics.get("shadow"),
        }
    failures = [c for c in calls if not c.ok]
    return {
        "requests": dict(Counter(c.kind for c in calls)),
        "requests_total": len(calls),
        "failures": len(failures),
        "failure_examples": [
            {"kind": c.kind, "status": c.status, "error": c.error} for c in failures[:20]
        ],
        "windows": windows,
        "sticky": {
            "keys_seen": len(per_key),
            "keys_on_both_indexes": sum(len(v) > 1 for v in per_key.values()),
            "source_key_reads_served_by_target": to_target_wrongly,
            "target_key_reads_served_by_source": to_source,
            # the server's count of target reads it sent to the source because the target
            # was behind the newest acknowledged write (None: this server has no such rule)
            "server_lag_diversions_at_rollback": lagging,
        },
        "degradation": {
            "change": DEGRADE,
            "sent_at": timeline.degrade_sent,
            "in_effect_at": timeline.degraded,
            "config_version": (timeline.degrade_response or {}).get("version"),
            "seconds_into_load": _minus(timeline.degraded, timeline.started),
        },
        "rollback": {
            "automatic": evidence is not None and evidence["actor"] == "watchdog",
            "rollback_events": len(rollbacks),
            "seconds_from_degradation_to_rollback": _minus(
                None if rollback is None else rollback["at"], timeline.degraded
            ),
            "seconds_to_seen_by_client": _minus(timeline.rollback_seen, timeline.degraded),
            "evidence": evidence,
            "phases_seen": [
                {"phase": p["phase"], "t_s": _minus(p["at"], timeline.started)}
                for p in timeline.phases
            ],
            "audit_trail": [
                {"actor": e["actor"], "from": e["from_phase"], "to": e["to_phase"]} for e in events
            ],
        },
    }


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def judge_run(result: dict[str, Any]) -> dict[str, bool]:
    """The run's claims, each true or false; the script exits non-zero unless all hold."""
    w = result["windows"]
    rb = result["rollback"]
    evidence = rb["evidence"] or {}
    writes = result["writes"]
    degraded = result["degradation"]["sent_at"]
    sticky = result["sticky"]
    diverted = sum((sticky["server_lag_diversions_at_rollback"] or {}).values())
    return {
        "zero failed requests": result["failures"] == 0,
        "the degradation was applied": degraded is not None,
        "one rollback, by the watchdog, after the degradation": (
            rb["rollback_events"] == 1
            and rb["automatic"]
            and degraded is not None
            and evidence.get("at", 0) > degraded
        ),
        "sticky canary before the degradation (each read where its key's hash routes it)": (
            len(w["before"]["served_by"]) == 2
            and sticky["source_key_reads_served_by_target"] == 0
            and sticky["target_key_reads_served_by_source"] <= diverted
        ),
        "the load went on after the rollback (searches and writes)": (
            w["after"]["search"]["n"] > 0 and w["after"]["upsert"]["n"] > 0
        ),
        "every read after the rollback served by v1": set(w["after"]["served_by"]) == {"v1"},
        "zero lost writes (store and both indexes)": (
            writes["lost_writes"] == 0 and not writes["uncertain"]
        ),
        "both indexes caught up (lag 0)": not any(writes["index_lag_records"].values()),
    }


# -- reports -----------------------------------------------------------------------------


def write_reports(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "load.md").write_text(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    a, w, rb, wr = r["args"], r["windows"], r["rollback"], r["writes"]
    ev = rb["evidence"] or {}
    lines = [
        "# Load during a canary, with an automatic rollback in the middle",
        "",
        f"Run {r['run']} on {r['cores']} cores (shared with other work); `{r['command']}`;"
        f" server code {r['code']}.",
        "",
        "Real server (`switchover serve`, real MiniLM model) on loopback;"
        f" {r['setup']['documents']} documents from `{a['data']}`; eval set of"
        f" {r['setup']['eval_queries']} questions."
        f" Migration `v1` (`Flat`) -> `v2` (`HNSW32,Flat`, efSearch 64), recall judgement"
        f" passed, canary at {a['canary']:g}% (sticky per `X-Routing-Key`, {a['users']}"
        f" simulated users), shadow sample {a['shadow_sample']}. Load: {a['duration']:g} s,"
        f" {a['concurrency']} concurrent clients, at most {a['rate']:g} requests/s, write"
        f" ratio {a['write_ratio']} (upserts of new documents, updates, deletes).",
        "",
        f"At {r['degradation']['seconds_into_load']} s an operator config change set `v2`"
        " efSearch 64 -> 1 (`PUT /v1/config`). The script never sends a rollback.",
        "",
        "## Result",
        "",
        "| check | holds |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else '**NO**'} |" for name, ok in r["checks"].items()],
        "",
        f"Requests: {r['requests_total']} ({_kinds(r['requests'])}); failed (non-2xx or"
        f" transport error): **{r['failures']}**.",
        "",
        "| window | seconds | requests | search p50 / p95 / p99 ms | upsert p50 / p95 / p99 ms"
        " | delete p95 ms | reads served by |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {
        "before": "before the degradation",
        "during": "degradation to rollback",
        "after": "after the rollback",
    }
    for key, name in names.items():
        s = w[key]
        served = ", ".join(f"{k} {v}" for k, v in sorted(s["served_by"].items())) or "-"
        lines.append(
            f"| {name} | {s['seconds']} | {s['requests']} | {_p(s['search'])} | {_p(s['upsert'])}"
            f" | {s['delete']['p95_ms']} | {served} |"
        )
    lines += [
        "",
        "Latencies are client-side (request sent to response read), through the HTTP API.",
        "",
        f"Sticky routing before the degradation: {r['sticky']['keys_seen']} keys;"
        f" reads of source-hashed keys served by v2:"
        f" {r['sticky']['source_key_reads_served_by_target']}; reads of target-hashed keys"
        f" served by v1: {r['sticky']['target_key_reads_served_by_source']} (the server's"
        " count of reads it diverted to the source because the target had not yet applied"
        f" the newest write: {r['sticky']['server_lag_diversions_at_rollback']}).",
        "",
        "## The rollback",
        "",
        f"- time from the degradation to the automatic rollback:"
        f" **{rb['seconds_from_degradation_to_rollback']} s** (the audit event's time minus the"
        f" config change's response); seen by the client's status poll after"
        f" {rb['seconds_to_seen_by_client']} s.",
        f"- audit event {ev.get('event_id')}: `{ev.get('from_phase')} -> rolled_back` by"
        f" **{ev.get('actor')}**: {ev.get('reason')}",
        f"- guardrail states recorded with it: {ev.get('guardrail_states')}; eval run"
        f" {ev.get('eval_run')} stored with it.",
        "- audit trail: "
        + ", ".join(f"{e['from'] or '-'} -> {e['to']} ({e['actor']})" for e in rb["audit_trail"]),
        "",
        "## Writes",
        "",
        f"{wr['acknowledged_upserts']} upserts and {wr['acknowledged_deletes']} deletes"
        f" acknowledged over {wr['documents_written']} document ids ({wr['live_written']} live,"
        f" {wr['deleted_written']} deleted at the end). After the load (and the operator's"
        f" config revert, `v2` back to {wr['config_reverted_to']}): store"
        f" {wr['store_documents']} documents, expected {wr['expected_documents']}; index counts"
        f" {wr['index_counts']}, lag {wr['index_lag_records']}. Each written id read back"
        " (`GET /v1/documents/{id}`: the acknowledged text at the acknowledged sequence, or 404"
        f" after a delete), and {wr['pinned_searches']} pinned searches"
        " (`POST /v1/indexes/{name}/search`) on both indexes: every live document found by its"
        " text, no deleted one. **Lost writes: "
        f"{wr['lost_writes']}**.",
        "",
    ]
    return "\n".join(lines)


def _p(s: dict[str, Any]) -> str:
    return f"{s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']}" if s["n"] else "-"


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


# -- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = SQUAD if (SQUAD / "corpus.jsonl").is_file() else SAMPLE
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=8, help="simulated clients")
    parser.add_argument("--rate", type=float, default=12.0, help="requests/s, at most")
    parser.add_argument("--write-ratio", type=float, default=0.2)
    parser.add_argument("--users", type=int, default=64, help="distinct routing keys")
    parser.add_argument("--canary", type=float, default=50.0, help="canary percent")
    parser.add_argument("--shadow-sample", type=float, default=0.5)
    parser.add_argument(
        "--degrade-after", type=float, default=None, help="seconds (default 35%% of duration)"
    )
    parser.add_argument("--docs", type=int, default=400, help="corpus documents to ingest")
    parser.add_argument("--data", type=Path, default=default_data, help="BEIR-layout folder")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--url", help="a fresh loopback server (default: start one)")
    parser.add_argument("--token", default=os.environ.get("SWITCHOVER_OPERATOR_TOKEN"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S:g}]")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency must be in [1, {MAX_CONCURRENCY}]")
    if not 0 < args.rate <= MAX_RATE:
        parser.error(f"--rate must be in (0, {MAX_RATE:g}]")
    if not 0 < args.write_ratio < 1:
        parser.error("--write-ratio must be in (0, 1)")
    if not 0 < args.canary < 100:
        parser.error("--canary must be in (0, 100)")
    if args.degrade_after is None:
        args.degrade_after = 0.35 * args.duration
    if not 0 < args.degrade_after < args.duration:
        parser.error("--degrade-after must fall inside the load")
    if args.url is not None:
        args.url = loopback_url(args.url)
        if not args.token:
            parser.error("--url needs --token (or SWITCHOVER_OPERATOR_TOKEN)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {text}", flush=True)

    with tempfile.TemporaryDirectory(prefix="switchover-load-") as tmp:
        scratch = Path(tmp)
        server = None
        if args.url is None:
            roots = [args.data, scratch]  # the eval set: the data folder or a subset in scratch
            server = ServerProcess(scratch / "home", eval_data_roots=roots).start()
            url, token = server.url, server.token
        else:
            url, token = args.url, args.token
        say(f"server at {url}")
        try:
            result = scenario(url, token, args, scratch, say)
        finally:
            if server is not None:
                server.stop()
    result["command"] = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    write_reports(result, args.out)
    for name, ok in result["checks"].items():
        say(f"{'ok  ' if ok else 'FAIL'} {name}")
    say(f"wrote {args.out / 'load.json'} and {args.out / 'load.md'}")
    return 0 if all(result["checks"].values()) else 1


def scenario(
    url: str, token: str, args: argparse.Namespace, scratch: Path, say: Any
) -> dict[str, Any]:
    auth = operator_header(token)
    with httpx.Client(base_url=url, timeout=600) as http:
        mid, queries, setup = set_up(http, auth, args, scratch, say)
    say(
        f"load: {args.duration:g}s, {args.concurrency} clients, <= {args.rate:g} req/s,"
        f" writes {args.write_ratio:.0%}; degradation at {args.degrade_after:g}s"
    )
    ledger, timeline = asyncio.run(run_load(url, token, args, queries))
    say(f"load done: {len(ledger.calls)} requests, {sum(not c.ok for c in ledger.calls)} failed")
    with httpx.Client(base_url=url, timeout=600) as http:
        events = http.get(f"/v1/migrations/{mid}/events", headers=auth).json()["events"]
    result = analyse(ledger, timeline, events, mid, args.canary)
    say(
        "rollback: "
        + json.dumps({k: result["rollback"][k] for k in ("automatic", "rollback_events")})
        + f", {result['rollback']['seconds_from_degradation_to_rollback']}s after the degradation"
    )
    result["writes"] = asyncio.run(verify_writes(url, token, ledger, ("v1", "v2"), len_docs(setup)))
    say(f"writes: {result['writes']['lost_writes']} lost")
    result["setup"] = setup
    result["migration_id"] = mid
    result["run"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timeline.started))
    result["cores"] = os.cpu_count()
    result["code"] = code_version()
    result["args"] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "token"
    }
    result["args"]["data"] = _short(args.data)
    result["checks"] = judge_run(result)
    return result


def code_version() -> str:
    """The commit the server ran (``SWITCHOVER_CODE`` names an exported tree's commit)."""
    named = os.environ.get("SWITCHOVER_CODE")
    if named:
        return named
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if dirty else "")


def len_docs(setup: dict[str, Any]) -> int:
    return int(setup["documents"])


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO.parent))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
