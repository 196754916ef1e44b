"""Plain records that flow between the store, the indexes and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["upsert", "delete"]


@dataclass(frozen=True)
class DocumentIn:
    """A document as a client sends it, already validated."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A live document as the store holds it."""

    id: str
    text: str
    metadata: dict[str, Any]
    content_hash: str
    seq: int


@dataclass(frozen=True)
class LogRecord:
    """One entry of the append-only write log.

    ``text`` and ``content_hash`` are ``None`` for deletes. Every index applies
    the log in ``seq`` order; the log, not any index, is the source of truth.
    """

    seq: int
    op: Op
    doc_id: str
    text: str | None
    metadata: dict[str, Any] | None
    content_hash: str | None
    created_at: float


@dataclass(frozen=True)
class WriteResult:
    """What a write acknowledges: how many documents and the last committed sequence."""

    written: int
    seq: int
