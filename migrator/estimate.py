"""A migration's plan before anything starts: what the backfill will cost, estimated.

Pure: :func:`estimate` turns what was counted and timed (``Measured``: the documents, the
cache hits among them, a timed encode of a seeded sample of the corpus's own texts with
the target's embedder, a timed add of those vectors into the target's layout and its
serialized size) into the numbers an operator plans with (``MigrationEstimate``).
:mod:`migrator.planning` does the counting and timing, and creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .as_dict import AsDict
from .eval_power import EvalPower

FLOAT_BYTES = 4


@dataclass(frozen=True)
class Measured:
    """What the planner counted and timed on the live store and a sample."""

    documents: int  # live documents the backfill copies
    cached: int  # of those, texts the embedding cache holds for the target's fingerprint
    dim: int
    sample: int  # texts encoded in the timed sample
    encode_s: float  # seconds to encode the sample (after a warm-up)
    add_s: float  # seconds to add the sample's vectors to an empty index of the layout
    index_bytes: int  # the sample index's serialized size (0 when not measured)
    trains: bool  # the layout trains before it takes vectors (IVF, PQ): not timed
    load_average: float = 0.0  # the machine's 1-minute load average after the timed sample
    cores: int = 1


@dataclass(frozen=True)
class MigrationEstimate(AsDict):
    """The estimate ``migrate plan`` answers; seconds and megabytes, rounded."""

    target: str
    embedder_fingerprint: str
    dim: int
    documents: int
    to_encode: int  # cache misses: texts the backfill will encode
    cached: int
    sample: int
    encode_docs_per_s: float
    encode_s: float
    index_build_s: float
    backfill_s: float
    vectors_mb: float  # the raw float32 vectors: documents x dim x 4 bytes
    index_mb: float  # the layout's size at this many documents (its snapshot, roughly)
    vector_bytes: int
    notes: tuple[str, ...] = ()
    load_average: float = 0.0  # when the sample was timed: the rate is this machine's now
    eval_power: EvalPower | None = None  # with an eval set: its queries vs the margin's need


def estimate(
    target: str, fingerprint: str, m: Measured, power: EvalPower | None = None
) -> MigrationEstimate:
    """Backfill time = cache misses / the sample's encode rate + the layout's add time."""
    rate = m.sample / m.encode_s if m.sample and m.encode_s > 0 else 0.0
    to_encode = max(0, m.documents - m.cached)
    encode_s = to_encode / rate if rate else 0.0
    per_doc_add = m.add_s / m.sample if m.sample else 0.0
    build_s = per_doc_add * m.documents
    per_doc_bytes = m.index_bytes / m.sample if m.sample else 0.0
    return MigrationEstimate(
        target=target,
        embedder_fingerprint=fingerprint,
        dim=m.dim,
        documents=m.documents,
        to_encode=to_encode,
        cached=m.cached,
        sample=m.sample,
        encode_docs_per_s=round(rate, 1),
        encode_s=round(encode_s, 2),
        index_build_s=round(build_s, 2),
        backfill_s=round(encode_s + build_s, 2),
        vectors_mb=round(m.documents * m.dim * FLOAT_BYTES / 1e6, 3),
        index_mb=round(per_doc_bytes * m.documents / 1e6, 3),
        vector_bytes=m.dim * FLOAT_BYTES,
        notes=_notes(m, to_encode),
        load_average=m.load_average,
        eval_power=power,
    )


def _notes(m: Measured, to_encode: int) -> tuple[str, ...]:
    notes = []
    if to_encode == 0:
        notes.append("every text is cached for this embedder: nothing is re-encoded")
    if m.trains:
        notes.append("the layout trains on a sample first: training time is not included")
    if m.index_bytes == 0:
        notes.append("the index size is not measured for this backend")
    if m.load_average > m.cores:
        notes.append(
            f"timed at load average {m.load_average:.1f} on {m.cores} cores: the backfill's"
            " rate moves with the machine's load"
        )
    return tuple(notes)
