"""Starts by group commit (exam_engine/sessions/starts.py): a batch keeps every rule of a start alone."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event, func, select

from exam_engine.db import GroupQueue, utcnow
from exam_engine.proctoring.models import ProctoringState
from exam_engine.sessions import eventlog, services, starts
from exam_engine.sessions.models import ExamSession, SessionEvent

pytestmark = pytest.mark.postgres_only  # start batches are PostgreSQL's (SQLite starts alone)

HOLDER = "127.0.0.1:5000#batch-test"


def _request(user, exam_id: int) -> starts.StartRequest:  # noqa: ANN001
    return starts.StartRequest(user.id, exam_id, services.Connection(secrets.token_hex(10), HOLDER, secrets.token_hex(16)),
                               "10.0.0.7", "Batch/1.0")


def _database(app):  # noqa: ANN001, ANN202
    return app.extensions["exam_engine.db"]


class _Statements:
    """The statements and commits the app's engine runs (a `before_cursor_execute` listener)."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine, self.seen, self.commits = engine, [], 0

    def __enter__(self) -> "_Statements":
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *_exc) -> None:  # noqa: ANN002
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement, *_args) -> None:  # noqa: ANN001, ANN002
        if statement.strip() != "SELECT 1":
            self.seen.append(" ".join(statement.split()))

    def _commit(self, _conn) -> None:  # noqa: ANN001
        self.commits += 1


def _attempt_of(db, user_id: int, exam_id: int) -> ExamSession:  # noqa: ANN001
    return db.scalars(select(ExamSession).where(ExamSession.user_id == user_id, ExamSession.exam_id == exam_id)).one()


def test_a_batch_starts_many_learners_in_two_statements_and_one_commit(app, make_exam, make_user, db):
    """Each new attempt is stored as a start alone stores it: joined to its connection, its start and connect
    entries chained, its proctoring state; for the whole batch, one read, one INSERT and one commit."""
    exam_id = make_exam(proctoring={"level": "standard"})
    users = [make_user("learner") for _ in range(6)]
    batch = [_request(user, exam_id) for user in users]
    starts.write_batch(_database(app), [_request(make_user("learner"), exam_id)])  # the exam's version is cached
    with _Statements(_database(app).engine) as counted:
        starts.write_batch(_database(app), batch)
    assert len(counted.seen) == 2 and counted.commits == 1, counted.seen
    assert counted.seen[0].startswith("SELECT users.role") and counted.seen[1].startswith("WITH new_attempts AS")

    db.rollback()
    for request, user in zip(batch, users):
        new = request.outcome
        assert isinstance(new, services.NewAttempt), request.outcome
        attempt = db.get(ExamSession, new.attempt.id)
        assert attempt.user_id == user.id and attempt.status == "in_progress" and attempt.attempt_no == 1
        assert attempt.active_sid == request.connection.sid and attempt.active_worker == HOLDER
        assert attempt.active_client == request.connection.client_id and attempt.is_connected
        assert attempt.client_ip == "10.0.0.7" and attempt.user_agent == "Batch/1.0"
        assert (attempt.deadline_at - attempt.started_at).total_seconds() == attempt.allowed_s == 600
        assert attempt.extended_s == 0 and attempt.last_seq == 0 and attempt.risk == 0 and attempt.messages == []
        assert [e.kind for e in db.scalars(select(SessionEvent).where(SessionEvent.session_id == attempt.id)
                                           .order_by(SessionEvent.idx))] == ["start", "connect"]
        report = eventlog.verify_session(db, attempt.id)
        assert report.ok and report.length == attempt.log_length == 2 and report.head == attempt.log_head
        state = db.get(ProctoringState, attempt.id)
        assert state is not None and state.log_idx == 2 and state.user_agent == "Batch/1.0"
        assert state.last_activity_at == attempt.connected_at
        # What the caller acks with is the row as stored.
        for column in ("id", "exam_version_id", "seed", "form", "deadline_at", "log_head", "active_sid"):
            assert getattr(new.attempt, column) == getattr(attempt, column), column


