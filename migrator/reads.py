"""Read routing and shadow sampling: which index serves a read, and what the reads saw.

The router owns its counters (served, errors, lagging reads by index), the observation
windows the guardrails judge and the shadow reader; the facade reports each read's outcome
through ``served`` and ``failed`` and never touches them itself. The live migration comes
from ``current`` (the phase moves' reference), read once per call.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from indexes import Hit, QueryVectors

from .filtered_search import Selection
from .observations import Observations
from .phases import Phase
from .registry import IndexRegistry
from .routing import routes_to_target
from .runtime import IndexRuntime
from .shadow import ShadowJob, ShadowReader, ShadowRecord
from .store import Migration

SHADOW_PHASES = frozenset({Phase.SHADOW, Phase.CANARY, Phase.CUTOVER, Phase.ROLLED_BACK})


@dataclass(frozen=True)
class Traffic:
    """The router's counters by index name, copied at one moment."""

    served: Counter[str]
    errors: Counter[str]
    lagging: Counter[str]  # target reads the source answered: the target was behind


@dataclass(frozen=True)
class ServedRead:
    """A read the facade answered, as the shadow sample needs it."""

    query: str
    k: int
    served: IndexRuntime
    hit_ids: list[str]
    served_ms: float
    vectors: QueryVectors | None = None
    embed_ms: float = 0.0
    selection: Selection | None = None  # the read's filter: the shadow side uses the same


class ReadRouter:
    def __init__(
        self,
        registry: IndexRegistry,
        current: Callable[[], Migration | None],
        record_shadow: ShadowRecord,
    ) -> None:
        self.registry = registry
        self._current = current
        self._rng = random.Random()  # noqa: S311 - sampling, not security
        self._served: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._lagging: Counter[str] = Counter()
        self.observations = Observations()
        self.shadow = ShadowReader(
            self._shadow_search, record_shadow, observe=self.observations.shadow
        )

    def start(self) -> None:
        self.shadow.start()

    def close(self) -> None:
        self.shadow.close()

    def route(
        self,
        routing_key: str | None,
        acked_seq: int | None = None,
        fields: Mapping[str, str] | None = None,
        selection: Selection | None = None,
    ) -> tuple[IndexRuntime, IndexRuntime | None]:
        """(index to serve this read, fallback if it fails).

        ``acked_seq`` is the last write acknowledged before the read began (default: the
        primary's applied sequence, which the primary reaches before every ack). The
        target serves only once it has applied that far: it applies writes within a
        bound and otherwise catches up from the log, and a read routed to it meanwhile
        could miss an acknowledged write, see an older text or a deleted document. Such
        a read goes to the source instead, is counted in ``lagging`` and is no error.
        With slice keys in the plan, the read's slice (its ``fields``, or the value its
        filter pins) routes with that slice's share: 0 once the slice is rolled back.
        """
        m = self._current()
        if m is None:
            return self.registry.primary(), None
        source = self.registry.get(m.source)
        target = self.registry.find(m.target)
        # A target whose backfill runs again (its snapshot was lost at a restart) is not
        # whole yet: the source answers every read until the copy has finished.
        whole = m.backfill.finished
        if (
            target is not None
            and whole
            and routes_to_target(self.share(m, fields, selection), routing_key, m.id, self._rng)
        ):
            needed = source.index.applied_seq if acked_seq is None else acked_seq
            if target.index.applied_seq >= needed:
                return target, source
            self._lagging[target.name] += 1
        return source, None

    @staticmethod
    def share(m: Migration, fields: Mapping[str, str] | None, selection: Selection | None) -> float:
        """The percent of reads like this one (its slice's) that the target serves now."""
        plan = m.plan.slices
        if plan is None:
            return m.target_share
        label = plan.label(fields, None if selection is None else selection.where)
        return plan.share(label, m.target_share)

    def sync_runtimes(self) -> list[IndexRuntime]:
        """Indexes that apply a write before it is acknowledged: those serving reads."""
        m = self._current()
        primary = self.registry.primary()
        if m is None or m.target_share <= 0:
            return [primary]
        target = self.registry.find(m.target)
        return [primary] if target is None else [primary, target]

    def served(self, read: ServedRead) -> None:
        """Count a read ``read.served`` answered, and maybe shadow it on the other side."""
        self._served[read.served.name] += 1
        self.observations.search(read.served.name, read.served_ms)
        self._maybe_shadow(read)

    def failed(self, index: str) -> None:
        """A routed read ``index`` failed (the fallback answered it)."""
        self._errors[index] += 1
        self.observations.failure(index)

    def outcome(self, index: str, *, ok: bool) -> None:
        """A request on ``index`` that is no routed read (a write's embedding, a judged query)."""
        if ok:
            self.observations.success(index)
        else:
            self.observations.failure(index)

    def forget(self) -> None:
        """Empty the observation windows: a fresh judgement starts."""
        self.observations.reset()

    def traffic(self) -> Traffic:
        return Traffic(Counter(self._served), Counter(self._errors), Counter(self._lagging))

    def _maybe_shadow(self, read: ServedRead) -> None:
        m = self._current()
        if m is None or m.phase not in SHADOW_PHASES or m.plan.shadow_sample <= 0:
            return
        if self._rng.random() >= m.plan.shadow_sample:
            return
        other = m.target if read.served.name == m.source else m.source
        ids = tuple(read.hit_ids)
        job = ShadowJob(
            m.id, read.query, read.k, read.served.name, other, ids, read.served_ms,
            read.vectors, read.embed_ms, read.selection,
        )  # fmt: skip
        self.shadow.submit(job)

    def _shadow_search(
        self,
        index_name: str,
        query: str,
        k: int,
        vectors: QueryVectors | None,
        selection: Selection | None = None,
    ) -> tuple[list[Hit], bool]:
        """The shadow side's hits, and whether it reused the served query's vector.

        Bounded like a target read: past ``target_timeout_s`` it raises EmbedderError (a
        shadow failure, and an error of that index for the guardrail), so a hung index
        never stalls the shadow worker behind it."""
        runtime = self.registry.get(index_name)
        reused = vectors is not None and vectors.fingerprint == runtime.embedder.fingerprint
        search = partial(runtime.search, query, k, vectors=vectors, selection=selection)
        hits = runtime.shadow_bounded.call(search, self.registry.settings.target_timeout_s)
        return hits, reused
