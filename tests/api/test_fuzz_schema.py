"""API fuzzing: schemathesis against the service's own OpenAPI schema.

Every operation in ``/openapi.json`` (retrieval and operator) gets generated requests in two
modes: valid by the schema (positive) and breaking it (negative, where the operation takes any
input). Each response goes through schemathesis's checks (``case.validate_response``):
``not_a_server_error`` (no 5xx), ``status_code_conformance`` (a documented status),
``content_type_conformance`` and ``response_schema_conformance`` (the body matches that
status's schema, errors included), ``response_headers_conformance``,
``negative_data_rejection`` (schema-breaking input gets a 4xx) and ``ignored_auth`` (on every
2xx of an operator route it replays the request without a token and with a wrong one and
fails unless both are refused).

Left out on purpose: ``positive_data_acceptance``. The schema states types and the configured
limits, but some domain rules are not expressible in it (no control characters in an id, a
text that is not blank, a plan change naming at least one knob, moves allowed only from
certain phases) and get a documented 4xx; that is correct behaviour, not a failure.

Operator routes are fuzzed twice: with the operator token (schemathesis sends it as the
``operatorToken`` bearer scheme) and anonymously, where every answer must be a 401.

One app and one home serve the module: state accumulates (documents, migrations moving
through their phases, eval sets, config versions), so later cases meet what earlier ones left;
the checks hold in every state. A 5xx is a bug in the product: it is fixed there, never
suppressed here. The module counts the requests it sends; ``test_zz_request_counts`` prints
them and checks the total.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from migrator import Limits, Switchover
from migrator.guardrails import Guardrails
from tests.api.conftest import seed_live_migration
from tests.conftest import OPERATOR, OPERATOR_TOKEN, SAMPLE_DIR, hash_settings
from tests.forms import size
from tests.server import ServerProcess

POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE

FAST_EXAMPLES = 35  # per operation, mode and token: a few thousand requests, about a minute
SLOW_EXAMPLES = size(80, 200)  # the big run (-m slow): about 4,000 (full: 10,000) requests
SERVER_EXAMPLES = 8  # the real model in a real server process, over HTTP
FAST_MINIMUM, SLOW_MINIMUM, SERVER_MINIMUM = 2_000, size(4_000, 8_000), 300
REPORT_ENV = "SWITCHOVER_FUZZ_REPORT"  # write the counts of the slow run to this markdown file

# Requests sent, by (run, operation, mode), and answers by (run, status).
SENT: Counter[tuple[str, str, str]] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()
FAILED: Counter[str] = Counter()  # operations whose checks failed, by run
FUZZED: Counter[str] = Counter()  # operations fuzzed (with one mode), by run
SECONDS: defaultdict[str, float] = defaultdict(float)
LABEL_SECONDS: defaultdict[str, float] = defaultdict(float)


def checks_config(token: str | None) -> schemathesis.Config:
    config: dict[str, Any] = {"checks": {"positive_data_acceptance": {"enabled": False}}}
    if token is not None:
        config["auth"] = {"openapi": {"operatorToken": {"bearer": token}}}
    return schemathesis.Config.from_dict(config)


def _operations() -> list[tuple[str, bool, bool]]:
    """(label, needs a token, takes input) for every operation in the schema, read from an app
    that is never started: the list is fixed at collection, so a new route is fuzzed at once."""
    paths = create_app(hash_settings(Path("/nonexistent"))).openapi()["paths"]
    return [
        (
            f"{method.upper()} {path}",
            bool(operation.get("security")),
            bool(operation.get("parameters") or operation.get("requestBody")),
        )
        for path, operations in paths.items()
        for method, operation in operations.items()
    ]


OPERATIONS = _operations()
WITH_TOKEN = [
    pytest.param(label, mode, id=f"{label} {mode.value}")
    for label, _, takes_input in OPERATIONS
    for mode in (POSITIVE, NEGATIVE)
    if mode is POSITIVE or takes_input
]
ANONYMOUS = [
    pytest.param(label, mode, id=f"{label} {mode.value}")
    for label, needs_token, takes_input in OPERATIONS
    for mode in (POSITIVE, NEGATIVE)
    if needs_token and (mode is POSITIVE or takes_input)
]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    svc = Switchover(hash_settings(home))
    app = create_app(svc.settings, service=svc)
    with TestClient(app) as client:
        # ids 1 and ``sample``, index ``v2``: generated requests meet real things too
        seed_live_migration(client, documents=40, sample=20)
        yield app
    svc.close(snapshot=False)


@pytest.fixture(scope="module")
def operator_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi(
        "/openapi.json", fuzz_app, config=checks_config(OPERATOR_TOKEN)
    )


@pytest.fixture(scope="module")
def anonymous_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=checks_config(None))


def fuzz(
    schema: Any,
    label: str,
    mode: schemathesis.GenerationMode,
    *,
    examples: int,
    run: str,
    refused: bool = False,
) -> None:
    """Send ``examples`` generated requests for one operation; every check must pass, and with
    ``refused`` every answer must be a 401."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the schema"
    # Valid requests with the token must get past authentication: the fuzzing reaches the code.
    authorised = mode is POSITIVE and not refused and "/" not in run
    started = time.perf_counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case[Any]) -> None:
        response = case.call()
        SENT[(run, label, mode.value)] += 1
        STATUSES[(run, response.status_code)] += 1
        case.validate_response(response)
        if authorised:
            assert response.status_code != 401, response.text
        if refused:
            assert response.status_code == 401, response.text
            assert response.json()["error"]["type"] == "unauthorized"

    FUZZED[run] += 1
    try:
        one()
    except BaseException:
        FAILED[run] += 1
        raise
    SECONDS[run] += time.perf_counter() - started
    LABEL_SECONDS[f"{run} {label} {mode.value}"] += time.perf_counter() - started


