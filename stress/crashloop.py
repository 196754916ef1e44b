"""Crash loop: SIGKILL the real server at random moments, through whole migrations.

Modelled on Qdrant's crasher and SQLite's crash tests. A real ``switchover serve``
process runs while two client threads drive it:

* a **writer** streams batches of upserts (new documents, updates, resurrections)
  and deletes over a bounded id space, remembering what was acknowledged;
* an **operator** walks migrations through every phase, one acknowledged move at a
  time: create -> backfill -> shadow -> canary (growing percent) -> rollback ->
  resume -> canary -> cutover -> finalize, then the next migration (layouts
  alternate ``Flat`` <-> ``HNSW32,Flat``; with replicas on PostgreSQL they cycle
  FAISS ``Flat`` -> FAISS ``HNSW32,Flat`` -> pgvector ``hnsw`` -> FAISS ``Flat``; the
  embedder stays, so nothing is re-encoded); some migrations are aborted instead.

A seeded killer SIGKILLs the server at a random moment (a timer, or just after the
operator or the writer sent a request), the server restarts on the same home, and
every invariant is checked before the walk continues from the acknowledged state.
A write or an operator move in flight at the kill is "maybe": either outcome is
allowed (a write batch all or nothing), and the harness adopts what the server says.

Invariants after every restart:

* ``no_reencode``: recovery and replay encoded nothing (``encoded_since_start`` 0);
* ``migration_state``: phase, id and target share are the last acknowledged ones
  (or the in-flight move's outcome; a watchdog rollback only with its audit event),
  and the audit trail's last event names the current phase;
* ``batch_atomic``: an in-flight batch landed entirely or not at all;
* ``backfill_resumes``: a backfill the kill interrupted (or had not begun) finishes by itself;
* ``lag_zero``: every live index catches up with the log (lag 0, applied = last seq);
* ``documents``: every acknowledged document reads back with its newest text and
  every deleted one is 404; the document count equals the model's;
* ``index_counts``: each live index holds exactly as many vectors as live documents;
* ``index_members``: each live document is found in each live index by its own newest
  text (score ~1, so the index holds the newest vector), no result list repeats an
  id, and no deleted document is found in any index;
* ``routing``: sticky routing keys land where the acknowledged share says.

Run: ``python stress/crashloop.py --kills 50 --seed 7 --out stress/results/crashloop.json``
(``--embedder minilm`` for the real model; the markdown summary goes next to the JSON).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from api.cli.demo import distinct_note  # noqa: E402
from migrator.routing import routes_to_target  # noqa: E402
from tests.server import ServerProcess, operator_header  # noqa: E402

RESULTS = REPO / "stress" / "results"
TOKEN = "crashloop-token"  # noqa: S105 - a throwaway token for a throwaway server
ACTIVE = {"planned", "backfilling", "shadow", "canary", "cutover", "rolled_back"}
CANARY_PERCENTS = (1, 5, 10, 25, 50, 75, 90)
ROUTING_KEYS = 24
BACKFILL_WAIT_S = 60.0
MATCH_SCORE = 0.999  # a document's own newest text finds it at (cosine) score 1

TOML = {
    "hash": """[default_index]
name = "v1"
factory = "Flat"
metric = "ip"
[default_index.embedder]
kind = "hash"
dim = 64
""",
    "minilm": """[default_index]
