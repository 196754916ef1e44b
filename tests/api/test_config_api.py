"""Runtime config with history: set, see it take effect at once, revert in one step."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from evals import load_dataset
from migrator import Settings
from migrator.guardrails import FIELDS, Setting
from tests.api.conftest import service_of
from tests.conftest import OPERATOR, SAMPLE_DIR, open_client

if TYPE_CHECKING:  # starlette's TestClient answers with httpx2's Response (starlette types it so)
    import httpx2

pytestmark = pytest.mark.documents(40)


@pytest.fixture
def migrated(client: TestClient) -> TestClient:
    """The shared client, with a migration to ``v2`` (HNSW) backfilled: two live indexes."""
    body = {"target": {"name": "v2", "factory": "HNSW32,Flat"}}
    mid = client.post("/v1/migrations", json=body, headers=OPERATOR).json()["id"]
    assert client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR).status_code == 200
    assert service_of(client).wait_backfill().finished
    return client


def ef_search(http: TestClient) -> int | None:
    index = next(i for i in http.get("/v1/indexes").json()["indexes"] if i["name"] == "v2")
    value: int | None = index["search_params"]["ef_search"]
    return value


def test_set_takes_effect_at_once_and_revert_restores_it(migrated: TestClient) -> None:
    assert migrated.get("/v1/config", headers=OPERATOR).json()["version"] == 0
    first = migrated.put(
        "/v1/config",
        json={"indexes": {"v2": {"ef_search": 128}}, "reason": "more recall"},
        headers=OPERATOR,
    )
    assert first.status_code == 200
    assert ef_search(migrated) == 128
    second = migrated.put(
        "/v1/config", json={"indexes": {"v2": {"ef_search": 16}}}, headers=OPERATOR
    )
    assert ef_search(migrated) == 16
    reverted = migrated.post("/v1/config/revert", headers=OPERATOR)
    assert reverted.status_code == 200
    assert ef_search(migrated) == 128, "the previous search parameters, at once"
    history = migrated.get("/v1/config/history", headers=OPERATOR).json()["versions"]
    assert [v["reason"] for v in history] == [
        f"revert to version {first.json()['version']}",
        "set",
        "more recall",
        "initial",
    ]
    assert all(v["actor"] in ("tester", "switchover") for v in history)
    assert second.json()["version"] == history[1]["version"]


def test_migration_knobs_are_versioned_and_audited_on_the_timeline(migrated: TestClient) -> None:
    migrated.put("/v1/config", json={"migration": {"shadow_sample": 0.9}}, headers=OPERATOR)
    status = migrated.get("/v1/migrations/current", headers=OPERATOR).json()
    assert status["plan"]["shadow_sample"] == 0.9
    events = migrated.get(f"/v1/migrations/{status['id']}/events", headers=OPERATOR).json()[
        "events"
    ]
    assert events[-1]["reason"] == "plan: shadow_sample=0.9"
    migrated.post("/v1/config/revert", headers=OPERATOR)
    status = migrated.get("/v1/migrations/current", headers=OPERATOR).json()
    assert status["plan"]["shadow_sample"] == 0.1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"indexes": {"nope": {"ef_search": 10}}},
        {"indexes": {"v2": {"ef_search": 0}}},
        {"indexes": {"v2": {"warp": 9}}},
        {"migration": {"shadow_sample": 7}},
        {"migration": {"phase": "cutover"}},
        {"surprise": 1},
    ],
)
def test_bad_config_changes_are_4xx_and_change_nothing(migrated: TestClient, body: object) -> None:
    before = migrated.get("/v1/config", headers=OPERATOR).json()
    response = migrated.put("/v1/config", json=body, headers=OPERATOR)
    assert 400 <= response.status_code < 500
    after = migrated.get("/v1/config", headers=OPERATOR).json()
    assert after == before
    assert migrated.get("/v1/config/history", headers=OPERATOR).json()["versions"] == []


def test_config_needs_the_operator_token(migrated: TestClient) -> None:
    assert migrated.get("/v1/config").status_code == 401
    assert migrated.put("/v1/config", json={"indexes": {}}).status_code == 401
    assert migrated.post("/v1/config/revert").status_code == 401


def test_a_revert_is_visible_in_search_results_at_once(settings: Settings) -> None:
    data = load_dataset(SAMPLE_DIR)
    with open_client(settings) as c:
        docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus]
        c.put("/v1/documents", json={"documents": docs})
        body = {"target": {"name": "v2", "factory": "IVF8,Flat", "search_params": {"nprobe": 1}}}
        mid = c.post("/v1/migrations", json=body, headers=OPERATOR).json()["id"]
        c.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR)
        service_of(c).wait_backfill()

        def agreement() -> int:
            same = 0
            for q in data.queries[:40]:
                a, b = (
                    [
                        h["id"]
                        for h in c.post(
                            f"/v1/indexes/{name}/search", json={"query": q.text, "k": 5}
                        ).json()["hits"]
                    ]
                    for name in ("v1", "v2")
                )
                same += a == b
            return same

        narrow = agreement()
        c.put(
            "/v1/config",
            json={"indexes": {"v2": {"nprobe": 8}}, "reason": "probe all"},
            headers=OPERATOR,
        )
        assert agreement() == 40, "probing every list is exact search"
        c.post("/v1/config/revert", headers=OPERATOR)
        assert agreement() == narrow < 40, "the revert brings nprobe 1 back at once"
        history = c.get("/v1/config/history", headers=OPERATOR).json()["versions"]
        assert history[0]["reason"].startswith("revert to version")
        assert history[0]["config"]["indexes"]["v2"]["nprobe"] == 1


def send(http: TestClient, method: str, url: str, body: object) -> httpx2.Response:
    """``body`` as JSON with NaN and Infinity spelled as Python's encoder does (the client's
    own encoder refuses them; the server's JSON parser accepts them)."""
    headers = {**OPERATOR, "Content-Type": "application/json"}
    return http.request(method, url, content=json.dumps(body), headers=headers)