@pytest.mark.parametrize(("label", "mode"), WITH_TOKEN)
def test_generated_requests_get_no_5xx_and_match_the_schema(
    operator_schema: Any, label: str, mode: schemathesis.GenerationMode
) -> None:
    fuzz(operator_schema, label, mode, examples=FAST_EXAMPLES, run="fast")


@pytest.mark.parametrize(("label", "mode"), ANONYMOUS)
def test_generated_requests_without_a_token_get_401(
    anonymous_schema: Any, label: str, mode: schemathesis.GenerationMode
) -> None:
    fuzz(anonymous_schema, label, mode, examples=FAST_EXAMPLES, run="fast/anonymous", refused=True)


@pytest.mark.slow
@pytest.mark.parametrize(("label", "mode"), WITH_TOKEN)
def test_big_run_generated_requests_get_no_5xx_and_match_the_schema(
    operator_schema: Any, label: str, mode: schemathesis.GenerationMode
) -> None:
    fuzz(operator_schema, label, mode, examples=SLOW_EXAMPLES, run="slow")


@pytest.mark.slow
@pytest.mark.parametrize(("label", "mode"), ANONYMOUS)
def test_big_run_without_a_token_gets_401(
    anonymous_schema: Any, label: str, mode: schemathesis.GenerationMode
) -> None:
    fuzz(anonymous_schema, label, mode, examples=SLOW_EXAMPLES, run="slow/anonymous", refused=True)


