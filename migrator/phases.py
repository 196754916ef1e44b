"""The migration lifecycle: one enum and one literal table of allowed moves.

    planned ──> backfilling ──> shadow ──> canary(percent) ──> cutover ──> finalized
       │             │            │  ^          │                 │
       │             │            │  └─resume── rolled_back <─────┤  (reads on source,
       └─────────────┴────────────┴─────────────┴─> aborted       │   writes still dual)

Cutover -> canary exists only for the watchdog's freeze at 0% (``inconclusive.py``): an
operator cannot lower the share from cutover (``moves.py`` refuses it) but rolls back.
Anything not in ``ALLOWED`` is refused with an error naming the current phase.
"""

from __future__ import annotations

from enum import StrEnum

from indexes.errors import ConflictError


class Phase(StrEnum):
    PLANNED = "planned"  # target registered, dual-write on, nothing copied yet
    BACKFILLING = "backfilling"  # copying the documents as of a sequence into the target
    SHADOW = "shadow"  # target complete; a sample of live reads also runs on it, off-path
    CANARY = "canary"  # a sticky share of reads is served by the target
    CUTOVER = "cutover"  # every read on the target; writes still dual; rollback still possible
    FINALIZED = "finalized"  # target is the primary; dual-write off; source retired
    ROLLED_BACK = "rolled_back"  # reads all on the source; writes still dual; may resume
    ABORTED = "aborted"  # target dropped; dual-write off


# (from, to) pairs; canary -> canary is a change of percent.
ALLOWED: frozenset[tuple[Phase, Phase]] = frozenset(
    {
        (Phase.PLANNED, Phase.BACKFILLING),
        (Phase.PLANNED, Phase.ABORTED),
        (Phase.BACKFILLING, Phase.SHADOW),
        (Phase.BACKFILLING, Phase.ABORTED),
        (Phase.SHADOW, Phase.CANARY),
        (Phase.SHADOW, Phase.ROLLED_BACK),
        (Phase.SHADOW, Phase.ABORTED),
        (Phase.CANARY, Phase.CANARY),
        (Phase.CANARY, Phase.CUTOVER),
        (Phase.CANARY, Phase.ROLLED_BACK),
        (Phase.CANARY, Phase.ABORTED),
        (Phase.CUTOVER, Phase.CANARY),  # only the watchdog's freeze at 0% (inconclusive.py)
        (Phase.CUTOVER, Phase.FINALIZED),
        (Phase.CUTOVER, Phase.ROLLED_BACK),
        (Phase.CUTOVER, Phase.ABORTED),
        (Phase.ROLLED_BACK, Phase.SHADOW),
        (Phase.ROLLED_BACK, Phase.ROLLED_BACK),
        (Phase.ROLLED_BACK, Phase.ABORTED),
    }
)

TERMINAL = frozenset({Phase.FINALIZED, Phase.ABORTED})

# Share of reads the target serves in each phase (canary: the migration's own percent).
TARGET_SHARE = {
    Phase.PLANNED: 0.0,
    Phase.BACKFILLING: 0.0,
    Phase.SHADOW: 0.0,
    Phase.CUTOVER: 100.0,
    Phase.FINALIZED: 100.0,
    Phase.ROLLED_BACK: 0.0,
    Phase.ABORTED: 0.0,
}


def check_move(current: Phase, wanted: Phase) -> None:
    """Raise ConflictError unless ``current -> wanted`` is in the table."""
    if (current, wanted) not in ALLOWED:
        allowed = sorted(to.value for (frm, to) in ALLOWED if frm == current)
        raise ConflictError(
            f"cannot move to {wanted.value!r} from phase {current.value!r}"
            f" (allowed from {current.value!r}: {', '.join(allowed) or 'none, it is final'})"
        )
