"""The facade's typed inputs: what an adapter asks of ``Switchover``, checked in the core.

An adapter (the HTTP API builds them from its pydantic bodies) says what it wants in
these; the core still checks the domain (ranges, finiteness, a rollback's reason),
because tests and other adapters call it too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionRequest:
    """One move's knobs: a canary's ``percent`` (default: the next step), why, and whether
    the operator overrides the recall judgement (canary, cutover)."""

    percent: float | None = None
    reason: str | None = None
    override: bool = False


@dataclass(frozen=True)
class EvalRequest:
    """An eval job: an eval set on two index versions (default: the live migration's)."""

    eval_set: str
    source: str | None = None
    target: str | None = None
    limit: int | None = None  # at most this many queries (default: all of the set)
    margin: float | None = None  # the non-inferiority margin (default: ``RecallRule``'s)
