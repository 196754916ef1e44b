"""Each API call as data: method, path, body, headers, whether it is idempotent, and how
its answer parses (pure; the sync and async clients only send them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from .answers import Document, Query, SearchAnswer, WriteAck

T = TypeVar("T")
DocumentLike = Document | Mapping[str, Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True  # reads; a write is retried only when it cannot have landed


@dataclass
class Session:
    """What the client remembers between calls: its routing key and the newest write it
    saw acknowledged (sent with every search when ``read_your_writes``)."""

    routing_key: str | None = None
    read_your_writes: bool = True
    last_seq: int = 0

    def saw(self, ack: WriteAck) -> WriteAck:
        self.last_seq = max(self.last_seq, ack.seq)
        return ack

    def read_headers(self, routing_key: str | None) -> dict[str, str]:
        headers = {}
        key = routing_key if routing_key is not None else self.routing_key
        if key is not None:
            headers["X-Routing-Key"] = key
        if self.read_your_writes and self.last_seq:
            headers["X-Read-After-Seq"] = str(self.last_seq)
        return headers


def _document_json(doc: DocumentLike) -> dict[str, Any]:
    return doc.to_json() if isinstance(doc, Document) else dict(doc)


def upsert(session: Session, documents: Iterable[DocumentLike]) -> Call[WriteAck]:
    body = {"documents": [_document_json(d) for d in documents]}

    def parse(data: Any) -> WriteAck:
        return session.saw(WriteAck(int(data["seq"]), written=int(data["written"])))

    return Call("PUT", "/v1/documents", parse, body, idempotent=False)


def delete(session: Session, doc_id: str) -> Call[WriteAck]:
    def parse(data: Any) -> WriteAck:
        return session.saw(WriteAck(int(data["seq"]), deleted=bool(data["deleted"])))

    return Call("DELETE", f"/v1/documents/{quote(doc_id, safe='/')}", parse, idempotent=False)


def get(doc_id: str) -> Call[Document]:
    return Call("GET", f"/v1/documents/{quote(doc_id, safe='/')}", Document.from_json)


def search(
    session: Session,
    query: str,
    k: int,
    *,
    filter: Mapping[str, Any] | None,
    include_documents: bool,
    routing_key: str | None,
    index: str | None = None,
    slice_fields: Mapping[str, str] | None = None,
) -> Call[SearchAnswer]:
    body: dict[str, Any] = {"query": query, "k": k, "include_documents": include_documents}
    if filter is not None:
        body["filter"] = dict(filter)
    if slice_fields is not None:
        body["slice"] = dict(slice_fields)
    path = "/v1/search" if index is None else f"/v1/indexes/{quote(index, safe='')}/search"
    headers = session.read_headers(routing_key) if index is None else {}
    return Call("POST", path, SearchAnswer.from_json, body, headers)


def search_batch(
    session: Session,
    queries: Iterable[Query | str],
    *,
    include_documents: bool,
    routing_key: str | None,
) -> Call[list[SearchAnswer]]:
    items = [(Query(q) if isinstance(q, str) else q).to_json() for q in queries]
    body = {"queries": items, "include_documents": include_documents}

    def parse(data: Any) -> list[SearchAnswer]:
        return [SearchAnswer.from_json(r) for r in data["results"]]

    return Call("POST", "/v1/search/batch", parse, body, session.read_headers(routing_key))


def health() -> Call[dict[str, Any]]:
    return Call("GET", "/healthz", dict)
