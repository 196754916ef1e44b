"""``switchover drill``: rehearse the way back on a live migration, and time each step.

Roll back, check every read is on the source, check a new write reaches both indexes,
then restore the phase (and canary share) the migration had. Everything goes through
the same HTTP API an operator uses, so the timings are the operator's time to safety.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from indexes.errors import ConflictError

from .client import Client

DRILL_PHASES = ("shadow", "canary")


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    ok: bool
    detail: str


def _timed(name: str, action: Callable[[], tuple[bool, str]]) -> Step:
    started = time.perf_counter()
    ok, detail = action()
    return Step(name, round(time.perf_counter() - started, 4), ok, detail)


def run_drill(client: Client, *, reads: int = 50, write_timeout: float = 10.0) -> dict[str, Any]:
    status = client.request("GET", "/v1/migrations/current")
    if status["phase"] not in DRILL_PHASES:
        raise ConflictError(
            f"a drill runs during shadow or canary; migration {status['id']} is {status['phase']}"
        )
    mid, source, target = status["id"], status["source"], status["target"]
    prior_phase, prior_share = status["phase"], status["canary_percent"]
    steps: list[Step] = []

    def rollback() -> tuple[bool, str]:
        result = client.request(
            "POST", f"/v1/migrations/{mid}/rollback", {"reason": "drill: rehearsed rollback"}
        )
        return result["phase"] == "rolled_back", f"phase {result['phase']}"

    def reads_on_source() -> tuple[bool, str]:
        served = set()
        for i in range(reads):
            body = {"query": "drill read", "k": 1}
            result = client.request_with_headers(
                "POST", "/v1/search", body, {"X-Routing-Key": f"drill-{i}"}
            )
            served.add(result["served_by"])
        return served == {source}, f"{reads} keyed reads served by {sorted(served)}"

    drill_id = f"drill-{int(time.time() * 1000)}"
    text = f"switchover drill marker {drill_id} quartz heron lattice"

    def write_reaches_both() -> tuple[bool, str]:
        client.upsert([{"id": drill_id, "text": text}])
        found: dict[str, bool] = {source: False, target: False}
        deadline = time.monotonic() + write_timeout
        while not all(found.values()) and time.monotonic() < deadline:
            for name in [n for n, seen in found.items() if not seen]:
                hits = client.request(
                    "POST", f"/v1/indexes/{name}/search", {"query": text, "k": 3}
                )["hits"]
                found[name] = drill_id in [h["id"] for h in hits]
            if not all(found.values()):
                time.sleep(0.05)
        client.request("DELETE", f"/v1/documents/{drill_id}")
        where = sorted(name for name, seen in found.items() if seen)
        return all(found.values()), f"write {drill_id} found on {where}"

    def restore() -> tuple[bool, str]:
        result = client.request(
            "POST", f"/v1/migrations/{mid}/resume", {"reason": "drill: restore"}
        )
        if prior_phase == "canary":
            result = client.request(
                "POST",
                f"/v1/migrations/{mid}/canary",
                {
                    "percent": prior_share,
                    "override": True,
                    "reason": "drill: restore the share it had",
                },
            )
        ok = result["phase"] == prior_phase and result["canary_percent"] == prior_share
        return ok, f"back to {result['phase']} at {result['target_share']}%"

    for name, action in (
        ("rollback", rollback),
        ("reads on the source", reads_on_source),
        ("a write reaches both indexes", write_reaches_both),
        ("restore the prior state", restore),
    ):
        steps.append(_timed(name, action))
        if not steps[-1].ok and name == "rollback":
            break
    return {
        "migration": mid,
        "prior": {"phase": prior_phase, "canary_percent": prior_share},
        "steps": [asdict(s) for s in steps],
        "time_to_safety_s": steps[0].seconds,
        "ok": all(s.ok for s in steps),
    }