name = "v1"
factory = "Flat"
metric = "ip"
""",
}
INVARIANTS = {
    "no_reencode": "recovery and replay encoded nothing (encoded_since_start 0 on every index)",
    "migration_state": "phase, migration id and target share are the last acknowledged ones"
    " (or the in-flight move's outcome); the audit trail's last event names the phase",
    "batch_atomic": "the write batch in flight at the kill landed whole or not at all",
    "backfill_resumes": "a migration the kill left in backfilling finishes its backfill"
    " without being asked again",
    "lag_zero": "every live index caught up with the log (lag 0, applied seq = last seq)",
    "documents": "every acknowledged document reads back with its newest text, every deleted"
    " one is 404, and the document count equals the acknowledged live set",
    "index_counts": "each live index holds exactly as many vectors as live documents",
    "index_members": "each live document is found in each live index by its newest text"
    " (score ~1), no result list repeats an id, no deleted document is found in any index",
    "routing": "sticky routing keys are served where the acknowledged share sends them",
}
SNAPSHOTS = """[snapshots]
every_records = 150
interval_seconds = 4
"""


# -- the client's model of what was acknowledged ------------------------------------------


@dataclass
class MigrationState:
    """The migration as last acknowledged to the operator."""

    id: int | None = None  # the latest migration (None: none created yet)
    phase: str | None = None
    share: float = 0.0
    source: str = "v1"
    target: str | None = None
    backfill_finished: bool = False

    def key(self) -> tuple[int | None, str | None, float]:
        return (self.id, self.phase, self.share)


@dataclass
class Move:
    action: str  # create, or one of the lifecycle actions
    body: dict[str, Any]
    after: MigrationState


@dataclass
class Model:
    docs: dict[str, str | None] = field(default_factory=dict)  # None: deleted
    mig: MigrationState = field(default_factory=MigrationState)
    plan: list[Move] = field(default_factory=list)
    migrations: int = 0  # created so far (acknowledged)

    def live(self) -> dict[str, str]:
        return {i: t for i, t in self.docs.items() if t is not None}


def _status(http: httpx.Client) -> dict[str, Any] | None:
    response = http.get("/v1/migrations/current", headers=_auth())
    if response.status_code == 404:
        return None
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _auth() -> dict[str, str]:
    return operator_header(TOKEN)


def _observed(status: dict[str, Any] | None) -> tuple[int | None, str | None, float]:
    if status is None:
        return (None, None, 0.0)
    return (int(status["id"]), str(status["phase"]), float(status["target_share"]))


# -- the migration walk ---------------------------------------------------------------------


# The layouts the operator's migrations walk in turn: each finalized migration's target
# is the next one's source (``v1`` starts as FAISS ``Flat``). On one SQLite, FAISS alone;
# on PostgreSQL (replicas) a pgvector HNSW version too, so FAISS -> pgvector and back.
FAISS_LAYOUTS: tuple[dict[str, Any], ...] = (
    {"factory": "Flat"},
    {"factory": "HNSW32,Flat", "search_params": {"ef_search": 64}},
)
PG_LAYOUTS = (
    *FAISS_LAYOUTS,
    {"factory": "hnsw", "backend": "pgvector", "search_params": {"ef_search": 64}},
)


def layout_label(layout: dict[str, Any]) -> str:
    """``faiss Flat``, ``pgvector hnsw``: the backend and its layout."""
    return f"{layout.get('backend', 'faiss')} {layout['factory']}"


def plan_migration(
    rng: random.Random, number: int, source: str, layout: dict[str, Any]
) -> list[Move]:
    """One migration's moves to a target of ``layout``; the expected state after each is
    known in advance."""
    target = f"v{number + 1}"
    body: dict[str, Any] = {"target": {"name": target, **layout}, "backfill_batch": 16}
    state = MigrationState(number, "planned", 0.0, source, target)
    moves = [Move("create", body, state)]

    def add(
        action: str, phase: str, share: float = 0.0, extra: dict[str, Any] | None = None
    ) -> None:
        after = MigrationState(number, phase, share, source, target, backfill_finished=True)
        moves.append(Move(action, extra or {}, after))

    add("backfill", "backfilling")
    moves[-1].after.backfill_finished = False
    add("shadow", "shadow")
    if rng.random() < 0.2:  # now and then an operator gives up instead
        add("abort", "aborted", extra={"reason": "crash loop: abort path"})
        return moves
    first, second = sorted(rng.sample(CANARY_PERCENTS, 2))
    third, fourth = sorted(rng.sample(CANARY_PERCENTS, 2))
    override = {"override": True, "reason": "crash loop (audited override)"}
    rollback_at = rng.choice(["shadow", "canary", "canary2", "cutover"])
    for step, percent in (("canary", first), ("canary2", second)):
        if rollback_at == "shadow" and step == "canary":
            add("rollback", "rolled_back", extra={"reason": "crash loop: rollback drill"})
            add("resume", "shadow")
            rollback_at = "done"
        add("canary", "canary", float(percent), {"percent": percent, **override})
        if rollback_at == step:
            add("rollback", "rolled_back", extra={"reason": "crash loop: rollback drill"})
            add("resume", "shadow")
            add("canary", "canary", float(third), {"percent": third, **override})
            add("canary", "canary", float(fourth), {"percent": fourth, **override})
            rollback_at = "done"
            break
    add("cutover", "cutover", 100.0, override)
    if rollback_at == "cutover":
        add("rollback", "rolled_back", extra={"reason": "crash loop: rollback after cutover"})
        add("resume", "shadow")
        add("canary", "canary", float(third), {"percent": third, **override})
        add("cutover", "cutover", 100.0, override)
    add("finalize", "finalized", 100.0)
    return moves


class Operator(threading.Thread):
    """Sends the planned moves one at a time; a move whose answer never came is 'maybe'."""

    def __init__(self, url: str, model: Model, rng: random.Random, next_plan: Callable[[], None]):
        super().__init__(daemon=True, name="crashloop-operator")
        self.url = url
        self.model = model
        self.rng = rng
        self.next_plan = next_plan
        self.stop = threading.Event()
        self.sending = threading.Event()  # set while a move is on the wire
        self.in_flight: Move | None = None
        self.waiting_backfill = False
        self.acked: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.wait(self.rng.uniform(0.1, 0.8)):
                try:
                    if not self.step(http):
                        return
                except httpx.HTTPError:
                    return  # the server died under us

    def step(self, http: httpx.Client) -> bool:
        mig = self.model.mig
        if mig.phase == "backfilling" and not mig.backfill_finished:
            self.waiting_backfill = True
            status = _status(http)
            if status is not None and status["backfill"].get("finished"):
                mig.backfill_finished = True
                self.waiting_backfill = False
            return True
        if not self.model.plan:
            self.next_plan()
        move = self.model.plan[0]
        self.in_flight = move
        self.sending.set()
        if move.action == "create":
            response = http.post("/v1/migrations", json=move.body, headers=_auth())
        else:
            path = f"/v1/migrations/{mig.id}/{move.action}"
            response = http.post(path, json=move.body or None, headers=_auth())
        self.sending.clear()
        if response.status_code not in (200, 201):
            self.in_flight = None
            if response.status_code == 409 and self.watchdog_rolled_back(http):
                return True  # the watchdog got there first: audited, the plan adapts
            self.errors.append(f"{move.action}: {response.status_code} {response.text[:300]}")
            return False
        self.acknowledge(move)
        return True

    def watchdog_rolled_back(self, http: httpx.Client) -> bool:
        mig = self.model.mig
        status = _status(http)
        if status is None or status["id"] != mig.id or status["phase"] != "rolled_back":
            return False
        events = http.get(f"/v1/migrations/{mig.id}/events", headers=_auth()).json()["events"]
        if events[-1]["actor"] != "watchdog":
            return False
        adopt_watchdog_rollback(self.model)
        self.acked.append("watchdog-rollback")
        return True

    def acknowledge(self, move: Move) -> None:
        self.model.plan.pop(0)
        self.model.mig = MigrationState(**vars(move.after))
        if move.action == "create":
            self.model.migrations += 1
        self.acked.append(move.action)
        self.in_flight = None


# -- the writer -----------------------------------------------------------------------------


class Writer(threading.Thread):
    """Streams upsert batches and deletes over a bounded id space; records acks and in-flight."""

    def __init__(
        self, url: str, docs: dict[str, str | None], rng: random.Random, ids: list[str], texts: Any
    ) -> None:
        super().__init__(daemon=True, name="crashloop-writer")
        self.url = url
        self.docs = docs  # updated in place on every acknowledgement
        self.rng = rng
        self.ids = ids
        self.own = set(ids)  # a writer per replica: each deletes only its own ids
        self.texts = texts  # a shared counter: every text ever written is distinct
        self.stop = threading.Event()
        self.sending = threading.Event()
        self.in_flight: dict[str, str | None] = {}
        self.acked_ops = 0
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.wait(self.rng.uniform(0.0, 0.04)):
                live = [i for i, t in self.docs.items() if t is not None and i in self.own]
                try:
                    if live and self.rng.random() < 0.25:
                        victim = self.rng.choice(live)
                        self.in_flight = {victim: None}
                        self.sending.set()
                        response = http.delete(f"/v1/documents/{victim}")
                    else:
                        chosen = self.rng.sample(self.ids, self.rng.randint(1, 6))
                        self.in_flight = {
                            i: distinct_note(self.rng, next(self.texts)) for i in chosen
                        }
                        body = {
                            "documents": [{"id": i, "text": t} for i, t in self.in_flight.items()]
                        }
                        self.sending.set()
                        response = http.put("/v1/documents", json=body)
                except httpx.HTTPError:
                    return  # killed: in_flight stays "maybe"
                if response.status_code != 200:
                    self.errors.append(
                        f"write refused: {response.status_code} {response.text[:300]}"
                    )
                    return
                self.docs.update(self.in_flight)
                self.in_flight = {}
                self.acked_ops += 1


# -- invariants -----------------------------------------------------------------------------


class Checks:
    """Named invariants of one restart: each records ok/failed and a detail."""

    def __init__(self) -> None:
        self.prefix = ""
        self.results: dict[str, dict[str, Any]] = {}

    def record(self, name: str, ok: bool, detail: str = "", **numbers: Any) -> None:
        self.results[self.prefix + name] = {"ok": bool(ok), "detail": detail, **numbers}

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.results.values())

    def failed(self) -> list[str]:
        return [f"{n}: {r['detail']}" for n, r in self.results.items() if not r["ok"]]


def live_indexes(indexes: list[dict[str, Any]], mig: MigrationState) -> tuple[list[str], list[str]]:
    """(complete live indexes, partial ones): a target is complete once backfilled."""
    complete = [i["name"] for i in indexes if i["role"] == "primary"]
    partial: list[str] = []
    if mig.phase in ACTIVE and mig.target is not None:
        if mig.phase == "planned" or (mig.phase == "backfilling" and not mig.backfill_finished):
            partial.append(mig.target)
        else:
            complete.append(mig.target)
    return complete, partial


class Harness:
    def __init__(
        self,
        workdir: Path,
        *,
        seed: int,
        embedder: str = "hash",
        id_space: int = 200,
        initial: int = 120,
        migrate: bool = True,
        modes: list[str] | None = None,
        warmup_writes: int = 0,
        log: Callable[[str], None] | None = None,
        database_url: str | None = None,
        replicas: int = 1,
        layouts: tuple[dict[str, Any], ...] | None = None,
    ) -> None:
        self.workdir = workdir
        self.seed = seed
        self.embedder = embedder
        self.master = random.Random(seed)
        self.plan_rng = random.Random(seed * 7919 + 1)
        self.ids = [f"doc-{i:04d}" for i in range(id_space)]
        self.initial = initial
        self.migrate = migrate  # False: writes only, no operator (the plain crash test)
        default = ["timer", "timer", "operator", "commit", "write"] if migrate else []
        self.modes = modes or default or ["timer", "write"]  # a repeat weighs the draw
        self.warmup_writes = warmup_writes  # acked writes in a round before the kill timer
        unknown = set(self.modes) - {"timer", "operator", "commit", "write"}
        if unknown or (not migrate and {"operator", "commit"} & set(self.modes)):
            raise ValueError(f"kill modes {sorted(self.modes)} do not fit migrate={migrate}")
        self.texts = itertools.count()
        self.model = Model()
        self.log = log or (lambda line: print(line, flush=True))
        if replicas > 1 and database_url is None:
            raise ValueError("several replicas share one PostgreSQL: give its database URL")
        self.database_url = database_url  # None: SQLite in the home; else that PostgreSQL
        # Several replicas (on PostgreSQL): a writer on each, over its own ids; the operator
        # on a random one each round, and a random one (the leader too) killed.
        self.servers: list[ServerProcess] = []
        for n in range(replicas):
            home = workdir / ("home" if n == 0 else f"home{n + 1}")
            home.mkdir(parents=True, exist_ok=True)
            (home / "switchover.toml").write_text(TOML[embedder] + SNAPSHOTS)
            self.servers.append(ServerProcess(home, token=TOKEN, database_url=database_url))
        self.server = self.servers[0]
        # the cycle of target layouts (the first is v1's); by default pgvector joins it on
        # replicas (PostgreSQL)
        on_pg = database_url is not None and replicas > 1
        self.layouts = layouts or (PG_LAYOUTS if on_pg else FAISS_LAYOUTS)
        self.layout_at = 0  # the source's layout in ``layouts``
        self.walked: list[dict[str, Any]] = []  # each migration planned: its layouts, outcome
        self.load_at_start = os.getloadavg()
        self.code = code_version()  # at the start: the run writes its results into the tree

    def _wait_for_commit(self, timeout: float) -> bool:
        if self.database_url is not None:
            return wait_for_pg_commit(self.database_url, timeout)
        return wait_for_commit(self.server.home / "switchover.db", timeout)

    # -- set-up ---------------------------------------------------------------------------

    def setup(self) -> None:
        for server in self.servers:
            server.start()
        rng = random.Random(self.seed)
        docs = {i: distinct_note(rng, next(self.texts)) for i in self.ids[: self.initial]}
        with httpx.Client(base_url=self.server.url, timeout=120) as http:
            items = list(docs.items())
            for start in range(0, len(items), 50):
                batch = [{"id": i, "text": t} for i, t in items[start : start + 50]]
                http.put("/v1/documents", json={"documents": batch}).raise_for_status()
        self.model.docs.update(docs)

    def next_plan(self) -> None:
        mig = self.model.mig
        if self.walked:
            self.walked[-1]["outcome"] = mig.phase
        if mig.phase == "finalized" and mig.target is not None:
            self.layout_at = (self.layout_at + 1) % len(self.layouts)
            source = mig.target
        else:
            source = mig.source
        number = self.model.migrations + 1
        layout = self.layouts[(self.layout_at + 1) % len(self.layouts)]
        self.walked.append(
            {
                "migration": number,
                "from": layout_label(self.layouts[self.layout_at]),
                "to": layout_label(layout),
                "outcome": "in progress",
            }
        )
        self.model.plan = plan_migration(self.plan_rng, number, source, layout)

    # -- one round: run, kill, restart, check ---------------------------------------------

    def round(self, number: int) -> dict[str, Any]:
        kill_seed = self.master.randrange(2**31)
        krng = random.Random(kill_seed)
        mode = krng.choice(self.modes)
        count = len(self.servers)
        victim = krng.randrange(count) if count > 1 else 0
        by = krng.randrange(count) if count > 1 else 0  # the operator's replica
        writers = [
            Writer(s.url, self.model.docs, random.Random(kill_seed + 1 + 10 * n),
                   self.ids[n::count], self.texts)
            for n, s in enumerate(self.servers)
        ]  # fmt: skip
        writer = writers[victim]
        operator = Operator(
            self.servers[by].url, self.model, random.Random(kill_seed + 2), self.next_plan
        )
        started = time.monotonic()
        for each in writers:
            each.start()
        if self.migrate:
            operator.start()
        mode = self._await_moment(mode, krng, writer, operator, started)
        offset = time.monotonic() - started
        at_kill = MigrationState(**vars(self.model.mig))
        leading = [self.leading(s) for s in self.servers] if count > 1 else [True]
        self.servers[victim].kill()
        for each in writers:
            each.stop.set()
        operator.stop.set()
        for each in writers:
            each.join(timeout=60)
        if self.migrate:
            operator.join(timeout=60)
        # the threads are gone: whatever they still hold in flight is "maybe" (on the other
        # replicas each finished its request: nothing is in flight there)
        move = operator.in_flight
        writes = {k: v for each in writers for k, v in each.in_flight.items()}
        record: dict[str, Any] = {
            "kill": number,
            "kill_seed": kill_seed,
            "mode": mode,
            "offset_s": round(offset, 3),
            "migration": at_kill.id,
            "phase": at_kill.phase or "none",
            "share": at_kill.share,
            "operator_in_flight": move.action if move is not None else None,
            "waiting_backfill": operator.waiting_backfill and move is None,
            "write_in_flight": _describe_write(writes),
            "acked_writes": sum(each.acked_ops for each in writers),
            "acked_moves": operator.acked,
            "client_errors": [e for each in writers for e in each.errors] + operator.errors,
        }
        if count > 1:
            record.update(killed=victim + 1, operator_on=by + 1, killed_leader=leading[victim])
        record.update(restart_s=None, phase_after="?", aborted=False)
        checks = self._restart_and_check(self.servers[victim], record, move, writes)
        record["checks"] = checks.results
        record["ok"] = checks.ok and not record["client_errors"]
        record["duration_s"] = round(time.monotonic() - started, 2)
        return record

    def _await_moment(
        self, mode: str, krng: random.Random, writer: Writer, operator: Operator, started: float
    ) -> str:
        """Wait for the round's kill moment; the mode, noting when it fell back to a timer."""
        while writer.acked_ops < self.warmup_writes and writer.is_alive():
            if time.monotonic() - started > 300:
                break
            time.sleep(0.01)
        if mode == "timer":
            time.sleep(krng.uniform(0.2, 4.0))
        elif mode == "commit":
            # the moment an operator move commits, before its answer is read: a "maybe" move
            time.sleep(krng.uniform(0.1, 0.5))
            if not self._wait_for_commit(timeout=20):
                mode += " (timed out: timer)"
        else:
            event = operator.sending if mode == "operator" else writer.sending
            time.sleep(krng.uniform(0.1, 0.5))
            event.clear()
            if not event.wait(timeout=15):
                mode += " (timed out: timer)"
            time.sleep(krng.uniform(0.0, 0.015))
        return mode

    def _restart_and_check(
        self,
        victim: ServerProcess,
        record: dict[str, Any],
        move: Move | None,
        writes: dict[str, str | None],
    ) -> Checks:
        """Restart the killed server, then check every invariant on every replica."""
        checks = Checks()
        count = len(self.servers)
        self.restarted_url = victim.url
        try:
            restart = time.monotonic()
            victim.start()
            record["restart_s"] = round(time.monotonic() - restart, 2)
            for n, server in enumerate(self.servers):
                prefix = f"r{n + 1}:" if count > 1 else ""
                self.check(checks, record, move, writes, server, prefix)
                move, writes = None, {}  # settled by the first: the model holds the outcome
            if count > 1:
                self.check_leader(checks, record)
        except Exception as exc:  # a server that will not come back, or a check that cannot run
            checks.record("harness", False, f"{type(exc).__name__}: {exc}"[:2000])
            record["aborted"] = True  # the model may be out of step: stop the loop here
        return checks

    def leading(self, server: ServerProcess) -> bool:
        try:
            return bool(httpx.get(f"{server.url}/healthz", timeout=5).json()["leading"])
        except httpx.HTTPError:
            return False

    def check_leader(self, checks: Checks, record: dict[str, Any]) -> None:
        """Exactly one replica leads (runs the backfill and the watchdog) after the restart."""
        started = time.monotonic()
        leaders: list[int] = []
        while time.monotonic() - started < 15:
            leaders = [n + 1 for n, s in enumerate(self.servers) if self.leading(s)]
            if len(leaders) == 1:
                break
            time.sleep(0.1)
        record["leader_after"] = leaders
        seconds = round(time.monotonic() - started, 2)
        checks.record("one_leader", len(leaders) == 1, f"leading: {leaders} after {seconds} s")

    def check(
        self,
        checks: Checks,
        record: dict[str, Any],
        move: Move | None,
        writes: dict[str, str | None],
        server: ServerProcess | None = None,
        prefix: str = "",
    ) -> None:
        url = (server or self.server).url
        checks.prefix = prefix  # several replicas: each one's invariants under its name
        try:
            self._check(checks, record, move, writes, url)
        finally:
            checks.prefix = ""

    def _check(
        self,
        checks: Checks,
        record: dict[str, Any],
        move: Move | None,
        writes: dict[str, str | None],
        url: str,
    ) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            indexes = http.get("/v1/indexes").json()["indexes"]
            encoded = {
                i["name"]: (i["encoded_since_start"], i["recovery"].get("encoded", 0))
                for i in indexes
                if i["role"] != "retired"
            }
            # a replica that was not restarted encoded the writes sent to it since its start:
            # there only its start-up recovery must have encoded nothing
            restarted = url == self.restarted_url
            checks.record(
                "no_reencode",
                all(b == 0 and (a == 0 or not restarted) for a, b in encoded.values()),
                json.dumps(encoded) + ("" if restarted else " (not restarted: recovery only)"),
            )
            self.settle_migration(http, checks, record, move)
            self.settle_writes(http, checks, writes)
            self.wait_backfill(http, checks, record)
            self.wait_lag(http, checks, record)
            self.check_documents(http, checks)
            self.check_indexes(http, checks)
            self.check_routing(http, checks)

    def settle_migration(
        self, http: httpx.Client, checks: Checks, record: dict[str, Any], move: Move | None
    ) -> None:
        observed = _observed(_status(http))
        expected = self.model.mig.key()
        allowed = {expected}
        if move is not None:
            allowed.add(move.after.key())
        outcome = "acknowledged state"
        ok = observed in allowed
        if move is not None and observed == move.after.key():
            outcome = f"in-flight {move.action} landed"
            # adopt the move as if acknowledged
            self.model.plan.pop(0)
            self.model.mig = MigrationState(**vars(move.after))
            if move.action == "create":
                self.model.migrations += 1
        elif move is not None and observed == expected:
            outcome = f"in-flight {move.action} did not land"
        detail = f"observed {observed}, allowed {sorted(allowed, key=str)}"
        events: list[dict[str, Any]] = []
        if observed[0] is not None:
            events = http.get(f"/v1/migrations/{observed[0]}/events", headers=_auth()).json()[
                "events"
            ]
        if not ok and observed[0] == expected[0] and observed[1] == "rolled_back" and events:
            last = events[-1]
            if last["actor"] == "watchdog" and last["to_phase"] == "rolled_back":
                ok, outcome = True, f"watchdog rollback ({last['reason'][:120]})"
                adopt_watchdog_rollback(self.model)
        trail_ok = not events or events[-1]["to_phase"] == observed[1]
        checks.record(
            "migration_state",
            ok and trail_ok,
            detail + ("" if trail_ok else f"; last audit event {events[-1]}"),
            outcome=outcome,
        )
        record["operator_outcome"] = outcome if move is not None else None
        record["phase_after"] = observed[1] or "none"

    def settle_writes(
        self, http: httpx.Client, checks: Checks, writes: dict[str, str | None]
    ) -> None:
        landed: list[bool] = []
        bad: list[str] = []
        for doc_id, text in writes.items():
            response = http.get(f"/v1/documents/{doc_id}")
            got = response.json()["text"] if response.status_code == 200 else None
            old = self.model.docs.get(doc_id)
            if got == text:
                landed.append(True)
            elif got == old:
                landed.append(False)
            else:
                bad.append(f"{doc_id}: got {got!r}, acked {old!r}, in flight {text!r}")
        atomic = not bad and len(set(landed)) <= 1
        checks.record(
            "batch_atomic",
            atomic,
            "; ".join(bad) or (f"landed={landed[0]}" if landed else "nothing in flight"),
        )
        if landed and landed[0] and atomic:
            self.model.docs.update(writes)

    def wait_backfill(self, http: httpx.Client, checks: Checks, record: dict[str, Any]) -> None:
        """A migration the kill left in ``backfilling`` finishes its backfill by itself."""
        mig = self.model.mig
        if mig.phase != "backfilling":
            checks.record("backfill_resumes", True, "no backfill in progress")
            return
        started = time.monotonic()
        backfill: dict[str, Any] = {}
        while time.monotonic() - started < BACKFILL_WAIT_S:
            backfill = (_status(http) or {}).get("backfill", {})
            if backfill.get("finished"):
                mig.backfill_finished = True
                seconds = round(time.monotonic() - started, 2)
                checks.record("backfill_resumes", True, f"finished {seconds} s after the restart")
                return
            time.sleep(0.2)
        checks.record(
            "backfill_resumes",
            False,
            f"not finished {BACKFILL_WAIT_S} s after the restart: {json.dumps(backfill)}",
        )
        # so the walk can go on, the operator asks again (the action is idempotent)
        http.post(f"/v1/migrations/{mig.id}/backfill", headers=_auth()).raise_for_status()
        record["backfill_rerequested"] = True
        while not (_status(http) or {}).get("backfill", {}).get("finished"):
            if time.monotonic() - started > 3 * BACKFILL_WAIT_S:
                raise RuntimeError("backfill did not finish even when asked again")
            time.sleep(0.2)
        mig.backfill_finished = True

    def wait_lag(self, http: httpx.Client, checks: Checks, record: dict[str, Any]) -> None:
        complete, partial = live_indexes(http.get("/v1/indexes").json()["indexes"], self.model.mig)
        started = time.monotonic()
        behind: dict[str, Any] = {}
        while time.monotonic() - started < 60:
            listing = http.get("/v1/indexes").json()
            last = listing["last_seq"]
            by_name = {i["name"]: i for i in listing["indexes"]}
            behind = {
                n: (by_name[n]["lag_records"], by_name[n]["applied_seq"], last)
                if n in by_name
                else "not live"
                for n in complete + partial
                # not listed: a replica's target still replaying the log (or lost)
                if n not in by_name
                or by_name[n]["lag_records"]
                or by_name[n]["applied_seq"] != last
            }
            if not behind:
                break
            time.sleep(0.1)
        record["catch_up_s"] = round(time.monotonic() - started, 2)
        checks.record("lag_zero", not behind, json.dumps(behind) if behind else "all caught up")

    def check_documents(self, http: httpx.Client, checks: Checks) -> None:
        wrong = []
        for doc_id, text in self.model.docs.items():
            response = http.get(f"/v1/documents/{doc_id}")
            got = response.json()["text"] if response.status_code == 200 else None
            if response.status_code not in (200, 404) or got != text:
                wrong.append(f"{doc_id}: {response.status_code} {got!r} != {text!r}")
        live = len(self.model.live())
        documents = int(http.get("/healthz").json()["documents"])
        if documents != live:
            wrong.append(f"healthz documents {documents} != {live} live in the model")
        checks.record(
            "documents", not wrong, "; ".join(wrong[:5]), checked=len(self.model.docs), live=live
        )

    def check_indexes(self, http: httpx.Client, checks: Checks) -> None:
        listing = http.get("/v1/indexes").json()["indexes"]
        by_name = {i["name"]: i for i in listing}
        complete, partial = live_indexes(listing, self.model.mig)
        live = self.model.live()
        dead = {i: t for i, t in self.last_texts.items() if self.model.docs.get(i) is None}
        counts = {n: by_name[n]["count"] for n in complete if n in by_name}
        missing_index = [n for n in complete + partial if n not in by_name]
        checks.record(
            "index_counts",
            not missing_index and all(c == len(live) for c in counts.values()),
            f"counts {counts}, live {len(live)}"
            + (f", missing {missing_index}" if missing_index else ""),
        )
        problems: list[str] = []
        searches = 0

        def probe(index: str, doc_id: str, text: str, present: bool) -> str | None:
            response = http.post(f"/v1/indexes/{index}/search", json={"query": text, "k": 5})
            if response.status_code != 200:
                return f"{index}: search {response.status_code}"
            hits = response.json()["hits"]
            ids = [h["id"] for h in hits]
            if len(ids) != len(set(ids)):
                return f"{index}: duplicate ids {ids}"
            score = next((h["score"] for h in hits if h["id"] == doc_id), None)
            if present and (score is None or score < MATCH_SCORE):
                return f"{index}: {doc_id} not found by its newest text (score {score})"
            if not present and doc_id in ids:
                return f"{index}: deleted {doc_id} came back (score {score})"
            return None

        jobs = [(n, i, t, True) for n in complete for i, t in live.items()]
        jobs += [(n, i, t, False) for n in complete + partial for i, t in dead.items()]
        with ThreadPoolExecutor(3) as pool:
            for problem in pool.map(lambda job: probe(*job), jobs):
                searches += 1
                if problem:
                    problems.append(problem)
        checks.record(
            "index_members",
            not problems,
            "; ".join(problems[:5]),
            searches=searches,
            indexes=complete + partial,
        )

    def check_routing(self, http: httpx.Client, checks: Checks) -> None:
        mig = self.model.mig

        def served_by(key: str) -> str:
            response = http.post(
                "/v1/search",
                json={"query": "crash loop routing", "k": 3},
                headers={"X-Routing-Key": key},
            )
            return str(response.json()["served_by"])

        keys = [f"user-{n}" for n in range(ROUTING_KEYS)]
        with ThreadPoolExecutor(3) as pool:
            served_list = list(pool.map(served_by, keys))
        wrong = []
        for key, served in zip(keys, served_list, strict=True):
            if mig.phase in ACTIVE and mig.id is not None and mig.target is not None:
                to_target = routes_to_target(mig.share, key, mig.id)
                want = mig.target if to_target else mig.source
            elif mig.phase == "finalized" and mig.target is not None:
                want = mig.target
            else:
                want = mig.source
            if served != want:
                wrong.append(f"{key}: served by {served}, want {want}")
        checks.record("routing", not wrong, "; ".join(wrong[:5]), keys=ROUTING_KEYS)

    # -- the loop -------------------------------------------------------------------------

    last_texts: dict[str, str]  # the last text of every id ever written (deleted ones too)
    restarted_url = ""  # the server the round killed and restarted

    def run(
        self, kills: int, on_round: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """``kills`` rounds; ``on_round`` gets the results so far after each one."""
        started = time.monotonic()
        self.last_texts = {}
        self.setup()
        rounds = []
        try:
            for number in range(1, kills + 1):
                self.remember_texts()
                record = self.round(number)
                self.remember_texts()
                rounds.append(record)
                if on_round is not None:
                    on_round(self.summary(rounds, time.monotonic() - started, planned=kills))
                state = (
                    "ok"
                    if record["ok"]
                    else "FAILED "
                    + "; ".join(
                        f"{n}: {r['detail']}" for n, r in record["checks"].items() if not r["ok"]
                    )
                    + "; ".join(record["client_errors"])
                )
                self.log(
                    f"kill {number}/{kills} seed={record['kill_seed']} mode={record['mode']}"
                    f" phase={record['phase']} op={record['operator_in_flight']}"
                    f" -> {record['phase_after']} restart={record['restart_s']}s {state}"
                )
                if record["aborted"]:
                    break
        finally:
            for server in self.servers:
                server.kill()
        return self.summary(rounds, time.monotonic() - started, planned=kills)

    def remember_texts(self) -> None:
        for doc_id, text in self.model.docs.items():
            if text is not None:
                self.last_texts[doc_id] = text

    def walked_so_far(self) -> list[dict[str, Any]]:
        """The migrations planned, the last one's outcome its phase now."""
        walked = [dict(each) for each in self.walked]
        if walked:
            walked[-1]["outcome"] = self.model.mig.phase
        return walked

    def summary(self, rounds: list[dict[str, Any]], seconds: float, planned: int) -> dict[str, Any]:
        checked = sum(len(r["checks"]) for r in rounds)
        failed = [r["kill"] for r in rounds if not r["ok"]]
        walked = self.walked_so_far()
        return {
            "harness": "stress/crashloop.py",
            "complete": len(rounds) == planned,
            "kills_planned": planned,
            "code": self.code,
            "seed": self.seed,
            "migrate": self.migrate,
            "kill_modes": self.modes,
            "id_space": len(self.ids),
            "initial_documents": self.initial,
            "embedder": self.embedder,
            "kills": len(rounds),
            "restarts": len(rounds),
            "restarts_all_invariants_held": len(rounds) - len(failed),
            "invariants_checked": checked,
            "failed_kills": failed,
            "migrations_created": self.model.migrations,
            "migrations_walked": walked,
            "migrations_by_backend": backend_counts(walked),
            "duration_s": round(seconds, 1),
            "phases_at_kill": dict(Counter(r["phase"] for r in rounds)),
            "operator_in_flight_at_kill": dict(
                Counter(r["operator_in_flight"] or "none" for r in rounds)
            ),
            "in_flight_moves_landed": sum(
                1 for r in rounds if (r.get("operator_outcome") or "").endswith("landed")
            ),
            "searches": sum(
                c.get("searches", 0)
                for r in rounds
                for name, c in r["checks"].items()
                if name.endswith("index_members")
            ),
            "replicas": len(self.servers),
            "leader_killed": sum(1 for r in rounds if r.get("killed_leader")),
            "documents_at_end": len(self.model.live()),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "load_average": {"start": self.load_at_start, "end": os.getloadavg()},
            "store": "sqlite" if self.database_url is None else "postgresql",
            "rounds": rounds,
        }


def backend_counts(walked: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per backend pair (``faiss->pgvector``): migrations planned and how many finalized."""
    counts: dict[str, dict[str, int]] = {}
    for each in walked:
        pair = f"{each['from'].split()[0]}->{each['to'].split()[0]}"
        row = counts.setdefault(pair, {"planned": 0, "finalized": 0})
        row["planned"] += 1
        row["finalized"] += each["outcome"] == "finalized"
    return counts


def wait_for_pg_commit(url: str, timeout: float) -> bool:
    """Poll the server's PostgreSQL database until a new migration event commits."""
    import psycopg  # noqa: PLC0415 - only a run on PostgreSQL needs it

    query = "SELECT COALESCE(MAX(id), 0) FROM migration_events"
    with psycopg.connect(url, autocommit=True) as conn:
        first = conn.execute(query).fetchall()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.execute(query).fetchall() != first:
                return True
            time.sleep(0.0005)
        return False


def wait_for_commit(db: Path, timeout: float) -> bool:
    """Poll the server's SQLite file (read-only) until a new migration event commits."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    query = "SELECT COALESCE(MAX(rowid), 0) FROM migration_events"
    try:
        first = conn.execute(query).fetchall()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.execute(query).fetchall() != first:
                return True
            time.sleep(0.0005)
        return False
    finally:
        conn.close()


def code_version() -> str:
    """The commit the server ran (``SWITCHOVER_COMMIT`` when run from an exported tree)."""
    if os.environ.get("SWITCHOVER_COMMIT"):
        return os.environ["SWITCHOVER_COMMIT"]
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    ).stdout.strip()
    return done.stdout.strip() + (" (working tree with uncommitted changes)" if dirty else "")


def _describe_write(writes: dict[str, str | None]) -> str | None:
    if not writes:
        return None
    if list(writes.values()) == [None]:
        return f"delete {next(iter(writes))}"
    return f"upsert batch of {len(writes)}"


def adopt_watchdog_rollback(model: Model) -> None:
    """The watchdog rolled reads back (audited): resume, then canary, cut over, finalize."""
    mig = model.mig
    mig.phase, mig.share = "rolled_back", 0.0

    def state(phase: str, share: float) -> MigrationState:
        return MigrationState(mig.id, phase, share, mig.source, mig.target, backfill_finished=True)

    override = {"override": True, "reason": "crash loop (audited override)"}
    model.plan = [
        Move("resume", {}, state("shadow", 0.0)),
        Move("canary", {"percent": 50, **override}, state("canary", 50.0)),
        Move("cutover", override, state("cutover", 100.0)),
        Move("finalize", {}, state("finalized", 100.0)),
    ]


def _load_text(load: dict[str, list[float]] | None) -> str:
    if load is None:
        return "."
    start, end = (" / ".join(f"{x:.1f}" for x in load[k]) for k in ("start", "end"))
    return f" (load average 1 / 5 / 15 min: {start} at the start, {end} at the end)."


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Crash loop",
        "",
        *(
            []
            if result["complete"]
            else [f"**Cut short: {result['kills']} of {result['kills_planned']} kills ran.**", ""]
        ),
        f"`python stress/crashloop.py --kills {result['kills_planned']} --seed {result['seed']}"
        f" --embedder {result['embedder']} --id-space {result['id_space']}"
        f" --initial {result['initial_documents']}"
        + (f" --replicas {result['replicas']}" if result.get("replicas", 1) > 1 else "")
        + f"`: {result['restarts_all_invariants_held']} of"
        f" {result['restarts']} restarts with every invariant holding"
        f" ({result['invariants_checked']} invariant checks, {result['searches']} per-index"
        f" searches), {result['migrations_created']} migrations, {result['duration_s']} s.",
        "",
        f"Embedder: `{result['embedder']}`; server code: `{result['code']}`;"
        f" {result['machine']['cpus']} CPUs, shared with other work"
        + _load_text(result.get("load_average")),
        "",
        *(
            [
                f"{result['replicas']} replicas on one PostgreSQL, a writer on each, the operator"
                " on a random one each round; the killed replica is drawn at random:"
                f" {result['leader_killed']} of the kills hit the leader. Every invariant is"
                " checked on every replica (`rN:`), and `one_leader`: exactly one leads after.",
                "",
            ]
            if result.get("replicas", 1) > 1
            else []
        ),
        *(
            [
                "Migrations by backend (planned / finalized): "
                + ", ".join(
                    f"{pair} {row['planned']} / {row['finalized']}"
                    for pair, row in result["migrations_by_backend"].items()
                )
                + ".",
                "",
            ]
            if result.get("migrations_by_backend")
            else []
        ),
        f"Phases at the kill: {result['phases_at_kill']}.",
        f"Operator move in flight at the kill: {result['operator_in_flight_at_kill']}"
        f" ({result['in_flight_moves_landed']} of them landed).",
        "",
        "| kill | seed | mode | at (s) | phase | move in flight | write in flight | after"
        " | restart (s) | catch-up (s) | invariants |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rounds"]:
        held = sum(c["ok"] for c in r["checks"].values())
        verdict = f"{held}/{len(r['checks'])}" + ("" if r["ok"] else " **FAILED**")
        move = r["operator_in_flight"] or ("(backfill wait)" if r["waiting_backfill"] else "-")
        if r.get("operator_outcome"):
            move += " → " + ("landed" if r["operator_outcome"].endswith("landed") else "not")
        phase = r["phase"] + (f" {r['share']:g}%" if r["phase"] == "canary" else "")
        if r["migration"]:
            phase = f"m{r['migration']} {phase}"
        lines.append(
            f"| {r['kill']} | {r['kill_seed']} | {r['mode']} | {r['offset_s']} | {phase}"
            f" | {move} | {r['write_in_flight'] or '-'} | {r['phase_after']}"
            f" | {r['restart_s']} | {r.get('catch_up_s', '-')} | {verdict} |"
        )
    lines += ["", "Invariants checked after every restart:", ""]
    lines += [f"- `{name}`: {text}" for name, text in INVARIANTS.items()]
    lines += [
        "",
        "A live index is the primary, plus the migration's target once it is backfilled (a"
        " target still being backfilled is only checked for deleted documents). A write or"
        " an operator move in flight at the kill may land or not; the harness adopts what the"
        " server says and the walk continues from there.",
    ]
    return "\n".join(lines) + "\n"


def write(out: Path, result: dict[str, Any]) -> None:
    """The JSON and its markdown summary (rewritten after every round: a cut-short run
    still leaves the kills it made on disk, marked ``"complete": false``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--embedder", choices=sorted(TOML), default="hash")
    parser.add_argument("--id-space", type=int, default=200, help="distinct document ids")
    parser.add_argument("--initial", type=int, default=120, help="documents before the loop")
    parser.add_argument("--out", type=Path, default=RESULTS / "crashloop.json")
    parser.add_argument("--keep", action="store_true", help="keep the server's home folder")
    parser.add_argument(
        "--modes",
        help="kill modes to draw from, comma-separated: timer (a random moment), operator"
        " (just after a move is sent), commit (the moment a move commits, before its answer),"
        " write (just after a write is sent); default timer,timer,operator,commit,write",
    )
    parser.add_argument(
        "--no-migrate", action="store_true", help="writes only: no operator, no migration"
    )
    parser.add_argument(
        "--database",
        help="postgresql://... : the server's store on that PostgreSQL (an empty"
        " database of its own); default SQLite in the home",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="replicas on one PostgreSQL (--database, or else a private one from pgserver)",
    )
    args = parser.parse_args()
    if args.replicas > 1 and args.database is None:
        from stress.cluster import database  # noqa: PLC0415 - pgserver only for this mode

        with database(None) as url:
            args.database = url
            return run(args)
    return run(args)


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="crashloop-"))
    try:
        harness = Harness(
            workdir,
            seed=args.seed,
            embedder=args.embedder,
            id_space=args.id_space,
            initial=args.initial,
            migrate=not args.no_migrate,
            modes=args.modes.split(",") if args.modes else None,
            database_url=args.database,
            replicas=args.replicas,
        )
        result = harness.run(args.kills, on_round=lambda partial: write(args.out, partial))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    write(args.out, result)
    print(
        f"{result['restarts_all_invariants_held']} of {result['restarts']} restarts held every"
        f" invariant; wrote {args.out}"
    )
    return 0 if not result["failed_kills"] else 1


if __name__ == "__main__":
    sys.exit(main())