BAD_GUARDRAILS = [
    {"errors": {"min_samples": 0}},
    {"recall": {"pool": 100.0}},
    {"latency": {"max_p95_ratio": float("nan")}},
    {"lag": {"max_seconds": float("inf")}},
]


@pytest.mark.parametrize("guardrails", BAD_GUARDRAILS)
def test_guardrail_values_that_would_stop_the_watchdog_are_refused_everywhere(
    migrated: TestClient, guardrails: dict[str, object]
) -> None:
    """PUT /v1/config and PATCH plan both refuse them with a 422 naming the field."""
    mid = migrated.get("/v1/migrations/current", headers=OPERATOR).json()["id"]
    before = migrated.get("/v1/config", headers=OPERATOR).json()
    field = next(iter(guardrails))
    put = send(migrated, "PUT", "/v1/config", {"migration": {"guardrails": guardrails}})
    patch = send(migrated, "PATCH", f"/v1/migrations/{mid}/plan", {"guardrails": guardrails})
    for response in (put, patch):
        assert response.status_code == 422, response.text
        assert f"guardrails.{field}." in response.json()["error"]["message"]
    assert migrated.get("/v1/config", headers=OPERATOR).json() == before
    events = migrated.get(f"/v1/migrations/{mid}/events", headers=OPERATOR).json()["events"]
    assert [e["reason"] for e in events if e["reason"].startswith("plan:")] == []


@pytest.mark.parametrize("guardrails", BAD_GUARDRAILS)
def test_a_migration_with_such_guardrails_is_not_created(
    client: TestClient, guardrails: dict[str, object]
) -> None:
    body = {"target": {"name": "v2", "factory": "Flat"}, "guardrails": guardrails}
    response = send(client, "POST", "/v1/migrations", body)
    assert response.status_code == 422, response.text
    assert "guardrails." in response.json()["error"]["message"]
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404
    assert [i["name"] for i in client.get("/v1/indexes").json()["indexes"]] == ["v1"]


NAN, INF = float("nan"), float("inf")
BAD_KNOBS = [
    ("canary_steps", 5),
    ("canary_steps", ["x"]),
    ("canary_steps", None),
    ("canary_steps", "123"),
    ("canary_steps", []),
    ("canary_steps", [50, 5]),
    ("canary_steps", [5, 5]),
    ("canary_steps", [0]),
    ("canary_steps", [NAN]),
    ("canary_steps", [5, INF]),
    ("canary_steps", [True]),
    ("canary_steps", ["5"]),
    ("canary_steps", {"5": 5}),
    ("shadow_sample", "abc"),
    ("shadow_sample", None),
    ("shadow_sample", [1]),
    ("shadow_sample", NAN),
    ("shadow_sample", -INF),
    ("shadow_sample", True),
    ("shadow_sample", "0.5"),
    ("shadow_sample", 1.5),
    ("guardrails", None),
    ("guardrails", [1]),
    ("guardrails", "recall"),
]


