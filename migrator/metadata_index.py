"""The live documents' metadata held in memory as postings, to resolve a filter to ids.

Equality and ``in`` look values up; a range walks the key's numbers, kept sorted (and
re-sorted only after a change to that key); ``and``/``or``/``not`` are set algebra over
the live ids. The index follows the write log like an index version does: it loads the
documents once (on the first filtered search) and then applies every log record after the
sequence it has seen, so it holds what the store holds, and needs no hook in the write path.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from indexes.filters import And, Eq, Filter, In, Not, Or, Range, value_key

from .store import LogRecord, Store

_PAGE = 2000

TypedValue = tuple[str, Any]


class MetadataPostings:
    """Document id -> typed metadata values, and key -> value -> ids (pure, unlocked)."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, list[TypedValue]]] = {}
        self._postings: dict[str, dict[TypedValue, set[str]]] = defaultdict(dict)
        self._numbers: dict[str, list[float]] = {}  # sorted distinct numbers, per key

    def __len__(self) -> int:
        return len(self._docs)

    def put(self, doc_id: str, metadata: Mapping[str, Any]) -> None:
        self.drop(doc_id)
        typed = {key: _typed(value) for key, value in metadata.items()}
        self._docs[doc_id] = typed
        for key, values in typed.items():
            for value in values:
                self._postings[key].setdefault(value, set()).add(doc_id)
            self._numbers.pop(key, None)

    def drop(self, doc_id: str) -> None:
        for key, values in self._docs.pop(doc_id, {}).items():
            by_value = self._postings[key]
            for value in values:
                ids = by_value.get(value)
                if ids is not None:
                    ids.discard(doc_id)
                    if not ids:
                        del by_value[value]
            self._numbers.pop(key, None)

    def select(self, where: Filter) -> set[str]:
        """The ids of the documents ``where`` matches."""
        if isinstance(where, Eq):
            return set(self._ids(where.key, value_key(where.value)))
        if isinstance(where, In):
            return set().union(*(self._ids(where.key, value_key(v)) for v in where.values))
        if isinstance(where, Range):
            return self._range(where)
        if isinstance(where, And):
            first, *rest = sorted((self.select(p) for p in where.parts), key=len)
            return first.intersection(*rest)
        if isinstance(where, Or):
            return set().union(*(self.select(p) for p in where.parts))
        if isinstance(where, Not):
            return set(self._docs) - self.select(where.part)
        raise TypeError(f"not a filter: {where!r}")

    def _ids(self, key: str, value: TypedValue | None) -> set[str]:
        if value is None:
            return set()
        return self._postings.get(key, {}).get(value, set())

    def _range(self, where: Range) -> set[str]:
        numbers = self._numbers.get(where.key)
        if numbers is None:
            by_value = self._postings.get(where.key, {})
            numbers = self._numbers[where.key] = sorted(v for t, v in by_value if t == "n")
        low = where.gte if where.gte is not None else where.gt
        start = 0 if low is None else bisect.bisect_left(numbers, low)
        out: set[str] = set()
        for x in numbers[start:]:
            if not where.holds(x):
                if (where.lt is not None and x >= where.lt) or (
                    where.lte is not None and x > where.lte
                ):
                    break
                continue
            out |= self._ids(where.key, ("n", x))
        return out


def _typed(value: object) -> list[TypedValue]:
    items = value if isinstance(value, list) else [value]
    return [k for k in (value_key(v) for v in items) if k is not None]


class MetadataIndex:
    """:class:`MetadataPostings` kept in step with the write log, safe across threads."""

    def __init__(self, store: Store, cache_size: int = 64) -> None:
        self._store = store
        self._postings = MetadataPostings()
        self._seen_seq: int | None = None  # None until the documents are loaded
        self._lock = threading.Lock()
        # the latest filters' ids, emptied by any write: clients repeat their filters
        self._cache: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._cache_size = cache_size

    def select(self, where: Filter) -> frozenset[str]:
        """The ids of the live documents ``where`` matches, as of the log's last record."""
        key = repr(where)  # not the filter itself: True == 1.0 in Python, not here
        with self._lock:
            before = self._seen_seq
            self._catch_up()
            if self._seen_seq != before:
                self._cache.clear()
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = frozenset(self._postings.select(where))
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
            return found

    def _catch_up(self) -> None:
        if self._seen_seq is None:
            self._seen_seq = self._store.log.last_seq()
            self._load()
        while records := self._store.log.read(self._seen_seq, _PAGE):
            self.apply(records)

    def _load(self) -> None:
        after: str | None = None
        while page := self._store.log.scan(after, _PAGE):
            for doc in page:
                self._postings.put(doc.id, doc.metadata)
            after = page[-1].id

    def apply(self, records: Iterable[LogRecord]) -> None:
        """Apply log records in order (caller holds the lock or owns the index)."""
        for rec in records:
            if rec.op == "upsert":
                self._postings.put(rec.doc_id, rec.metadata or {})
            else:
                self._postings.drop(rec.doc_id)
            self._seen_seq = max(self._seen_seq or 0, rec.seq)
