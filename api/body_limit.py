"""ASGI middleware that bounds what reading a request body may cost, before anything parses it.

The body is read in full when the app first asks for it (so an operator route still checks the
token first), and refused with the usual error body when:

- it is over ``limits.max_body_bytes``: 413, from ``Content-Length`` alone or at the first
  chunk past the limit;
- it has not all arrived ``body_timeout_s`` after the app began reading it: 408, and the
  connection is closed (a client that trickles its body, or stops, no longer holds the
  request open forever);
- it is JSON whose shape alone would make parsing and validation costly, or that holds a
  lone surrogate (:func:`json_body_problem`): 422.

It also makes the app's ``Limits`` the ones request models validate against
(:data:`api.schemas.REQUEST_LIMITS`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from migrator.settings import Limits

from .errors import error_body
from .schemas import REQUEST_LIMITS

BODY_TIMEOUT_S = 30.0  # from the app's first read of the body to its last byte

# A JSON body may nest at most this deep (objects and arrays; metadata has its own, smaller
# bound), hold at most this many values (counted as commas and colons outside strings, plus
# one) and at most this many objects and arrays. Parsed by Python each value costs up to about
# 60 bytes and each object up to about 200, so no body within the bounds costs more than about
# 100 MB to parse; a full batch of documents with dense metadata stays well inside them.
MAX_JSON_DEPTH = 64
MAX_JSON_VALUES = 1_000_000
MAX_JSON_CONTAINERS = 100_000

# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or the other way round: JSON
# lets a string spell half a character, which no store or encoder can keep.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
# Numbers that may lie beyond a 64-bit float: an exponent of 3 or more digits, or a run of
# 309 or more digits. Each starts where no number character precedes it, so the search is
# linear; float() of each match then decides (1e-300 is fine, 1e999999 is inf). The search
# runs only when a byte-level test (digits mapped to 0) finds such a run or exponent.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_BIG_NUMBER_MARKS = (b"0" * 309, b"e000", b"e+000")
_BIG_NUMBER = re.compile(rb"(?<![0-9.])[0-9][0-9.]*+[eE][+-]?+[0-9]{3,}+|(?<![0-9])[0-9]{309,}+")
_CHUNK = 1 << 20  # the scan's working memory: a few arrays of this many bytes
# Up to this size a body's strings are cut out by one bytes.split (C, no arrays: a search's
# body costs a few microseconds instead of about 25); past it the pieces' own overhead (a
# bytes object per string) would outgrow the chunked arrays, so those take over.
SMALL_BODY = 64 * 1024
_QUOTE = ord('"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[list(b"[{")] = 1
_DEPTH_STEP[list(b"]}")] = -1


@dataclass(frozen=True)
class Refusal:
    status: int
    kind: str
    message: str


class _RefusedError(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def json_body_problem(body: bytes) -> str | None:
    """Why a JSON body is refused unparsed: nesting, values, objects, NaN, numbers beyond a
    64-bit float, a lone surrogate.

    Counts structure outside strings only, in C and numpy passes over the bytes, never a
    Python loop per character. A body that is not valid JSON is left to the parser (it may
    pass here and fail there), and none of the counts depends on its being valid.
    """
    # Inside a string a backslash escapes the next character; pairs go first, so what is
    # left of ``\\"`` is a closing quote and of ``\"`` nothing, and every ``\u`` left is an
    # escape. Outside strings a backslash is invalid JSON anyway.
    plain = body.replace(b"\\\\", b"")
    if b"\\u" in plain and _LONE_SURROGATE.search(plain):
        return "the body has a lone surrogate escape (\\ud800-\\udfff), which is not a character"
    structure = _outside_strings(plain.replace(b'\\"', b""))
    problem = _structure_problem(structure)
    if problem is None and (b"NaN" in structure or b"Infinity" in structure):
        return _non_finite_problem(body)  # within the bounds now: parsing it is cheap
    return problem


def _non_finite_problem(body: bytes) -> str:
    """Where the first NaN or Infinity is (``migration.shadow_sample: ...``), so the client
    learns which field to mend, as from any other invalid value."""
    message = "NaN and Infinity are not JSON numbers"
    try:
        value = json.loads(body)
    except ValueError:
        return message
    path = _non_finite_path(value)
    return message if path is None else f"{path or 'body'}: {message}"


def _non_finite_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite_path(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _structure_problem(structure: bytes) -> str | None:
    """What is wrong with a body's structure (its strings removed), or None."""
    containers = structure.count(b"[") + structure.count(b"{")
    if containers > MAX_JSON_CONTAINERS:
        return f"the body has {containers} objects and arrays; the limit is {MAX_JSON_CONTAINERS}"
    values = structure.count(b",") + structure.count(b":") + 1
    if values > MAX_JSON_VALUES:
        return f"the body has about {values} JSON values; the limit is {MAX_JSON_VALUES}"
    # no body nests deeper than it has objects and arrays: most need no depth scan
    if containers > MAX_JSON_DEPTH and _too_deep(structure, containers):
        return f"the body nests deeper than {MAX_JSON_DEPTH} levels of objects and arrays"
    if _beyond_float(structure):
        # Python would read 1e999999 as inf and a 400-digit integer exactly, and every float()
        # of that integer raises OverflowError; neither is interoperable JSON (RFC 8259, 6)
        return "the body has a number beyond the range of a 64-bit float"
    return None


