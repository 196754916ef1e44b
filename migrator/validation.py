"""Input checks shared by every adapter (pure; raises InvalidInputError, changes nothing)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from indexes.errors import InvalidInputError
from indexes.filters import And, Eq, Filter, FilterLimits, In, Not, Or, parse_filter

from .settings import Limits
from .store import DocumentIn
from .store.records import metadata_json

# Unicode's "Cc" (control) category is exactly C0, DEL and C1: U+0000-U+001F, U+007F-U+009F.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_control_chars(value: str) -> bool:
    return _CONTROL_CHARS.search(value) is not None


def _has_lone_surrogate(value: str) -> bool:
    """A surrogate not in a pair (JSON's ``"\\ud800"``) is no character: UTF-8 cannot hold it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_unicode(value: str, what: str) -> None:
    """Every string the store keeps (ids, texts, metadata keys and values) and every query."""
    if _has_lone_surrogate(value):
        raise InvalidInputError(f"{what} contains a lone surrogate, which is not a character")


# HTTP clients remove these from a URL's path (RFC 3986, 5.2.4): GET /v1/documents/{id} could
# never reach an id with one, so a write refuses them ("...", ".a" and "a..b" are fine).
DOT_SEGMENTS = frozenset({".", ".."})


def has_dot_segment(doc_id: str) -> bool:
    """Whether ``doc_id`` is ``.`` or ``..``, or has one between slashes or at either end."""
    return any(segment in DOT_SEGMENTS for segment in doc_id.split("/"))


def check_doc_id(doc_id: object, limits: Limits) -> str:
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidInputError("document id must be a non-empty string")
    if len(doc_id) > limits.max_id_chars:
        raise InvalidInputError(
            f"document id is {len(doc_id)} characters; the limit is {limits.max_id_chars}"
        )
    if _has_control_chars(doc_id):
        raise InvalidInputError("document id must not contain control characters")
    check_unicode(doc_id, "document id")
    return doc_id


def check_documents(documents: Sequence[DocumentIn], limits: Limits) -> list[str]:
    """Validate a write batch as a whole: any bad document rejects the batch.

    Returns each document's metadata as the store keeps it (``metadata_json``), encoded once
    here to check its size."""
    if not documents:
        raise InvalidInputError("the batch is empty; send at least one document")
    if len(documents) > limits.max_batch:
        raise InvalidInputError(
            f"the batch has {len(documents)} documents; the limit is {limits.max_batch}"
        )
    seen: set[str] = set()
    encoded: list[str] = []
    for position, doc in enumerate(documents):
        where = f"documents[{position}]"
        try:
            check_doc_id(doc.id, limits)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {exc}") from exc
        if has_dot_segment(doc.id):
            raise InvalidInputError(
                f"{where}: document id {doc.id!r} has '.' or '..' as a path segment;"
                " HTTP clients remove those from URLs, so it could not be read back"
            )
        if doc.id in seen:
            raise InvalidInputError(f"{where}: id {doc.id!r} appears twice in the batch")
        seen.add(doc.id)
        if not isinstance(doc.text, str) or not doc.text.strip():
            raise InvalidInputError(f"{where}: text must be a non-empty string")
        if len(doc.text) > limits.max_text_chars:
            raise InvalidInputError(
                f"{where}: text is {len(doc.text)} characters; the limit is {limits.max_text_chars}"
            )
        check_unicode(doc.text, f"{where}: text")
        encoded.append(check_metadata(doc.metadata, limits, where))
    return encoded


def check_metadata(metadata: Mapping[str, Any], limits: Limits, where: str) -> str:
    """A valid metadata object, as the store keeps it (``metadata_json``)."""
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"{where}: metadata must be a JSON object")
    if not _plain_flat(metadata, limits):
        _check_metadata_values(metadata, limits, where)
    try:
        encoded = metadata_json(metadata)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{where}: metadata is not plain JSON: {exc}") from exc
    if len(encoded.encode()) > limits.max_metadata_bytes:
        raise InvalidInputError(
            f"{where}: metadata is {len(encoded.encode())} bytes as JSON;"
            f" the limit is {limits.max_metadata_bytes}"
        )
    return encoded


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_flat(metadata: Mapping[str, Any], limits: Limits) -> bool:
    """Whether ``metadata`` is what most writes send, a ``dict`` of string keys and scalar
    values, all valid Unicode, within the values limit: then it passes every check of
    :func:`_check_metadata_values` (depth 1, each key and string whole), found in a few C
    calls instead of a walk. False sends it through the walk, which names what is wrong."""
    if type(metadata) is not dict or len(metadata) >= limits.max_metadata_bytes:
        return False
    if any(type(key) is not str for key in metadata):
        return False
    if any(type(value) not in _SCALARS for value in metadata.values()):
        return False
    strings = [value for value in metadata.values() if type(value) is str]
    return not _has_lone_surrogate("".join(metadata) + "".join(strings))


