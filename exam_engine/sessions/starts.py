"""Starts by group commit: the `start` events that arrive together are written in one transaction.

A start storm (a thousand learners pressing Start in the same second) was CPU-bound, and a start written
alone spends a third of its worker's time in the database's round trips and the ORM's machinery around
them: two statements, a commit, a session and a connection for each learner. Here the starts that arrive
while a batch is in flight wait for the next one (`GroupQueue`: no timer), and a batch of any size costs
one read (`start_facts_many`: every learner's account, exam, live version and attempts), one INSERT
(`insert_attempts`: the attempts, their `start` and `connect` entries and proctoring states) and one
commit. Each new attempt is planned by `plan_start`, the same rules as a start alone.

What a batch does not write goes the way of a start alone (`start_and_join` in the learner's own
transaction), so every case keeps its one set of rules: an attempt already in progress (a reload of the
exam page, a second device: the join's rules), a second start of the same learner in the same batch, an
attempt that another worker wrote first (the INSERT's conflict), and every request of a batch whose
transaction failed as a whole. A refusal (a disabled account, a role, an unknown exam, the window, the
attempts, the cool-down) changes nothing and is answered from the batch.

PostgreSQL only: on SQLite (one writer at a time) every start goes alone.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from item_bank.errors import DomainError

from ..db import GroupQueue, utcnow
from ..exams import services as exam_services
from ..proctoring import services as proctoring
from . import services

log = logging.getLogger("exam_engine.starts")

#: A request's outcome when the batch did not decide it: the caller starts alone.
ALONE = "alone"


@dataclass(eq=False)
class StartRequest:
    """One learner's `start` waiting for its batch."""

    user_id: int
    exam_id: int
    #: The `/exam` connection it came on (the new attempt is written joined to it).
    connection: services.Connection
    ip: str | None
    user_agent: str | None
    #: The NewAttempt written (joined to the connection), the DomainError that refused it, or ALONE.
    outcome: Any = None
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False

    @property
    def finished(self) -> bool:
        return self.outcome is not None


class StartBatches(GroupQueue):
    """Per database: the queue of starts and the one batch in flight."""

    def __init__(self, database: Any, max_batch: int = 100) -> None:
        # A start still queued when a socket event would have given up its turn at the gate is answered
        # `server_busy` as that event would be (the web client sends it again).
        super().__init__(max_batch, timeout_s=database.events.timeout_s)
        self.database = database

    def _write(self, batch: list[StartRequest]) -> int:
        try:
            write_batch(self.database, batch)
        except Exception:  # noqa: BLE001 - each start not refused yet is tried alone instead (below)
            log.warning("start batch failed; its %d starts go alone", len(batch), exc_info=True)
        finally:
            for request in batch:
                if request.outcome is None:
                    request.outcome = ALONE
                request.done.set()
        return len(batch)


def write_batch(database: Any, batch: list[StartRequest]) -> None:
    """Plan and write the new attempts of `batch` in one transaction; sets each request's outcome once
    committed (a refusal's at once: it wrote nothing).

    Every attempt of the batch starts at the batch's own time (as a start alone starts once it has its
    turn at the database): a learner's time does not run while the start waits in the queue.
    """
    now = utcnow()
    session = database.session()
    try:
        facts = exam_services.start_facts_many(session, [(r.user_id, r.exam_id) for r in batch])
        planned: list[tuple[StartRequest, services.NewAttempt]] = []
        seen: set[tuple[int, int]] = set()
        for request in batch:
            key = (request.user_id, request.exam_id)
            if key in seen:  # the same learner twice (a double click, two tabs): after this batch, alone
                continue
            seen.add(key)
            first_join = functools.partial(proctoring.first_join, session, user_agent=request.user_agent, now=now)
            try:
                new = services.plan_start(session, request.user_id, request.exam_id, facts(*key), now=now,
                                          client_ip=request.ip, user_agent=request.user_agent,
                                          connection=request.connection, first_join=first_join)
            except DomainError as exc:
                request.outcome = exc
                continue
            except Exception:  # noqa: BLE001 - this start alone (which logs what it meets), not the batch
                log.warning("start could not be planned in a batch", exc_info=True,
                            extra={"user_id": request.user_id, "exam_id": request.exam_id})
                continue
            if not isinstance(new, str):  # (an attempt in progress: joined alone)
                planned.append((request, new))
        written = services.insert_attempts(session, [new for _, new in planned]) if planned else set()
        # The views of the forms' items, read now when not cached yet (one query, not one per learner).
        services.base_views(session, {entry["version_id"] for _, new in planned for entry in new.attempt.form})
        session.commit()
    finally:
        session.close()
    for request, new in planned:
        if new.values["id"] in written:
            request.outcome = new


def start_batches(app: Any) -> StartBatches:
    """The app's start queue (one per app, so per database)."""
    batches = app.extensions.get("exam_engine.starts")
    if batches is None:
        batches = app.extensions["exam_engine.starts"] = StartBatches(app.extensions["exam_engine.db"])
    return batches