def test_a_batch_and_a_start_alone_store_the_same(app, make_exam, make_user, db):
    """The same start in a batch and alone (start_and_join): every column and state field alike but the
    attempt's own (ids, seed, form drawn from it, times, hashes, connection)."""
    exam_id = make_exam(proctoring={"level": "standard"})
    alone_user, batch_user = make_user("learner"), make_user("learner")
    request, now = _request(alone_user, exam_id), utcnow()
    session = _database(app).session()
    try:
        services.start_and_join(session, alone_user, exam_id, sid=request.connection.sid, now=now, ip=request.ip,
                                user_agent=request.user_agent, client_id=request.connection.client_id, holder=HOLDER,
                                first_join=lambda attempt, appended: starts.proctoring.first_join(
                                    session, attempt, appended, user_agent=request.user_agent, now=now))
        session.commit()
    finally:
        session.close()
    starts.write_batch(_database(app), [_request(batch_user, exam_id)])
    db.rollback()
    alone, batched = _attempt_of(db, alone_user.id, exam_id), _attempt_of(db, batch_user.id, exam_id)
    own = {"id", "user_id", "active_key", "seed", "form", "started_at", "deadline_at", "created_at", "connected_at",
           "log_head", "active_sid", "active_client", "updated_at"}
    for column in ExamSession.__table__.columns.keys():
        if column not in own:
            assert getattr(alone, column) == getattr(batched, column), column
    assert sorted(e["item_id"] for e in alone.form) == sorted(e["item_id"] for e in batched.form)
    states = [db.get(ProctoringState, attempt.id) for attempt in (alone, batched)]
    for column in ProctoringState.__table__.columns.keys():
        if column not in {"session_id", "last_activity_at", "updated_at"}:
            assert getattr(states[0], column) == getattr(states[1], column), column
    entries = [[(e.kind, sorted(e.data)) for e in db.scalars(
        select(SessionEvent).where(SessionEvent.session_id == attempt.id).order_by(SessionEvent.idx))]
        for attempt in (alone, batched)]
    assert entries[0] == entries[1] == [("start", ["allowed_s", "deadline_at", "exam_version_id", "extra_time_pct",
                                                    "form", "ip"]), ("connect", ["ip", "user_agent"])]


def test_a_batch_answers_refusals_and_leaves_the_rest_to_a_start_alone(app, make_exam, make_user, db):
    from exam_engine.auth.models import User
    exam_id = make_exam()
    closed = make_exam(opens_at="2020-01-01T00:00:00+00:00", closes_at="2020-01-02T00:00:00+00:00")
    fresh, twice, busy, disabled = (make_user("learner") for _ in range(4))
    db.get(User, disabled.id).is_active = False
    db.commit()
    starts.write_batch(_database(app), [_request(busy, exam_id)])  # an attempt in progress already
    batch = [_request(fresh, exam_id), _request(twice, exam_id), _request(twice, exam_id), _request(busy, exam_id),
             _request(disabled, exam_id), _request(make_user("examiner"), exam_id), _request(fresh, 999_999),
             _request(make_user("learner"), closed)]
    starts.write_batch(_database(app), batch)
    outcomes = [r.outcome for r in batch]
    assert isinstance(outcomes[0], services.NewAttempt) and isinstance(outcomes[1], services.NewAttempt)
    assert outcomes[2] is None and outcomes[3] is None  # the same learner again, an attempt in progress: alone
    assert isinstance(outcomes[4], services.AccountDisabled)
    assert [getattr(o, "code", None) for o in outcomes[5:]] == ["role_required", "exam_not_found", "exam_closed"]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ExamSession).where(ExamSession.user_id == twice.id)) == 1
    assert db.scalar(select(func.count()).select_from(ExamSession).where(ExamSession.user_id == busy.id)) == 1
    assert db.scalar(select(func.count()).select_from(ExamSession).where(ExamSession.user_id == disabled.id)) == 0
    # A batch sets what it decided; the queue marks the rest ALONE.
    queue = starts.StartBatches(_database(app))
    again = [_request(twice, exam_id)]
    assert queue._write(again) == 1 and again[0].outcome == starts.ALONE and again[0].done.is_set()