def _check_metadata_values(metadata: Mapping[str, Any], limits: Limits, where: str) -> None:
    """Objects and arrays nest at most ``max_metadata_depth`` deep (``metadata`` counting as
    one), and every key and string is valid Unicode. Iterative: no input can exhaust the stack;
    and it stops after ``max_metadata_bytes`` values, each of which takes a byte of JSON."""
    max_depth = limits.max_metadata_depth
    stack: list[tuple[object, int]] = [(metadata, 1)]
    visited = 0
    while stack:
        value, depth = stack.pop()
        visited += 1
        if visited > limits.max_metadata_bytes:
            raise InvalidInputError(
                f"{where}: metadata holds more than {limits.max_metadata_bytes} values;"
                f" as JSON it cannot fit the limit of {limits.max_metadata_bytes} bytes"
            )
        if isinstance(value, str):
            if _has_lone_surrogate(value):  # the message only when it is needed
                check_unicode(value, f"{where}: a metadata value")
            continue
        if value is None or isinstance(value, int | float):  # before the slower ABC check
            continue
        if not isinstance(value, dict | list | tuple | Mapping):
            continue
        if depth > max_depth:
            raise InvalidInputError(
                f"{where}: metadata nests deeper than {max_depth} levels of objects and arrays"
            )
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and _has_lone_surrogate(key):
                    check_unicode(key, f"{where}: a metadata key")
            stack.extend((child, depth + 1) for child in value.values())
        else:
            stack.extend((child, depth + 1) for child in value)


def check_query(query: object, k: object, limits: Limits) -> tuple[str, int]:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("query must be a non-empty string")
    if len(query) > limits.max_query_chars:
        raise InvalidInputError(
            f"query is {len(query)} characters; the limit is {limits.max_query_chars}"
        )
    check_unicode(query, "query")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limits.max_k:
        raise InvalidInputError(f"k must be an integer from 1 to {limits.max_k}")
    return query, k


def check_filter(data: object, limits: Limits) -> Filter | None:
    """A search's metadata filter, parsed and bounded (None when there is none)."""
    if data is None:
        return None
    bounds = FilterLimits(
        max_depth=limits.max_filter_depth,
        max_nodes=limits.max_filter_nodes,
        max_values=limits.max_filter_values,
        max_value_chars=limits.max_query_chars,
    )
    where = parse_filter(data, bounds)
    _check_filter_strings(where)
    return where


def _check_filter_strings(where: Filter) -> None:
    for key, value in _leaves(where):
        check_unicode(key, "filter: a metadata key")
        if isinstance(value, str):
            check_unicode(value, "filter: a value")


def _leaves(where: Filter) -> list[tuple[str, object]]:
    if isinstance(where, And | Or):
        return [leaf for part in where.parts for leaf in _leaves(part)]
    if isinstance(where, Not):
        return _leaves(where.part)
    if isinstance(where, In):
        return [(where.key, v) for v in where.values]
    return [(where.key, where.value if isinstance(where, Eq) else None)]
