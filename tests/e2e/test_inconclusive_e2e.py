"""A deadline on doubt through the HTTP API: real server process, real MiniLM, the sample corpus.

The target is the source's own layout judged with no margin at all, so every paired delta
is 0 and the judgement can only hold until its pool is used up. In shadow that blocks
advancing and nothing moves; a canary pushed through by an operator's override is rolled
back by the watchdog as soon as the pool is exhausted (audited, counted in /metrics); with
``action: "freeze"`` the canary is frozen at 0% instead. A bad policy is a 422 naming
the setting, and changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from evals import load_dataset
from tests.conftest import SAMPLE_DIR
from tests.server import ServerProcess

pytestmark = pytest.mark.slow

UNDECIDABLE = {"recall": {"margin": 0.0, "pool": 60, "min_samples": 50}}


def status(http: httpx.Client, auth: dict[str, str]) -> dict[str, Any]:
    answer = http.get("/v1/migrations/current", headers=auth)
    answer.raise_for_status()
    return dict(answer.json())


def act(http: httpx.Client, auth: dict[str, str], mid: int, action: str, **body: Any) -> Any:
    return http.post(f"/v1/migrations/{mid}/{action}", json=body or None, headers=auth)


def wait(
    http: httpx.Client, auth: dict[str, str], done: Any, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    current = status(http, auth)
    while not done(current) and time.monotonic() < deadline:
        time.sleep(0.3)
        current = status(http, auth)
    assert done(current), current
    return current


def check(current: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in current.get("guardrails") or [] if c["name"] == name)


def rollout(http: httpx.Client, auth: dict[str, str], name: str, **plan: Any) -> int:
    body = {"target": {"name": name}, "eval_set": "sample", "guardrails": UNDECIDABLE, **plan}
    created = http.post("/v1/migrations", json=body, headers=auth)
    assert created.status_code == 201, created.text
    mid = int(created.json()["id"])
    act(http, auth, mid, "backfill").raise_for_status()
    wait(http, auth, lambda s: s["backfill"]["finished"])
    act(http, auth, mid, "shadow").raise_for_status()
    return mid


def test_a_hold_that_outlives_its_pool_blocks_shadow_and_ends_a_canary(tmp_path: Path) -> None:
    data = load_dataset(SAMPLE_DIR)
    docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus]
    with (
        ServerProcess(tmp_path / "home", eval_data_roots=[SAMPLE_DIR]) as server,
        httpx.Client(base_url=server.url, timeout=300) as http,
    ):
        auth = server.operator_header
        http.put("/v1/documents", json={"documents": docs}).raise_for_status()
        body = {"name": "sample", "path": str(SAMPLE_DIR), "sample": 150, "seed": 1}
        http.post("/v1/eval-sets", json=body, headers=auth).raise_for_status()

        # a bad policy is refused at create and creates nothing
        for bad in ({"action": "pause"}, {"deadline_s": -1}, {"max_holds": 2}):
            refused = http.post(
                "/v1/migrations",
                json={"target": {"name": "v2"}, "inconclusive": bad},
                headers=auth,
            )
            assert refused.status_code in (400, 422), refused.text
            assert "inconclusive" in refused.text
        assert http.get("/v1/migrations/current", headers=auth).status_code == 404

        mid = rollout(http, auth, "v2")
        assert status(http, auth)["plan"]["inconclusive"] == {
            "action": "rollback",
            "deadline_s": 3600.0,
            "on_pool_exhausted": True,
        }
        shadow = wait(http, auth, lambda s: (s.get("judgement") or {}).get("finished"))
        blocked = check(shadow, "inconclusive")
        assert shadow["phase"] == "shadow"
        assert "only blocks advancing" in blocked["detail"], blocked
        assert 'switchover_guardrail_state{name="inconclusive"} 1.0' in http.get("/metrics").text
        page = http.get("/ui/status.json", headers=auth).text
        assert "only blocks advancing" in page  # the status page shows it
        refused = act(http, auth, mid, "canary")
        assert refused.status_code == 409
        assert "passing recall judgement" in refused.text

        # a bad plan edit is refused and changes nothing
        edit = http.patch(
            f"/v1/migrations/{mid}/plan", json={"inconclusive": {"action": "x"}}, headers=auth
        )
        assert edit.status_code == 422, edit.text
        assert "inconclusive.action must be 'rollback' or 'freeze'" in edit.text
        assert status(http, auth)["plan"]["inconclusive"]["action"] == "rollback"

        act(http, auth, mid, "canary", override=True).raise_for_status()
        rolled = wait(http, auth, lambda s: s["phase"] == "rolled_back")
        assert rolled["target_share"] == 0
        events = http.get(f"/v1/migrations/{mid}/events", headers=auth).json()["events"]
        last = events[-1]
        assert last["actor"] == "watchdog"
        assert last["reason"].startswith("inconclusive: the recall judgement still holds")
        assert last["metrics"]["recall"]["judgement"]["decision"] == "hold"
        assert last["metrics"]["eval_run"] is not None
        metrics = http.get("/metrics").text
        assert 'switchover_rollbacks_total{cause="inconclusive"} 1.0' in metrics

        # freeze instead: resumed, the canary is frozen at 0% and waits for the operator
        edit = http.patch(
            f"/v1/migrations/{mid}/plan", json={"inconclusive": {"action": "freeze"}}, headers=auth
        )
        assert edit.status_code == 200, edit.text
        act(http, auth, mid, "resume").raise_for_status()
        wait(http, auth, lambda s: (s.get("judgement") or {}).get("finished"))
        act(http, auth, mid, "canary", percent=5, override=True).raise_for_status()
        frozen = wait(http, auth, lambda s: s["phase"] == "canary" and s["canary_percent"] == 0)
        assert frozen["target_share"] == 0
        last = http.get(f"/v1/migrations/{mid}/events", headers=auth).json()["events"][-1]
        assert last["actor"] == "watchdog"
        assert "canary frozen at 0%" in last["reason"]
        assert act(http, auth, mid, "canary").status_code == 409
