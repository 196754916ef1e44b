"""Which failures the client retries, and how long it waits (pure)."""

from __future__ import annotations

import random

import pytest

from client.policy import Failure, RetryPolicy, parse_retry_after

POLICY = RetryPolicy(attempts=3, base_delay_s=0.5, max_delay_s=4.0, rng=random.Random(1))


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_request_that_never_reached_the_server_is_retried(idempotent: bool) -> None:
    assert POLICY.should_retry(1, idempotent=idempotent, failure=Failure.NOT_SENT)


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_503_is_retried_because_nothing_changed(idempotent: bool) -> None:
    assert POLICY.should_retry(1, idempotent=idempotent, failure=Failure.STATUS, status=503)


def test_a_write_that_may_have_landed_is_never_retried() -> None:
    assert not POLICY.should_retry(1, idempotent=False, failure=Failure.NO_ANSWER)
    assert not POLICY.should_retry(1, idempotent=False, failure=Failure.STATUS, status=502)
    assert POLICY.should_retry(1, idempotent=True, failure=Failure.NO_ANSWER)
    assert POLICY.should_retry(1, idempotent=True, failure=Failure.STATUS, status=504)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 422, 500])
def test_an_answer_that_would_repeat_is_not_retried(status: int) -> None:
    assert not POLICY.should_retry(1, idempotent=True, failure=Failure.STATUS, status=status)


def test_attempts_are_bounded() -> None:
    assert POLICY.should_retry(2, idempotent=True, failure=Failure.NOT_SENT)
    assert not POLICY.should_retry(3, idempotent=True, failure=Failure.NOT_SENT)


def test_retry_after_is_honoured_and_capped_else_backoff_with_jitter() -> None:
    assert POLICY.delay_s(1, "2") == 2.0
    assert POLICY.delay_s(1, "60") == 4.0
    waits = [POLICY.delay_s(n) for n in (1, 2, 3, 4, 5) for _ in range(50)]
    assert all(0 <= w <= 4.0 for w in waits)
    assert max(POLICY.delay_s(1) for _ in range(50)) <= 0.5


@pytest.mark.parametrize(
    ("value", "seconds"), [("1", 1.0), (" 2.5 ", 2.5), ("-1", None), ("soon", None), (None, None)]
)
def test_retry_after_parses_seconds_only(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
