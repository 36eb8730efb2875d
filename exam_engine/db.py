"""Database: the declarative base, a UTC datetime type, engines and sessions.

SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL through
DATABASE_URL in production. Services receive a `Session`; the request, socket
event or job that called them commits once.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from flask import current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from item_bank.orm import Base, JSONType, UTCDateTime, utcnow  # noqa: F401  (re-exported)

def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    With `immediate` (the default for the app), every SQLite transaction takes the
    write lock at BEGIN, so read-then-write transactions never fail to upgrade;
    `immediate=False` gives plain deferred transactions (read-only tools, tests).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # pysqlite must not issue its own BEGIN; the "begin" listener below does.
            dbapi_conn.isolation_level = None

        # pysqlite's own transaction handling defers BEGIN; take the write lock at
        # the first statement so concurrent writers queue instead of failing.
        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if "poolclass" not in kwargs:
        # A fixed pool by default: overflow connections are closed as soon as the pool has room again, so a
        # burst (a start storm) opened and closed ~200 PostgreSQL connections for 1,000 learners, and a new
        # backend costs far more than the statements it runs. Connections are opened on demand, then kept.
        # 20, not the old maximum of 30: a run with 30 was slower (docs/benchmarks/delivery.md).
        kwargs.setdefault("pool_size", int(os.environ.get("EXAM_ENGINE_DB_POOL_SIZE", 20)))
        kwargs.setdefault("max_overflow", int(os.environ.get("EXAM_ENGINE_DB_MAX_OVERFLOW", 0)))
    ping_idle_s = kwargs.pop("ping_idle_s", None)
    if ping_idle_s is None:
        ping_idle_s = float(os.environ.get("EXAM_ENGINE_DB_PING_IDLE_S", 1.0))
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        ping_when_idle(engine, ping_idle_s)
    return engine


def sequence_ids(connection: Any, table: str, n: int) -> list[int]:
    """PostgreSQL: `n` new ids of `table`'s serial `id` from its sequence, in one query.

    For rows whose ids must be known before they are written (a log entry that names them, an executemany
    without RETURNING). `connection` is a Connection, not a Session, so nothing is autoflushed first.
    """
    return list(connection.execute(_SEQUENCE_IDS, {"table": table, "n": n}).scalars())


_SEQUENCE_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")


def ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection before use when it sat idle for `idle_s` seconds or more.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: one round trip more per request, socket event
    and job (5 % of a worker's CPU in a start storm). A connection handed back less than `idle_s` ago was
    alive then; one that has been idle (the database may have restarted since) is pinged, and a dead one is
    replaced before the caller sees it (DisconnectionError makes the pool retry with a new connection).
    A restart within `idle_s` of a connection's last use costs at most that one statement, and
    SQLAlchemy then invalidates the whole pool.
    """
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):  # noqa: ANN001
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):  # noqa: ANN001
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_s:
            return  # just connected, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means the connection is unusable
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if alive is False:
            raise DisconnectionError("pooled connection failed its ping")


class GateTimeout(Exception):
    """No place in a `FairGate` within its timeout (the caller was taken out of the queue)."""


class FairGate:
    """At most `size` holders at once; the others enter strictly in the order they arrived.

    A freed place is handed to the longest waiter, never taken by a newcomer. A lock, a semaphore or
    SQLAlchemy's pool queue lets a newcomer take the place a waiter was just woken for; the waiter then
    queues again at the back, and under a burst (a start storm, a reconnect storm) some of the first to
    arrive were served last. Works with threads and with gevent's patched `threading`.
    A waiter that gets no place within `timeout_s` leaves the queue and gets `GateTimeout`.
    """

    def __init__(self, size: int, *, timeout_s: float = 30.0) -> None:
        if size < 1:
            raise ValueError("a gate needs at least one place")
        self.timeout_s = timeout_s
        self._free = size
        self._waiters: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def __enter__(self) -> "FairGate":
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return self
            turn = threading.Event()
            self._waiters.append(turn)
        try:
            got = turn.wait(self.timeout_s)
        except BaseException:  # interrupted (a killed greenlet, a timeout around us): leave the queue
            if self._leave(turn):
                self.__exit__()  # the place had just been handed over: pass it on, it is not ours to keep
            raise
        if not got and not self._leave(turn):
            raise GateTimeout(f"no place within {self.timeout_s:g} s ({len(self._waiters)} waiting)")
        return self  # the place was handed over by the holder that left it

    def _leave(self, turn: threading.Event) -> bool:
        """A waiter gives up: it leaves the queue, unless its place was handed over meanwhile.

        Returns whether the place is its own (handed over): the caller then keeps it or passes it on.
        """
        with self._lock:
            if not turn.is_set():
                self._waiters.remove(turn)
                return False
        return True

    def __exit__(self, *_exc: Any) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1