def test_an_attempt_written_meanwhile_by_another_worker_leaves_the_start_alone(app, make_exam, make_user, db,
                                                                              monkeypatch):
    """Between the batch's read and its INSERT another worker starts the same learner: the INSERT skips
    that learner (ON CONFLICT) with its entries and state, the others are written, and the learner's start
    goes alone (it will join the other attempt)."""
    exam_id = make_exam(proctoring={"level": "standard"})
    raced, other = make_user("learner"), make_user("learner")
    real = starts.exam_services.start_facts_many
    winner = []

    def read_then_race(session, pairs):  # noqa: ANN001, ANN202
        facts = real(session, pairs)
        elsewhere = _database(app).session()
        try:
            winner.append(services.start_session(elsewhere, raced, exam_id, now=utcnow())[0].id)
            elsewhere.commit()
        finally:
            elsewhere.close()
        return facts

    monkeypatch.setattr(starts.exam_services, "start_facts_many", read_then_race)
    batch = [_request(raced, exam_id), _request(other, exam_id)]
    starts.write_batch(_database(app), batch)
    assert batch[0].outcome is None and isinstance(batch[1].outcome, services.NewAttempt)
    db.rollback()
    attempt = _attempt_of(db, raced.id, exam_id)
    assert attempt.id == winner[0] and attempt.log_length == 1 and not attempt.is_connected
    planned = batch[0].connection  # nothing of the planned attempt was written
    assert db.scalar(select(func.count()).select_from(SessionEvent).where(SessionEvent.session_id == attempt.id)) == 1
    assert db.scalar(select(func.count()).select_from(ExamSession).where(ExamSession.active_sid == planned.sid)) == 0
    assert db.get(ProctoringState, attempt.id) is None
    assert eventlog.verify_session(db, attempt.id).ok


def test_a_failed_batch_starts_each_learner_alone(app, make_exam, learner, socket_for, db, monkeypatch):
    def broken(_database, _batch):  # noqa: ANN001, ANN202
        raise RuntimeError("connection lost mid-batch")

    monkeypatch.setattr(starts, "write_batch", broken)
    exam_id = make_exam()
    ack = socket_for(learner).emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
    assert ack["ok"], ack
    db.rollback()
    attempt = db.get(ExamSession, ack["session"]["id"])
    assert attempt.is_connected and attempt.log_length == 2 and eventlog.verify_session(db, attempt.id).ok


def test_concurrent_starts_on_sockets_each_get_their_own_joined_attempt(app, make_exam, make_user, socket_for, db,
                                                                      monkeypatch):
    """Learners pressing Start while a batch is in flight wait for the next one, all of them in it: every
    ack is the learner's own joined attempt with its whole form and full time, each stored once with its
    chain, and the learner can answer."""
    exam_id = make_exam(proctoring={"level": "standard"})
    users = [make_user("learner") for _ in range(16)]
    clients = [socket_for(user) for user in users]
    acks: list = [None] * len(users)
    queue, real, sizes = starts.start_batches(app), starts.write_batch, []

    def first_waits_for_the_others(database, batch):  # noqa: ANN001, ANN202
        if not sizes:  # the first batch is in flight until every other learner has queued
            for _ in range(2000):
                if len(queue._pending) == len(users) - 1:
                    break
                threading.Event().wait(0.005)
        sizes.append(len(batch))
        return real(database, batch)

    monkeypatch.setattr(starts, "write_batch", first_waits_for_the_others)

    def start(i: int) -> None:
        acks[i] = clients[i].emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(ack and ack["ok"] for ack in acks), acks
    assert sizes == [1, len(users) - 1]
    db.rollback()
    for user, ack, sc in zip(users, acks, clients):
        attempt = db.get(ExamSession, ack["session"]["id"])
        assert attempt.user_id == user.id and attempt.is_connected and attempt.log_length == 2
        assert len(ack["session"]["items"]) == len(attempt.form) and ack["session"]["proctoring"]["is_recorded"]
        # The time starts with the batch, not when the learner queued: the ack has (about) all of it.
        assert 595 < ack["session"]["remaining_s"] <= 600 and ack["session"]["deadline_at"] == attempt.deadline_at.isoformat()
        assert eventlog.verify_session(db, attempt.id).ok and db.get(ProctoringState, attempt.id) is not None
        item = ack["session"]["items"][0]
        answer = sc.emit("answer", {"session_id": attempt.id, "item_id": item["item_id"], "response": None, "seq": 1},
                         namespace="/exam", callback=True)
        assert answer == {"ok": True, "seq": 1}
    assert len({ack["session"]["id"] for ack in acks}) == len(users)


@dataclass(eq=False)
class _Job:
    n: int
    finished_by: list = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False

    @property
    def finished(self) -> bool:
        return bool(self.finished_by)


class _Recorder(GroupQueue):
    """A queue whose batches are recorded; the first one waits until released (requests pile up meanwhile)."""

    def __init__(self) -> None:
        super().__init__(max_batch=8)
        self.batches: list[list[int]] = []
        self.release = threading.Event()

    def _write(self, batch: list) -> int:
        if not self.batches:
            self.release.wait(10)
        self.batches.append([job.n for job in batch])
        for job in batch:
            job.finished_by.append(len(self.batches))
            job.done.set()
        return len(batch)


