"""What each eval query is judged within: its metadata filter and its slice.

An eval query may carry a filter (searched on both sides, and by an exact truth, among
the documents it selects: the judge judges what clients ask) and a slice label. Queries
of a batch are evaluated in groups of one filter each, then put back in their order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evals import Query, QueryResult
from indexes.filters import Filter, parse_filter

from .filtered_search import Selection
from .slices import SlicePlan

Select = Callable[[Filter], frozenset[str]]


@dataclass(frozen=True)
class Scope:
    """One eval query's slice label (None: unsliced) and filter (None: every document)."""

    label: str | None
    selection: Selection | None
    key: str  # the filter's canonical JSON ("" without one): queries group by it


def scope_of(query: Query, slices: SlicePlan | None, select: Select | None) -> Scope:
    where = None if query.filter is None else parse_filter(query.filter)
    label = None if slices is None else slices.label(query.slice, where)
    if where is None or select is None:
        return Scope(label, None, "")
    return Scope(label, Selection(where, select), json.dumps(query.filter, sort_keys=True))


def scopes_of(
    queries: Sequence[Query], slices: SlicePlan | None, select: Select | None
) -> list[Scope]:
    """The scope of every query; the same filter shares one Selection (resolved once)."""
    shared: dict[str, Selection | None] = {}
    scopes = []
    for query in queries:
        scope = scope_of(query, slices, select)
        selection = shared.setdefault(scope.key, scope.selection)
        scopes.append(Scope(scope.label, selection, scope.key))
    return scopes


def grouped(scopes: Sequence[Scope]) -> dict[str, list[int]]:
    """Positions by filter, each group in order, groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for position, scope in enumerate(scopes):
        groups.setdefault(scope.key, []).append(position)
    return groups


def recall_deltas(results: Sequence[QueryResult], metric: str = "recall@10") -> list[float]:
    """target - source per query, NaN where a side is unjudged (kept aligned with labels)."""
    deltas = []
    for r in results:
        source, target = r.source[metric], r.target[metric]
        unjudged = math.isnan(source) or math.isnan(target)
        deltas.append(math.nan if unjudged else target - source)
    return deltas