class GroupQueue:
    """Requests that share one transaction (a group commit): the first to arrive leads, the others wait.

    A request queued while a batch is in flight waits for the next one, which the first of them leads: it
    takes up to `max_batch` requests, writes them (`_write`), and goes on until its own is finished, then
    hands the lead to the next waiter. With one request at a time a batch has one request and nothing
    waits; under a burst the batches grow by themselves (no timer, no added latency), in arrival order.
    Works with threads and with gevent's patched `threading`.

    A request has `done` (a threading.Event), `lead` (bool, set with `done` when it must lead) and
    `finished` (whether its outcome is final). `_write(batch)` returns how many requests it finished; it
    puts the others back at the head of the queue with `_requeue` (their `done` unset).
    """

    def __init__(self, max_batch: int, *, timeout_s: float | None = None) -> None:
        self.max_batch = max_batch
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._pending: deque[Any] = deque()
        self._busy = False

    def submit(self, item: Any) -> Any:
        """Queue `item` and return it once finished (the caller may have led batches meanwhile).

        With `timeout_s`, a request still queued (not yet in a batch) after that long leaves the queue
        and gets GateTimeout: nothing was done. One already in a batch waits for its outcome.
        """
        with self._lock:
            self._pending.append(item)
            lead = not self._busy
            self._busy = True
        if not lead:
            if not item.done.wait(self.timeout_s):
                with self._lock:
                    queued = not item.done.is_set() and item in self._pending
                    if queued:
                        self._pending.remove(item)
                if queued:
                    raise GateTimeout(f"not in a batch within {self.timeout_s:g} s ({len(self._pending)} queued)")
                item.done.wait()  # in the batch being written (or just handed the lead)
            if not item.lead:
                return item
        while True:  # this caller leads: write batches until its own request is finished, then hand over
            with self._lock:
                batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
            try:
                if not self._write(batch):
                    time.sleep(0.002)  # nothing could be finished (rows held elsewhere): let that transaction end
            except BaseException:  # (`_write` finishes its batch itself) a killed leader still hands over
                with self._lock:
                    if item in self._pending:  # (put back for a later batch: no one would lead for it)
                        self._pending.remove(item)
                    self._hand_over()
                raise
            with self._lock:
                if item.finished or not self._pending:
                    self._hand_over()
                    return item

    def _hand_over(self) -> None:
        """The leader leaves (the lock held): the first waiter leads next, or the queue is idle."""
        if self._pending:
            nxt = self._pending[0]
            nxt.lead = True
            nxt.done.set()
        else:
            self._busy = False

    def _requeue(self, items: list) -> None:
        """Put unfinished requests back at the head of the queue, in their order."""
        with self._lock:
            self._pending.extendleft(reversed(items))

    def _write(self, batch: list) -> int:
        raise NotImplementedError


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str, *, immediate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, immediate=immediate)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        size = getattr(self.engine.pool, "size", None)
        size = size() if callable(size) else 1  # (SQLite's in-memory pools have no size to read)
        #: Socket events' transactions, in arrival order (see FairGate), below the pool's size so that
        #: requests, jobs and group commits still find connections. The wait is under the web client's
        #: 10 s ack timeout: a client told `server_busy` sends again, one that timed out would too.
        self.events = FairGate(int(os.environ.get("EXAM_ENGINE_EVENT_TXNS", 0)) or max(1, size // 2),
                               timeout_s=float(os.environ.get("EXAM_ENGINE_EVENT_WAIT_S", 8)))

    def session(self) -> Session:
        """A new session (jobs and socket handlers own theirs)."""
        return self.sessionmaker()


def get_db() -> Database:
    return current_app.extensions["exam_engine.db"]


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