@pytest.mark.parametrize(("key", "value"), BAD_KNOBS)
def test_put_config_refuses_a_bad_migration_knob_by_name(
    migrated: TestClient, key: str, value: object
) -> None:
    before = migrated.get("/v1/config", headers=OPERATOR).json()
    response = send(migrated, "PUT", "/v1/config", {"migration": {key: value}})
    assert response.status_code == 422, response.text
    assert key in response.json()["error"]["message"]
    assert migrated.get("/v1/config", headers=OPERATOR).json() == before
    assert migrated.get("/v1/config/history", headers=OPERATOR).json()["versions"] == []


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, v in BAD_KNOBS if v is not None])
def test_patch_plan_refuses_a_bad_knob_by_name(
    migrated: TestClient, key: str, value: object
) -> None:
    status = migrated.get("/v1/migrations/current", headers=OPERATOR).json()
    response = send(migrated, "PATCH", f"/v1/migrations/{status['id']}/plan", {key: value})
    assert response.status_code == 422, response.text
    assert key in response.json()["error"]["message"]
    after = migrated.get("/v1/migrations/current", headers=OPERATOR).json()
    assert after["plan"] == status["plan"]


BAD_BATCHES: list[tuple[str, object]] = [
    ("backfill_batch", v) for v in (2.5, 128.0, True, 0, 5000, 10**30, "128", [1])
]


@pytest.mark.parametrize(
    ("key", "value"), [(k, v) for k, v in BAD_KNOBS if v is not None] + BAD_BATCHES
)
def test_a_migration_with_a_bad_plan_value_is_not_created(
    client: TestClient, key: str, value: object
) -> None:
    body = {"target": {"name": "v2", "factory": "Flat"}, key: value}
    response = send(client, "POST", "/v1/migrations", body)
    assert response.status_code == 422, response.text
    assert key in response.json()["error"]["message"]
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"ef_search": 5.0},
        {"ef_search": True},
        {"ef_search": "64"},
        {"ef_search": 10**30},
        {"ef_search": NAN},
        {"nprobe": 0},
        {"nprobe": [1]},
        {"efsearch": 64},
    ],
)
def test_search_params_must_be_known_integers_in_range(
    migrated: TestClient, params: dict[str, object]
) -> None:
    before = migrated.get("/v1/config", headers=OPERATOR).json()
    response = send(migrated, "PUT", "/v1/config", {"indexes": {"v2": params}})
    assert response.status_code == 422, response.text
    assert next(iter(params)) in response.json()["error"]["message"]
    assert migrated.get("/v1/config", headers=OPERATOR).json() == before


def test_good_knobs_still_apply(migrated: TestClient) -> None:
    change = {"migration": {"canary_steps": [2, 10.5, 100 - 1e-9], "shadow_sample": 1}}
    assert migrated.put("/v1/config", json=change, headers=OPERATOR).status_code == 200
    plan = migrated.get("/v1/migrations/current", headers=OPERATOR).json()["plan"]
    assert plan["canary_steps"] == [2.0, 10.5, 100 - 1e-9]
    assert plan["shadow_sample"] == 1.0


# -- type confusion, generated: every config and plan field, every entry point -------------