@pytest.mark.slow
def test_real_server_with_the_real_model_over_http(tmp_path: Path) -> None:
    """The same checks against ``switchover serve`` (MiniLM, uvicorn) over a socket."""
    home = tmp_path / "home"
    with ServerProcess(home, token="fuzz-token", eval_data_roots=[SAMPLE_DIR]) as server:  # noqa: S106 - a test token
        auth = server.operator_header
        docs = [{"id": f"d{i}", "text": f"lighthouse lamp and tide number {i}"} for i in range(20)]
        assert httpx.put(
            f"{server.url}/v1/documents", json={"documents": docs}, timeout=60
        ).is_success
        body = {"name": "sample", "path": str(SAMPLE_DIR), "sample": 10, "seed": 1}
        assert httpx.post(f"{server.url}/v1/eval-sets", json=body, headers=auth).is_success
        url = f"{server.url}/openapi.json"
        with_token = schemathesis.openapi.from_url(url, config=checks_config("fuzz-token"))
        anonymous = schemathesis.openapi.from_url(url, config=checks_config(None))
        for label, needs_token, takes_input in OPERATIONS:
            for mode in (POSITIVE, NEGATIVE) if takes_input else (POSITIVE,):
                fuzz(with_token, label, mode, examples=SERVER_EXAMPLES, run="server")
                if needs_token:
                    fuzz(anonymous, label, mode, examples=2, run="server/anonymous", refused=True)
        log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert sum(n for (run, _, _), n in SENT.items() if run.startswith("server")) >= SERVER_MINIMUM


# -- shapes a schema does not describe: hypothesis builds them ------------------------------
#
# schemathesis generates bodies that follow (or break) the schema, small ones. These are the
# shapes that cost or crash: huge arrays of empty or minimal objects, deep nesting, wide
# objects, long strings, lone surrogates, and numbers where integers are meant (floats, NaN,
# Infinity, 1e999999, integers past 64 bits, numbers as strings), each put in every field of
# every body, the operator's plan and config fields and every guardrail setting included.
# Bodies are raw JSON text (json.dumps cannot write most of them); the hole ``@`` in a
# template takes the value. No answer may be a 5xx; every error has the one body shape and
# stays under 64 KB.

SHAPE_EXAMPLES = 6  # per template: about 500 requests, about a minute
SLOW_SHAPE_EXAMPLES = 60
ERROR_BODY_BYTES = 64 * 1024
MAX_BODY = Limits().max_body_bytes


def _keys(count: int) -> str:
    return ",".join(f'"k{i}":0' for i in range(count))


def _repeat(item: str, count: int) -> str:
    return "[" + ",".join([item] * count) + "]"


MINIMAL = ["{}", "[]", "0", '""', "null", '{"id":"x","text":"t"}', '{"a":{}}', '{"id":"x"}']
NUMBERS = [
    "NaN", "Infinity", "-Infinity", "1e999999", "-1e999999", "1e308", "1e-999", "2.5", "-0.0",
    "0", "-1", "1", "4097", "9223372036854775807", "9223372036854775808", "1" + "0" * 400,
    "true", "false", "null", '"1"', '"2.5"', '"NaN"', '"1e999999"', '"Infinity"', "[]", "{}",
    "[1]", '{"a":1}', '"\\ud800"',
]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
).map(json.dumps)  # NaN and Infinity come out as the literals Python's json writes
VALUES = st.one_of(
    st.sampled_from(NUMBERS),
    st.floats().map(repr).filter(lambda text: text not in ("nan", "inf", "-inf")),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.builds(_repeat, st.sampled_from(MINIMAL), st.integers(0, 400_000)),  # huge arrays
    st.builds(lambda d: "[" * d + "]" * d, st.integers(1, 5_000)),  # deep arrays
    st.builds(lambda d: '{"a":' * d + "1" + "}" * d, st.integers(1, 200)),  # deep objects
    st.builds(lambda n: "{" + _keys(n) + "}", st.integers(0, 300_000)),  # wide objects
    st.builds(lambda n: '"' + "x" * n + '"', st.integers(0, 2_000_000)),  # long strings
    JSON_VALUES,
)


