"""Properties of the judge that must hold for any deltas, checked with hypothesis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evals.judgement import judge

RECALL_DELTAS = st.lists(
    st.one_of(st.sampled_from([-1.0, 0.0, 0.0, 0.0, 1.0]), st.floats(-1.0, 1.0)),
    min_size=0,
    max_size=200,
)
MARGINS = st.floats(0.0, 0.5)


@given(deltas=RECALL_DELTAS, margin=MARGINS, data=st.data())
def test_the_judgement_does_not_depend_on_the_order_of_the_deltas(
    deltas: list[float], margin: float, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(deltas))
    first = judge(deltas, margin=margin, min_samples=2)
    second = judge(shuffled, margin=margin, min_samples=2)
    assert first.to_dict() == second.to_dict()


@st.composite
def shifted(draw: st.DrawFn) -> tuple[list[float], float]:
    shift = draw(st.floats(1e-6, 1.0))
    top = 1.0 - shift
    values = st.one_of(st.sampled_from([-1.0, 0.0, top]), st.floats(-1.0, top))
    return draw(st.lists(values, min_size=2, max_size=200)), shift


@given(case=shifted(), margin=MARGINS)
def test_shifting_every_delta_up_never_turns_a_pass_into_a_fail(
    case: tuple[list[float], float], margin: float
) -> None:
    deltas, shift = case
    before = judge(deltas, margin=margin, min_samples=2)
    after = judge([d + shift for d in deltas], margin=margin, min_samples=2)
    if before.decision == "pass":
        assert after.decision != "fail"
