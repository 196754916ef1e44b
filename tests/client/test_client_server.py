"""The client against a real server process: the calls a QA service makes, sync and async."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from client import (
    AsyncSwitchoverClient,
    BadRequestError,
    Document,
    NotFoundError,
    Query,
    SwitchoverClient,
    TransportError,
)
from tests.api.test_slow_bodies import hash_home
from tests.server import ServerProcess, free_port

DOCS = [
    Document(f"d{i}", f"lamp tide gear number {i}", {"lang": ["de", "en"][i % 2], "n": i})
    for i in range(40)
]


@pytest.mark.slow
def test_a_qa_service_session_through_the_client(tmp_path: Path) -> None:
    with ServerProcess(hash_home(tmp_path / "home")) as server:
        with SwitchoverClient(server.url, routing_key="tenant-1") as api:
            ack = api.upsert(DOCS)
            assert (ack.written, api.last_seq) == (40, ack.seq)
            answer = api.search("lamp tide", 5, filter={"lang": "de"}, include_documents=True)
            assert answer.served_by == "v1"
            assert len(answer.hits) == 5
            assert {h.metadata["lang"] for h in answer.hits if h.metadata} == {"de"}
            batch = api.search_batch(["gear number 3", Query("lamp", 2, filter={"n": {"lt": 2}})])
            assert [a.served_by for a in batch] == ["v1", "v1"]
            assert sorted(batch[1].ids) == ["d0", "d1"]
            assert api.get("d3").metadata == {"lang": "en", "n": 3}
            assert api.delete("d3").seq == api.last_seq
            with pytest.raises(NotFoundError):
                api.get("d3")
            with pytest.raises(BadRequestError, match="'in' takes a non-empty list"):
                api.search("lamp", filter={"lang": {"in": []}})
            assert api.search("lamp", 2, slice={"tenant": "acme"}).served_by == "v1"
            sliced = api.search_batch([Query("lamp", 2, slice={"tenant": "acme"})])
            assert sliced[0].served_by == "v1"
            with pytest.raises(BadRequestError, match="must be a string"):
                api.search("lamp", slice={"tenant": "a b"})

        async def session() -> list[str]:
            async with AsyncSwitchoverClient(server.url) as api:
                await api.upsert([Document("fresh", "zebra quartz violin", {"n": 99})])
                return (await api.search("zebra quartz violin", 1, filter={"n": 99})).ids

        assert asyncio.run(session()) == ["fresh"]


def test_a_server_that_is_not_there_is_a_transport_error() -> None:
    api = SwitchoverClient(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(TransportError, match="ConnectError"):
        api.health()


def readme_client_example() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("### The Python client", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_the_readme_example_runs_against_a_real_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ServerProcess(hash_home(tmp_path / "home")) as server:
        code = readme_client_example().replace("http://127.0.0.1:8000", server.url)
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("v1 [('faq-1', ")
    assert printed[1:] == ["v1 ['faq-1']", "v1 ['faq-1']"]
