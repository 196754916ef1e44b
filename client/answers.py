"""Typed answers and inputs of the retrieval API (frozen dataclasses, parsed from JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None  # the write that produced it (documents read back)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "metadata": self.metadata}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Document:
        return cls(data["id"], data["text"], dict(data.get("metadata") or {}), data.get("seq"))


@dataclass(frozen=True)
class WriteAck:
    """An acknowledged write: durable once this returns; ``seq`` is its read-your-writes token."""

    seq: int
    written: int = 0
    deleted: bool = False


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    text: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class SearchAnswer:
    hits: list[Hit]
    served_by: str  # the index version that answered

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchAnswer:
        hits = [
            Hit(h["id"], float(h["score"]), h.get("text"), h.get("metadata")) for h in data["hits"]
        ]
        return cls(hits, data["served_by"])

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]


@dataclass(frozen=True)
class Query:
    """One query of a batch; ``routing_key`` overrides the batch's (else the client's)."""

    query: str
    k: int = 10
    filter: Mapping[str, Any] | None = None
    routing_key: str | None = None
    slice: Mapping[str, str] | None = None  # its slice fields, e.g. {"tenant": "acme"}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"query": self.query, "k": self.k}
        if self.filter is not None:
            body["filter"] = dict(self.filter)
        if self.routing_key is not None:
            body["routing_key"] = self.routing_key
        if self.slice is not None:
            body["slice"] = dict(self.slice)
        return body
