"""The watchdog's slice checks: one recall check per slice still routed to the target.

With ``on_breach: "slice"`` a failing slice is rolled back on its own (its checks are
then no longer shown as guardrails: its reads are on the source), and an overall recall
failure waits while some slice still routed is judging: one bad slice must not take the
others' share with it before its own evidence is in. With ``on_breach: "all"`` each
slice's failure is a breach of the whole migration.
"""

from __future__ import annotations

from dataclasses import replace

from evals import Judgement

from .evidence import Evidence
from .guardrails import Check, from_judgement
from .migration import PlanChange
from .phases import Phase
from .recall import RecallSession
from .slice_looks import defers
from .slices import SlicePlan, slice_evidence
from .store import Migration

WATCHED = (Phase.SHADOW, Phase.CANARY, Phase.CUTOVER)


def slice_checks(plan: SlicePlan | None, session: RecallSession | None) -> list[Check]:
    """``recall[lang=de]`` for every slice judged and not rolled back."""
    if plan is None or session is None:
        return []
    margin = session.rule.margin
    return [
        from_judgement(f"recall[{label}]", judgement, margin)
        for label, judgement in session.slice_judgements.items()
        if label not in plan.rolled_back
    ]


def deferred(recall: Check, plan: SlicePlan | None, session: RecallSession | None) -> Check:
    """The overall recall check, held while slices still routed are judged on their own."""
    judgement = None if session is None else session.judgement
    if session is None or judgement is None or recall.state != "breach":
        return recall
    judging = session.slices_judging()
    if not defers(judgement, judging, session.exhausted, plan):
        return recall
    shown = ", ".join(judging[:5])
    detail = f"{recall.detail}; deferred while slice(s) {shown} are judged on their own"
    return replace(recall, state="hold", detail=detail)


def slice_change(
    current: Migration | None,
    migration_id: int,
    label: str,
    judgement: Judgement,
    evidence: Evidence,
) -> PlanChange | None:
    """The plan change that rolls back slice ``label`` (its share goes to 0), audited by the
    watchdog with the slice's sample size, mean delta and interval; None when the live
    migration is another, not watched, has no slices or already rolled this one back."""
    if current is None or current.id != migration_id or current.phase not in WATCHED:
        return None
    slices = current.plan.slices
    if slices is None or label in slices.rolled_back:
        return None
    plan = replace(current.plan, slices=slices.rolling_back(label))
    reason = f"slice {label} rolled back: {judgement.reason}"
    metrics = {**evidence.numbers_or_error(current), "slice": label, **slice_evidence(judgement)}
    return PlanChange(migration_id, plan, "watchdog", reason, metrics)
