"""Sticky read routing: a routing key always lands in the same one of 10,000 buckets.

A key goes to the target when its bucket is below ``percent * 100``, so raising the
percent only ever adds buckets: no key moves back to the source as the share grows.
"""

from __future__ import annotations

import hashlib
import random

BUCKETS = 10_000


def bucket(routing_key: str, migration_id: int) -> int:
    """The key's bucket for this migration (a new migration reshuffles keys)."""
    digest = hashlib.sha256(f"{migration_id}\x00{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def routes_to_target(
    percent: float, routing_key: str | None, migration_id: int, rng: random.Random | None = None
) -> bool:
    """True when this read goes to the target; without a key, a fresh random draw."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    threshold = round(percent * BUCKETS / 100)
    if routing_key is None:
        draw = (rng or _rng).randrange(BUCKETS)
        return draw < threshold
    return bucket(routing_key, migration_id) < threshold


_rng = random.Random()  # noqa: S311 - traffic splitting, not security
