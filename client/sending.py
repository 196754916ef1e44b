"""One try of a call, as data, and the decision after it (shared by both clients; pure
apart from reading the httpx objects it is handed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from .calls import Call
from .errors import ApiError, ClientError, TransportError, api_error
from .policy import Failure, RetryPolicy

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0  # seconds, for connect, read, write and pool alike

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Outcome:
    """What one try produced: a JSON answer, or an error and how it failed."""

    data: Any = None
    error: ClientError | None = None
    failure: Failure | None = None
    status: int | None = None
    retry_after: str | None = None

    def result(self, call: Call[T]) -> T:
        if self.error is not None:
            raise self.error
        return call.parse(self.data)


def outcome_of(response: httpx.Response) -> Outcome:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.is_success:
        return Outcome(data=data)
    error: ApiError = api_error(response.status_code, data, response.text)
    return Outcome(
        error=error,
        failure=Failure.STATUS,
        status=response.status_code,
        retry_after=response.headers.get("Retry-After"),
    )


def raised_outcome(exc: httpx.HTTPError) -> Outcome:
    failure = Failure.NOT_SENT if isinstance(exc, _NOT_SENT) else Failure.NO_ANSWER
    return Outcome(error=TransportError(f"{type(exc).__name__}: {exc}"), failure=failure)


def decide(policy: RetryPolicy, call: Call[Any], attempt: int, outcome: Outcome) -> float | None:
    """Seconds to wait before trying again, or None to stop (success, or no retry allowed)."""
    if outcome.failure is None:
        return None
    retry = policy.should_retry(
        attempt, idempotent=call.idempotent, failure=outcome.failure, status=outcome.status
    )
    return policy.delay_s(attempt, outcome.retry_after) if retry else None