def _guardrail_holes(prefix: str) -> list[str]:
    """A hole in every setting of every guardrail: ``prefix{"recall": {"margin": @}}...``."""
    holes = [prefix + "@" + "}" * prefix.count("{")]
    for rail in dataclass_fields(Guardrails):
        holes.append(prefix + f'{{"{rail.name}": @}}' + "}" * prefix.count("{"))
        for setting in dataclass_fields(getattr(Guardrails(), rail.name)):
            hole = f'{{"{rail.name}": {{"{setting.name}": @}}}}'
            holes.append(prefix + hole + "}" * prefix.count("{"))
    return holes


TEMPLATES: list[tuple[str, str, str]] = (
    [
        ("PUT", "/v1/documents", '{"documents": @}'),
        ("PUT", "/v1/documents", '{"documents": [@]}'),
        ("PUT", "/v1/documents", '{"documents": [{"id": @, "text": "t"}]}'),
        ("PUT", "/v1/documents", '{"documents": [{"id": "h", "text": @}]}'),
        ("PUT", "/v1/documents", '{"documents": [{"id": "h", "text": "t", "metadata": @}]}'),
        ("PUT", "/v1/documents", '{"documents": [{"id": "h", "text": "t", "metadata": {"m": @}}]}'),
        ("PUT", "/v1/documents", '{"documents": [{"id": "h", "text": "t", "x": @}]}'),
        ("POST", "/v1/search", '{"query": "lamp", "k": @}'),
        ("POST", "/v1/search", '{"query": @}'),
        ("POST", "/v1/search", '{"query": "lamp", "include_documents": @}'),
        ("POST", "/v1/indexes/v1/search", '{"query": "lamp", "k": @}'),
        ("POST", "/v1/migrations", '{"target": @}'),
        ("POST", "/v1/migrations", '{"target": {"name": @}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "factory": @}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "metric": @}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "embedder": @}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "embedder": {"dim": @}}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "search_params": @}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "search_params": {"nprobe": @}}}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3"}, "canary_steps": @}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3"}, "shadow_sample": @}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3"}, "backfill_batch": @}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3"}, "eval_set": @}'),
        ("POST", "/v1/migrations/1/canary", '{"percent": @}'),
        ("POST", "/v1/migrations/1/canary", '{"override": @}'),
        ("POST", "/v1/migrations/1/rollback", '{"reason": @}'),
        ("PATCH", "/v1/migrations/1/plan", '{"canary_steps": @}'),
        ("PATCH", "/v1/migrations/1/plan", '{"canary_steps": [5, @]}'),
        ("PATCH", "/v1/migrations/1/plan", '{"shadow_sample": @}'),
        ("PUT", "/v1/config", "@"),
        ("PUT", "/v1/config", '{"indexes": @}'),
        ("PUT", "/v1/config", '{"indexes": {"v1": @}}'),
        ("PUT", "/v1/config", '{"indexes": {"v1": {"ef_search": @}}}'),
        ("PUT", "/v1/config", '{"indexes": {"v1": {"nprobe": @}}}'),
        ("PUT", "/v1/config", '{"migration": @}'),
        ("PUT", "/v1/config", '{"migration": {"shadow_sample": @}}'),
        ("PUT", "/v1/config", '{"migration": {"canary_steps": @}}'),
        ("PUT", "/v1/config", '{"indexes": {"v1": {"ef_search": 16}}, "reason": @}'),
        ("POST", "/v1/config/revert", '{"version": @}'),
        ("POST", "/v1/eval-sets", '{"name": "s2", "path": @}'),
        ("POST", "/v1/eval-sets", f'{{"name": "s2", "path": "{SAMPLE_DIR}", "sample": @}}'),
        ("POST", "/v1/eval-sets", f'{{"name": "s2", "path": "{SAMPLE_DIR}", "seed": @}}'),
        ("POST", "/v1/evals", '{"eval_set": @}'),
        ("POST", "/v1/evals", '{"eval_set": "sample", "limit": @}'),
        ("POST", "/v1/evals", '{"eval_set": "sample", "margin": @}'),
        ("POST", "/v1/evals", '{"eval_set": "sample", "source": @}'),
    ]
    + [("PATCH", "/v1/migrations/1/plan", hole) for hole in _guardrail_holes('{"guardrails": ')]
    + [("PUT", "/v1/config", hole) for hole in _guardrail_holes('{"migration": {"guardrails": ')]
)


