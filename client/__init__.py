"""A typed Python client of switchover's retrieval API, for QA, RAG and search services.

* :class:`SwitchoverClient` (blocking) and :class:`AsyncSwitchoverClient` (asyncio), over
  httpx: ``upsert``, ``delete``, ``get``, ``search`` (with a metadata ``filter``),
  ``search_batch``, ``health``; answers are frozen dataclasses (:class:`SearchAnswer`,
  :class:`Hit`, :class:`WriteAck`, :class:`Document`).
* The client's ``routing_key`` keeps its reads sticky during a canary; every write's
  sequence is sent with later searches, so they see the client's own writes.
* Timeouts by default (10 s); :class:`RetryPolicy` retries what cannot do harm (a call that
  never reached the server, a ``503`` after its ``Retry-After``, a read that timed out)
  and never a write that may have landed.
* Errors: one tree under :class:`ClientError` (see :mod:`client.errors`).

It needs only httpx: nothing of the server (FAISS, torch) is imported.
"""

from .aio import AsyncSwitchoverClient
from .answers import Document, Hit, Query, SearchAnswer, WriteAck
from .errors import (
    ApiError,
    BadRequestError,
    ClientError,
    ConflictError,
    NotFoundError,
    TransportError,
    UnauthorizedError,
    UnavailableError,
)
from .policy import RetryPolicy
from .sync import SwitchoverClient

__all__ = [
    "ApiError",
    "AsyncSwitchoverClient",
    "BadRequestError",
    "ClientError",
    "ConflictError",
    "Document",
    "Hit",
    "NotFoundError",
    "Query",
    "RetryPolicy",
    "SearchAnswer",
    "SwitchoverClient",
    "TransportError",
    "UnauthorizedError",
    "UnavailableError",
    "WriteAck",
]