def _too_deep(structure: bytes, containers: int) -> bool:
    return _max_depth(structure.translate(None, _NOT_BRACKETS), containers) > MAX_JSON_DEPTH


def _beyond_float(structure: bytes) -> bool:
    mapped = structure.translate(_DIGITS_TO_ZERO)
    if not any(mark in mapped for mark in _BIG_NUMBER_MARKS):
        return False
    return any(not math.isfinite(float(m.group())) for m in _BIG_NUMBER.finditer(structure))


def _outside_strings(plain: bytes) -> bytes:
    """A body without escaped backslashes and quotes, without its strings (quotes included):
    only structure, numbers and words are left."""
    if len(plain) <= SMALL_BODY:
        # every quote left opens or closes a string: the even pieces lie outside them
        return b"".join(plain.split(b'"')[0::2])
    parts = []
    inside = 0  # 1 while the scan is within a string, carried from chunk to chunk
    for start in range(0, len(plain), _CHUNK):
        size = min(_CHUNK, len(plain) - start)
        chunk = np.frombuffer(plain, dtype=np.uint8, count=size, offset=start)
        quote = chunk == _QUOTE
        # uint8 wraps at 256, which keeps the parity: odd from an opening quote up to the
        # character before its closing quote
        parity = (np.cumsum(quote, dtype=np.uint8) + inside) & 1
        parts.append(chunk[(parity == 0) & ~quote].tobytes())
        inside = int(parity[-1])
    return b"".join(parts)


def _max_depth(brackets: bytes, opened: int) -> int:
    if len(brackets) > 2 * opened:
        return 0  # more closing than opening brackets: not JSON, the parser says so at once
    steps = _DEPTH_STEP[np.frombuffer(brackets, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def parsed_as_json(scope: Scope) -> bool:
    """Whether FastAPI will parse this request's body as JSON (no content type, or JSON's)."""
    content_type = dict(scope.get("headers") or []).get(b"content-type")
    if not content_type:
        return True
    media = bytes(content_type).split(b";")[0].strip().lower()
    main, _, sub = media.partition(b"/")
    return main == b"application" and (sub == b"json" or sub.endswith(b"+json"))


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, limits: Limits, body_timeout_s: float = BODY_TIMEOUT_S
    ) -> None:
        self.app = app
        self.limits = limits
        self.max_bytes = limits.max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, self._too_large())
            return
        refusal: Refusal | None = None  # the body was refused: whatever the app answers is
        read = False  # replaced by the refusal
        started = False
        replaced = False  # the app's answer was swallowed and the refusal sent instead

        async def bounded_receive() -> Message:
            nonlocal refusal, read
            if refusal is not None:
                return {"type": "http.disconnect"}
            if read:  # after the body: disconnect notices and the like
                return await receive()
            read = True
            try:
                message = await self._read_body(receive)
                body = message.get("body", b"")
                if message["type"] == "http.request" and body and parsed_as_json(scope):
                    problem = json_body_problem(body)
                    if problem is not None:
                        raise _RefusedError(Refusal(422, "invalid_input", problem))
            except _RefusedError as exc:
                refusal = exc.refusal
                raise
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns any exception raised while it reads the body into its own 400
            # ("error parsing the body"), so the refusal cannot rely on the exception reaching
            # this middleware: an answer that starts after the body was refused is replaced.
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if refusal is not None and not started:
                    started = replaced = True
                    await self._refuse(send, refusal)
                    return
                started = True
            await send(message)

        token = REQUEST_LIMITS.set(self.limits)
        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _RefusedError as exc:
            if not started:
                await self._refuse(send, exc.refusal)
        finally:
            REQUEST_LIMITS.reset(token)

    async def _read_body(self, receive: Receive) -> Message:
        """The whole body as one message (or the disconnect that cut it short)."""
        chunks: list[bytes] = []
        received = 0
        deadline = anyio.current_time() + self.body_timeout_s
        while True:
            # the whole body's deadline: trickling a byte at a time does not extend it (a
            # bare cancel scope: anyio.fail_after around it cost a search's body 9 us more)
            with anyio.CancelScope(deadline=deadline) as waiting:
                message = await receive()
            if waiting.cancelled_caught:
                raise _RefusedError(self._too_slow())
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                raise _RefusedError(self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    def _too_large(self) -> Refusal:
        return Refusal(413, "payload_too_large", f"request body exceeds {self.max_bytes} bytes")

    def _too_slow(self) -> Refusal:
        return Refusal(
            408,
            "request_timeout",
            f"the request body did not arrive within {self.body_timeout_s:g} s",
        )

    async def _refuse(self, send: Send, refusal: Refusal) -> None:
        body: dict[str, Any] = error_body(refusal.kind, refusal.message)
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if refusal.status in (408, 413):  # the rest of the body is never read: close
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
