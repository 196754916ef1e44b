"""What replicas on one PostgreSQL tell each other: notices at commit, and one leader.

``PgNotices``: a connection of its own ``LISTEN``s on the log and state channels (the
schema's triggers notify them at every commit that appends to the write log or changes a
migration, the catalog or the configuration); a daemon thread hands each notice's channel
to a callback. After a lost connection it reconnects, and then calls back once for every
channel: notices sent while it was away are lost, so the receiver looks afresh.

``PgLeaderLock``: a session-level advisory lock on another connection of its own. The
replica holding it leads (runs the backfill and the watchdog); PostgreSQL releases it when
that connection ends, so a killed leader's lock is free as soon as its socket closes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from ...replicas import Notice
from .connection import connect
from .schema import LOG_CHANNEL, STATE_CHANNEL

log = logging.getLogger(__name__)

LEADER_LOCK = 0x5357_0002  # advisory lock id: held by the replica that leads
CHANNELS: dict[str, Notice] = {LOG_CHANNEL: "log", STATE_CHANNEL: "state"}
# Detect a dead peer on TCP within seconds (libpq's keepalives; ignored on a Unix socket).
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
               "keepalives_count": 2, "connect_timeout": 5}  # fmt: skip


def _open(url: str) -> psycopg.Connection[Any]:
    conn = connect(url)
    conn.execute("SELECT set_config('application_name', 'switchover-replica', false)")
    return conn


class PgNotices:
    """Calls ``on_notice(kind)`` for every notice on the replica channels, from a thread."""

    def __init__(
        self, url: str, on_notice: Callable[[Notice], None], *, retry_s: float = 1.0
    ) -> None:
        self._url = url
        self._on_notice = on_notice
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="switchover-notices", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # a lost server: reconnect (polling covers the gap)
                log.warning("replica notices lost (%s); reconnecting", exc)
                self._stop.wait(self._retry_s)

    def _listen(self) -> None:
        with _open(self._url) as conn:
            conn.execute("LISTEN switchover_log")  # the schema's LOG_CHANNEL
            conn.execute("LISTEN switchover_state")  # ... and its STATE_CHANNEL
            for kind in CHANNELS.values():  # whatever was sent before this connection is lost
                self._on_notice(kind)
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=0.5):
                    self._on_notice(CHANNELS[notice.channel])


class PgLeaderLock:
    """The leader's advisory lock, on a dedicated connection: try it, check it, release it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        """True when this replica holds the lock now (it may already have held it)."""
        if self._conn is not None:
            return self.held()
        try:
            conninfo = psycopg.conninfo.make_conninfo(self._url, **_KEEPALIVES)
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error:
            return False
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK]).fetchone()
        except psycopg.Error:
            conn.close()
            return False
        if got is not None and got[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def held(self) -> bool:
        """Whether the lock's connection is still alive (the lock dies with it)."""
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self.release()
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # ends the session: PostgreSQL releases its advisory locks


class PgReplicaLink:
    """The ``ReplicaLink`` of the replicas of one PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self._url = url

    def notices(self, on_notice: Callable[[Notice], None]) -> PgNotices:
        return PgNotices(self._url, on_notice)

    def leader_lock(self) -> PgLeaderLock:
        return PgLeaderLock(self._url)
