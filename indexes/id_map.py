"""String document ids to the int64 labels FAISS stores, and the tombstones of dead labels.

Labels are handed out sequentially and never reused. Where the layout can
``remove_ids`` a replaced document keeps its label; elsewhere (HNSW, IVF) its old
label becomes a tombstone, a vector still stored but excluded from searches by the
:class:`TombstoneSelector` kept here.

Not locked itself: the owning index guards it with its readers-writer lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .faiss_layout import TombstoneSelector


class IdMap:
    """Live document ids and their labels, the next free label, and the tombstones."""

    def __init__(
        self,
        id_to_int: Mapping[str, int] | None = None,
        next_int: int = 0,
        tombstones: Iterable[int] = (),
    ) -> None:
        self._id_to_int = dict(id_to_int or {})
        self._int_to_id = dict(zip(self._id_to_int.values(), self._id_to_int, strict=True))
        self.next_int = next_int
        self._tombstones = set(tombstones)
        self.selector = TombstoneSelector.of(self._tombstones)

    def __len__(self) -> int:
        return len(self._id_to_int)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and doc_id in self._id_to_int

    def ids(self) -> set[str]:
        return set(self._id_to_int)

    def as_dict(self) -> dict[str, int]:
        """A copy of the live id -> label map."""
        return dict(self._id_to_int)

    def tombstones(self) -> list[int]:
        return sorted(self._tombstones)

    @property
    def tombstone_count(self) -> int:
        return len(self._tombstones)

    def label_of(self, doc_id: str) -> int:
        return self._id_to_int[doc_id]

    def doc_of(self, label: int) -> str | None:
        """The live document stored under ``label``; None for -1 and for any tombstone."""
        return self._int_to_id.get(label)

    def assign(self, doc_id: str) -> int:
        """The label of ``doc_id``: its current one if it has one, else the next free one."""
        existing = self._id_to_int.get(doc_id)
        if existing is not None:
            return existing
        value = self._id_to_int[doc_id] = self.next_int
        self._int_to_id[value] = doc_id
        self.next_int += 1
        return value

    def forget(self, doc_id: str) -> None:
        """Drop ``doc_id`` from the live map (its label is then free of any document)."""
        del self._int_to_id[self._id_to_int.pop(doc_id)]

    def bury(self, labels: Iterable[int]) -> None:
        """Mark ``labels`` as tombstones: stored, never returned by a search."""
        self._tombstones.update(labels)
        self.selector = TombstoneSelector.of(self._tombstones)
