"""The lifecycle table: every pair of phases is either allowed or refused, loudly."""

from __future__ import annotations

import itertools

import pytest

from indexes.errors import ConflictError
from migrator.phases import ALLOWED, TERMINAL, Phase, check_move

PAIRS = list(itertools.product(Phase, Phase))


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_move_is_allowed_or_refused_with_the_current_phase_named(
    frm: Phase, to: Phase
) -> None:
    if (frm, to) in ALLOWED:
        check_move(frm, to)
    else:
        with pytest.raises(ConflictError, match=f"from phase '{frm.value}'"):
            check_move(frm, to)


def test_final_phases_have_no_way_out() -> None:
    for phase in TERMINAL:
        assert not [to for (frm, to) in ALLOWED if frm == phase]


def test_rollback_is_reachable_from_every_phase_that_serves_target_reads() -> None:
    for phase in (Phase.SHADOW, Phase.CANARY, Phase.CUTOVER):
        assert (phase, Phase.ROLLED_BACK) in ALLOWED


def test_the_happy_path_is_a_walk_through_the_table() -> None:
    path = [
        Phase.PLANNED,
        Phase.BACKFILLING,
        Phase.SHADOW,
        Phase.CANARY,
        Phase.CANARY,
        Phase.CUTOVER,
        Phase.FINALIZED,
    ]
    for frm, to in itertools.pairwise(path):
        check_move(frm, to)