def shapes(client: TestClient, method: str, path: str, template: str, examples: int) -> None:
    run = "shapes" if examples == SHAPE_EXAMPLES else "slow shapes"

    @given(value=VALUES)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def one(value: str) -> None:
        body = template.replace("@", value).encode()
        if len(body) > MAX_BODY:
            return  # over the byte limit: a 413, shown elsewhere
        headers = {**OPERATOR, "content-type": "application/json"}
        response = client.request(method, path, content=body, headers=headers)
        SENT[(run, f"{method} {path}", "shapes")] += 1
        STATUSES[(run, response.status_code)] += 1
        assert response.status_code < 500, (template, value[:200], response.text[:500])
        if response.status_code >= 400:
            assert len(response.content) < ERROR_BODY_BYTES, (template, value[:200])
            error = response.json()["error"]
            assert isinstance(error["type"], str)
            assert isinstance(error["message"], str)
            assert error["message"]

    started = time.perf_counter()
    one()
    SECONDS[run] += time.perf_counter() - started


# 500s this fuzz found whose fixes are on other branches of the same issue: these marks go
# when those branches are merged. Checked: with h-watch's migration.py and guardrails.py the
# two config cases pass (a trial run); h-misc's eval-set registration catches the OSError.
SHAPE_CASES = [pytest.param(*t, id=f"{t[0]} {t[1]} {t[2][:60]}") for t in TEMPLATES]


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app: FastAPI) -> TestClient:
    return TestClient(fuzz_app)  # the module's app, already started; not a second lifespan


@pytest.mark.parametrize(("method", "path", "template"), SHAPE_CASES)
def test_pathological_values_in_every_field_get_no_5xx(
    fuzz_client: TestClient, method: str, path: str, template: str
) -> None:
    shapes(fuzz_client, method, path, template, SHAPE_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "template"), SHAPE_CASES)
def test_big_run_pathological_values_in_every_field_get_no_5xx(
    fuzz_client: TestClient, method: str, path: str, template: str
) -> None:
    shapes(fuzz_client, method, path, template, SLOW_SHAPE_EXAMPLES)


def test_zz_request_counts() -> None:
    """Runs after the fuzz tests (file order): the requests each run sent; none was a 5xx."""
    for run in sorted({run for run, _, _ in SENT}):
        total = sum(n for (r, _, _), n in SENT.items() if r == run)
        statuses = {status: n for (r, status), n in sorted(STATUSES.items()) if r == run}
        print(f"\n{run}: {total} requests in {SECONDS[run]:.0f} s, statuses {statuses}")
        assert not any(status >= 500 for status in statuses)
    print(
        "slowest:",
        [(k, round(v, 1)) for k, v in sorted(LABEL_SECONDS.items(), key=lambda kv: -kv[1])[:8]],
    )
    minimum = {"fast": FAST_MINIMUM, "slow": SLOW_MINIMUM, "server": SERVER_MINIMUM}
    whole = len(WITH_TOKEN) + len(ANONYMOUS)  # a run cut down with -k proves no minimum
    for base in {run.split("/")[0] for run, _, _ in SENT}:
        total = sum(n for (run, _, _), n in SENT.items() if run.split("/")[0] == base)
        if sum(n for run, n in FUZZED.items() if run.split("/")[0] == base) == whole:
            assert total >= minimum[base], f"{base}: only {total} requests"
    if os.environ.get(REPORT_ENV) and any(run == "slow" for run, _, _ in SENT):
        write_report(Path(os.environ[REPORT_ENV]))