def test_group_queue_batches_what_arrives_meanwhile_in_arrival_order():
    queue = _Recorder()
    jobs = [_Job(n) for n in range(20)]
    first = threading.Thread(target=queue.submit, args=(jobs[0],))
    first.start()
    while not queue._busy:
        threading.Event().wait(0.001)
    threads = []
    for job in jobs[1:]:  # queued in this order while the first batch is in flight
        threads.append(threading.Thread(target=queue.submit, args=(job,)))
        threads[-1].start()
        while len(queue._pending) < job.n:
            threading.Event().wait(0.001)
    queue.release.set()
    for t in [first, *threads]:
        t.join(10)
    assert queue.batches == [[0], list(range(1, 9)), list(range(9, 17)), list(range(17, 20))]
    assert all(len(job.finished_by) == 1 for job in jobs) and not queue._busy


def test_a_request_not_in_a_batch_in_time_leaves_the_queue():
    from exam_engine.db import GateTimeout
    queue = _Recorder()
    queue.timeout_s = 0.05
    first = threading.Thread(target=queue.submit, args=(_Job(0),))
    first.start()
    while not queue._busy:
        threading.Event().wait(0.001)
    late = _Job(1)
    with pytest.raises(GateTimeout):
        queue.submit(late)  # the first batch is still in flight
    assert not queue._pending and not late.finished
    queue.release.set()
    first.join(10)
    assert queue.batches == [[0]] and not queue._busy
    assert queue.submit(_Job(2)).finished_by == [2]  # the queue goes on


def test_a_start_queued_too_long_is_answered_server_busy(app, make_exam, learner, socket_for, db):
    exam_id = make_exam()
    sc = socket_for(learner)
    queue = starts.start_batches(app)
    timeout, queue.timeout_s, queue._busy = queue.timeout_s, 0.05, True  # a batch in flight that does not end
    try:
        ack = sc.emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
    finally:
        queue.timeout_s, queue._busy = timeout, False
    assert ack == {"ok": False, "error": {"code": "server_busy", "message": "the server is busy: try again",
                                          "details": {"retry_after_s": 1}}}
    assert db.scalar(select(func.count()).select_from(ExamSession).where(ExamSession.user_id == learner.id)) == 0
    assert sc.emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)["ok"]  # sent again: started


def test_a_batch_of_recorded_and_unrecorded_exams_writes_each_its_way(app, make_exam, make_user, db):
    recorded, plain = make_exam(proctoring={"level": "standard"}), make_exam()
    users = [make_user("learner") for _ in range(4)]
    starts.write_batch(_database(app), [_request(make_user("learner"), recorded), _request(make_user("learner"), plain)])
    batch = [_request(users[0], recorded), _request(users[1], plain), _request(users[2], recorded),
             _request(users[3], plain)]
    with _Statements(_database(app).engine) as counted:
        starts.write_batch(_database(app), batch)
    assert len(counted.seen) == 3 and counted.commits == 1, counted.seen  # one read, an INSERT per shape
    db.rollback()
    for request, is_recorded in zip(batch, (True, False, True, False)):
        attempt = db.get(ExamSession, request.outcome.attempt.id)
        assert attempt.log_length == 2 and eventlog.verify_session(db, attempt.id).ok
        assert (db.get(ProctoringState, attempt.id) is not None) is is_recorded


def test_a_leader_killed_mid_batch_hands_the_lead_over():
    class Killed(BaseException):
        pass

    class Dies(_Recorder):
        def _write(self, batch: list) -> int:
            if not self.batches:
                self.batches.append([])
                self.release.wait(10)
                for job in batch:  # (a batch finishes its requests, whatever happens)
                    job.finished_by.append(0)
                    job.done.set()
                raise Killed()
            return super()._write(batch)

    queue = Dies()
    outcome: list = []

    def lead() -> None:
        try:
            queue.submit(_Job(0))
        except Killed:
            outcome.append("killed")

    first = threading.Thread(target=lead)
    first.start()
    while not queue._busy:
        threading.Event().wait(0.001)
    waiting = [_Job(1), _Job(2)]
    threads = [threading.Thread(target=queue.submit, args=(job,)) for job in waiting]
    for t in threads:
        t.start()
    while len(queue._pending) < 2:
        threading.Event().wait(0.001)
    queue.release.set()
    for t in [first, *threads]:
        t.join(10)
    assert outcome == ["killed"] and all(job.finished for job in waiting) and not queue._busy
    assert queue.batches[-1] == [1, 2]