_ALWAYS_BAD = st.one_of(  # wrong for every numeric setting: none is negative, huge or non-finite
    st.sampled_from([NAN, INF, -INF]),
    st.text(max_size=6),
    st.booleans(),
    st.lists(st.integers(0, 50), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.integers(min_value=10**13, max_value=10**40),
    st.integers(min_value=-(10**40), max_value=-1),
)
_NULL = st.none()
_ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


def bad_setting(setting: Setting, *, null_is_bad: bool = True) -> st.SearchStrategy[object]:
    """Values a guardrail setting must refuse, whatever its range."""
    if setting.kind in ("bool", "bool_or_null"):
        extra = [_NULL] if setting.kind == "bool" and null_is_bad else []
        not_bool = st.one_of(
            st.integers(), _ANY_FLOAT, st.text(max_size=6), st.lists(st.booleans())
        )
        return st.one_of(not_bool, *extra)
    ints_take_no_floats = [_ANY_FLOAT] if setting.kind == "int" else []
    return st.one_of(_ALWAYS_BAD, *ints_take_no_floats, *([_NULL] if null_is_bad else []))


_BAD_STEP = st.one_of(_ALWAYS_BAD, _NULL, st.sampled_from([0, 100, 100.5, -0.0]))


def bad_knob(key: str, *, null_is_bad: bool = True) -> st.SearchStrategy[object]:
    null = [_NULL] if null_is_bad else []
    if key == "canary_steps":
        not_a_list = st.one_of(st.text(max_size=6), _ANY_FLOAT, st.integers(), st.booleans(), *null)
        return st.one_of(not_a_list, st.just([]), st.lists(_BAD_STEP, min_size=1, max_size=3))
    if key == "shadow_sample":
        return st.one_of(_ALWAYS_BAD, st.floats(min_value=1.0001, max_value=1e300), *null)
    if key == "backfill_batch":
        return st.one_of(_ALWAYS_BAD, _ANY_FLOAT, st.integers(4097, 10**6), st.just(0), *null)
    assert key == "guardrails"
    not_an_object = st.one_of(st.text(max_size=6), _ANY_FLOAT, st.lists(st.integers()), *null)
    bad_rule = st.sampled_from(sorted(FIELDS)).flatmap(
        lambda name: st.one_of(
            st.builds(lambda v: {name: v}, st.one_of(st.integers(), st.text(max_size=4), _NULL)),
            st.sampled_from(sorted(FIELDS[name])).flatmap(
                lambda field: bad_setting(FIELDS[name][field]).map(lambda v: {name: {field: v}})
            ),
        )
    )
    return st.one_of(not_an_object, bad_rule)


_BAD_PARAM = st.one_of(
    st.sampled_from(["ef_search", "nprobe"]).flatmap(
        lambda key: st.one_of(_ALWAYS_BAD, _ANY_FLOAT, st.just(0)).map(lambda v: {key: v})
    ),
    st.text(min_size=1, max_size=8)
    .filter(lambda k: k not in ("ef_search", "nprobe"))
    .map(lambda key: {key: 1}),
)
_KNOBS = ("shadow_sample", "canary_steps", "guardrails")
_FUZZ = fuzz_settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def unchanged(http: TestClient, before: dict[str, object]) -> None:
    assert http.get("/v1/config", headers=OPERATOR).json() == before
    assert http.get("/v1/config/history", headers=OPERATOR).json()["versions"] == []


@_FUZZ
@given(data=st.data())
def test_type_confusion_in_put_config_and_patch_plan_is_a_4xx_that_changes_nothing(
    migrated: TestClient, data: st.DataObject
) -> None:
    status = migrated.get("/v1/migrations/current", headers=OPERATOR).json()
    before = migrated.get("/v1/config", headers=OPERATOR).json()
    where = data.draw(st.sampled_from(["knob", "index", "patch"]))
    if where == "index":
        body: object = {"indexes": {"v2": data.draw(_BAD_PARAM)}}
        response = send(migrated, "PUT", "/v1/config", body)
    else:
        key = data.draw(st.sampled_from(_KNOBS))
        value = data.draw(bad_knob(key, null_is_bad=where == "knob"))
        if where == "knob":
            response = send(migrated, "PUT", "/v1/config", {"migration": {key: value}})
        else:
            response = send(migrated, "PATCH", f"/v1/migrations/{status['id']}/plan", {key: value})
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()["error"]) >= {"type", "message"}
    unchanged(migrated, before)
    after = migrated.get("/v1/migrations/current", headers=OPERATOR).json()
    assert after["plan"] == status["plan"]


@_FUZZ
@given(data=st.data())
def test_type_confusion_in_a_new_migration_is_a_4xx_that_creates_nothing(
    client: TestClient, data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from([*_KNOBS, "backfill_batch"]))
    value = data.draw(bad_knob(key, null_is_bad=False))  # null means "the default" here
    body = {"target": {"name": "v2", "factory": "Flat"}, key: value}
    response = send(client, "POST", "/v1/migrations", body)
    assert 400 <= response.status_code < 500, response.text
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404
    assert [i["name"] for i in client.get("/v1/indexes").json()["indexes"]] == ["v1"]
