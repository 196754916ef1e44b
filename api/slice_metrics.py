"""Per-slice metrics of the live migration (a migration with slice keys; see
``migrator/slices.py``), read from its status at scrape time::

    switchover_slice_target_share_percent{migration, slice}   reads of the slice on the target
    switchover_slice_rolled_back{migration, slice}            1 once the slice is rolled back
    switchover_slice_samples{migration, slice}                paired eval queries judged
    switchover_slice_recall_delta{migration, slice}           mean recall@10 delta, target - source
    switchover_slice_recall_ci_low / _ci_high{migration, slice}   its interval
    switchover_slice_judgement{migration, slice}              0 pass, 1 hold, 2 fail
"""

from __future__ import annotations

import math

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from indexes.errors import NotFoundError
from migrator import Switchover

DECISION = {"pass": 0, "hold": 1, "fail": 2}
LABELS = ["migration", "slice"]


def slice_metrics(svc: Switchover) -> list[Metric]:
    try:
        status = svc.current_migration()
    except NotFoundError:
        return []
    if status.plan.slices is None:
        return []
    gauges = {
        "share": GaugeMetricFamily(
            "switchover_slice_target_share_percent",
            "Percent of the slice's reads the target serves (0 once the slice is rolled back).",
            labels=LABELS,
        ),
        "rolled_back": GaugeMetricFamily(
            "switchover_slice_rolled_back",
            "1 once the slice's reads are back on the source.",
            labels=LABELS,
        ),
        "n": GaugeMetricFamily(
            "switchover_slice_samples", "Paired eval queries judged in the slice.", labels=LABELS
        ),
        "mean": GaugeMetricFamily(
            "switchover_slice_recall_delta",
            "Mean paired recall@10 delta (target - source) of the slice.",
            labels=LABELS,
        ),
        "low": GaugeMetricFamily(
            "switchover_slice_recall_ci_low", "Low end of the slice's interval.", labels=LABELS
        ),
        "high": GaugeMetricFamily(
            "switchover_slice_recall_ci_high", "High end of the slice's interval.", labels=LABELS
        ),
        "decision": GaugeMetricFamily(
            "switchover_slice_judgement",
            "The slice's judgement: 0 pass, 1 hold, 2 fail.",
            labels=LABELS,
        ),
    }
    mid = str(status.id)
    for s in status.slices:
        labels = [mid, s.label]
        gauges["share"].add_metric(labels, s.target_share)
        gauges["rolled_back"].add_metric(labels, 1 if s.rolled_back else 0)
        j = s.judgement
        if j is None:
            continue
        gauges["n"].add_metric(labels, j.n)
        gauges["decision"].add_metric(labels, DECISION[j.decision])
        for key, value in (("mean", j.mean_delta), ("low", j.ci_low), ("high", j.ci_high)):
            if not math.isnan(value):
                gauges[key].add_metric(labels, value)
    return list(gauges.values())