def write_report(path: Path) -> None:
    lines = [
        "# schemathesis: the big run",
        "",
        f"Written by the test run itself on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f" (schemathesis {schemathesis.__version__}, 2 shared cores). Reproduce with:",
        "",
        "```bash",
        f"SWITCHOVER_FULL_TESTS=1 {REPORT_ENV}=stress/results/schemathesis.md \\",
        "  .venv/bin/pytest -m 'slow or not slow' tests/api/test_fuzz_schema.py -s",
        "```",
        "",
        "Every operation of `/openapi.json` (retrieval and operator), with generated requests"
        " that follow the schema (positive) and that break it (negative). Each answer went"
        " through schemathesis's checks: no 5xx, a documented status, the documented content"
        " type and body schema (errors included), documented headers, schema-breaking input"
        " refused with a 4xx, and `ignored_auth` (every 2xx of an operator route replayed"
        " without a token and with a wrong one: both refused). `fast` and `slow` run the"
        " in-process app (hash embedder) with the operator token; `/anonymous` rows send no"
        " valid token and every answer must be a 401; `server` is `switchover serve` with the"
        " real MiniLM model, over HTTP. The counts are requests the tests generated and sent;"
        " the `ignored_auth` replays come on top.",
        "",
        "| run | requests | seconds | 5xx | operations with a failed check | statuses |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for run in sorted({run for run, _, _ in SENT}):
        total = sum(n for (r, _, _), n in SENT.items() if r == run)
        statuses = {s: n for (r, s), n in sorted(STATUSES.items()) if r == run}
        errors = sum(n for s, n in statuses.items() if s >= 500)
        shown = ", ".join(f"{s}: {n}" for s, n in statuses.items())
        failed = FAILED[run]
        lines.append(f"| {run} | {total:,} | {SECONDS[run]:.0f} | {errors} | {failed} | {shown} |")
    runs = sorted({run for run, _, _ in SENT})
    lines += ["", "Requests per operation and mode:", ""]
    lines += ["| operation | mode | " + " | ".join(runs) + " |"]
    lines += ["|---|---|" + "---:|" * len(runs)]
    for label, _, _ in OPERATIONS:
        for mode in ("positive", "negative"):
            row = [SENT.get((run, label, mode), 0) for run in runs]
            if any(row):
                lines.append(f"| `{label}` | {mode} | " + " | ".join(f"{n:,}" for n in row) + " |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- regressions: what the fuzzer found, pinned down -----------------------------------------

HUGE = 2**63  # one past SQLite's largest integer


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/v1/migrations/{HUGE}/events", None),
        ("POST", f"/v1/migrations/{HUGE}/shadow", None),
        ("PATCH", f"/v1/migrations/{HUGE}/plan", {"shadow_sample": 0.5}),
        ("GET", f"/v1/evals/{HUGE}", None),
        ("GET", f"/v1/evals?migration_id={HUGE}", None),
        ("POST", "/v1/config/revert", {"version": HUGE}),
        ("POST", "/v1/eval-sets", {"name": "s", "path": str(SAMPLE_DIR), "seed": HUGE}),
        ("POST", "/v1/eval-sets", {"name": "s", "path": str(SAMPLE_DIR), "seed": -HUGE - 1}),
    ],
)
def test_ids_beyond_64_bits_are_422_not_500(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    """They reached SQLite's binding, which raised OverflowError: a 500."""
    response = client.request(method, path, json=body, headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "invalid_input"


def test_framework_errors_use_the_error_body(client: TestClient) -> None:
    """Unknown routes, wrong methods and undecodable bodies answered FastAPI's
    ``{"detail": ...}``; every error now has the one documented shape."""
    undecodable = client.put(
        "/v1/documents", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
    )
    for response, status in (
        (client.get("/v1/nope"), 404),
        (client.post("/healthz"), 405),
        (undecodable, undecodable.status_code),
    ):
        assert response.status_code == status
        assert 400 <= status < 500
        assert set(response.json()) == {"error"}
        assert response.json()["error"]["message"]
