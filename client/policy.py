"""When to retry a call, and how long to wait first (pure: no I/O, a seeded clock-free rng).

A call is retried only when repeating it cannot do harm:

* every call, when it never reached the server (the connection was refused or could not be
  made) or the server answered ``503``, which in this API means nothing changed;
* reads (``GET``, searches), which change nothing, also after a read timeout or a
  connection dropped mid-way and after ``502`` or ``504``.

A write whose request may have reached the server (a timeout, a dropped connection) is not
retried: it may have been applied, and repeating it blindly could overwrite a newer write.
The wait is the server's ``Retry-After`` when it sends one (capped at ``max_delay_s``),
else exponential backoff with full jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum


class Failure(Enum):
    NOT_SENT = "not_sent"  # connect error: the server never saw the request
    NO_ANSWER = "no_answer"  # timeout or dropped connection after sending
    STATUS = "status"  # an HTTP status came back


RETRYABLE_READ_STATUSES = frozenset({502, 503, 504})


@dataclass
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def should_retry(
        self, attempt: int, *, idempotent: bool, failure: Failure, status: int | None = None
    ) -> bool:
        """Whether try number ``attempt`` (1-based) may be followed by another."""
        if attempt >= self.attempts:
            return False
        if failure is Failure.NOT_SENT:
            return True
        if failure is Failure.NO_ANSWER:
            return idempotent
        return status == 503 or (idempotent and status in RETRYABLE_READ_STATUSES)

    def delay_s(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after try number ``attempt`` failed."""
        honoured = parse_retry_after(retry_after)
        if honoured is not None:
            return min(self.max_delay_s, honoured)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta-seconds form; an HTTP date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
