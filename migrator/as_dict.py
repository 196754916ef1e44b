"""``AsDict``: the ``to_dict()`` of a dataclass that is nothing but its fields."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class AsDict:
    """A dataclass mixin: ``to_dict()`` is its fields as plain values (``dataclasses.asdict``:
    nested dataclasses, lists and dicts are copied), the JSON shape adapters answer with."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(cast("DataclassInstance", self))  # every subclass is a dataclass
