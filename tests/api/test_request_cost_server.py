"""Measured on a real server: no body within the default 16 MiB limit costs it 200 MB.

``switchover serve`` (hash embedder, default limits) gets each pathological body of
``test_request_cost`` (1M empty documents, the byte limit of empty objects, arrays and zeros,
deep nesting, wide objects, long strings, and the bodies just under the shape bounds) over
HTTP. Before each one the child's peak RSS is reset (``/proc/PID/clear_refs``), so VmHWM after
it is the peak the request caused; meanwhile another client polls ``/healthz``. Each answer
must be a 4xx under 64 KB, the peak at most 200 MB above the RSS before it, and ``/healthz``
must keep answering. ``-s`` prints the numbers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_request_cost import ERROR_BODY_BYTES, JUST_UNDER, LIMIT, PATHOLOGICAL, Make
from tests.server import ServerProcess

MB = 1_000_000
RSS_BUDGET = 200 * MB
HEALTH_BUDGET_S = 2.0  # the slowest /healthz answer while one such request is handled

pytestmark = pytest.mark.slow


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class HealthPoller:
    """Polls ``/healthz`` from another thread until stopped; keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.wait(0.05):
                began = time.monotonic()
                try:
                    ok = http.get("/healthz").status_code == 200
                except httpx.HTTPError as exc:
                    ok, self.failures = False, [*self.failures, repr(exc)]
                self.slowest = max(self.slowest, time.monotonic() - began)
                if not ok:
                    self.failures.append("not 200")

    def __enter__(self) -> HealthPoller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("cost-server") / "home"
    home.mkdir()
    (home / "switchover.toml").write_text(
        '[default_index]\nname = "v1"\n[default_index.embedder]\nkind = "hash"\ndim = 64\n'
    )
    with ServerProcess(home) as server:
        auth = server.operator_header
        docs = [{"id": f"d{i}", "text": f"lamp tide gear {i}"} for i in range(10)]
        assert httpx.put(f"{server.url}/v1/documents", json={"documents": docs}).is_success
        target = {"target": {"name": "v2", "factory": "Flat"}}
        assert httpx.post(f"{server.url}/v1/migrations", json=target, headers=auth).is_success
        yield server


@pytest.mark.parametrize(
    ("method", "path", "make"),
    [pytest.param(m, p, make, id=case) for case, m, p, make in PATHOLOGICAL + JUST_UNDER],
)
def test_no_body_within_the_byte_limit_costs_the_server_200_mb(
    server: ServerProcess, method: str, path: str, make: Make, request: pytest.FixtureRequest
) -> None:
    body = make()
    assert len(body) <= LIMIT
    assert server.proc is not None
    pid = server.proc.pid
    headers = {**server.operator_header, "content-type": "application/json"}
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS
    before_kb = status_kb(pid, "VmRSS")
    with HealthPoller(server.url) as health, httpx.Client(timeout=120) as http:
        began = time.monotonic()
        response = http.request(method, f"{server.url}{path}", content=body, headers=headers)
        seconds = time.monotonic() - began
    growth = (status_kb(pid, "VmHWM") - before_kb) * 1000
    print(
        f"\n{request.node.callspec.id}: {len(body) / MB:.1f} MB body -> {response.status_code}"
        f" in {seconds:.2f} s, {len(response.content)} B answer, peak RSS +{growth / MB:.0f} MB"
        f" (from {before_kb / 1000:.0f} MB), slowest /healthz {health.slowest:.2f} s"
    )
    assert 400 <= response.status_code < 500, response.text[:300]
    assert len(response.content) < ERROR_BODY_BYTES
    assert response.json()["error"]["message"]
    assert growth < RSS_BUDGET
    assert not health.failures
    assert health.slowest < HEALTH_BUDGET_S
