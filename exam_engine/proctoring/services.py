"""Proctoring services: record signals (rate-limited), server-side observations, flags and their review, risk.

Like every service here they flush and leave the commit to the caller; what must
reach browsers afterwards (a warning, a pause, a flag for examiners) is
returned as `Effects`, which `notify.deliver` emits after the commit.
Reports, exam summaries, collusion screening, snapshots and the retention
purge live in `reports.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from item_bank.errors import DomainError, NotFound, RateLimited
from item_bank.models import ItemVersion

from ..auth.models import User
from ..exams import services as exam_services
from ..exams.models import ExamVersion
from ..sessions import eventlog
from ..sessions import services as session_services
from ..sessions.models import AppliedSeq, ExamSession, SessionEvent
from ..sessions.statuses import CLOSED, Status, is_transition_legal
from . import policy as pol
from .models import Flag, ProctoringSignal, ProctoringState, SignalRate

log = logging.getLogger("exam_engine.proctoring")


class ProctoringError(DomainError):
    """A refused proctoring operation (codes in docs/proctoring.md)."""

    status = 409


def _err(code: str, message: str, status: int = 409, **details: Any) -> ProctoringError:
    return ProctoringError(message, code=code, status=status, details=details or None)


# --- the policy of an attempt --------------------------------------------------------------------

def policy_for_version(session: Session, exam_version_id: int) -> pol.Policy:
    """The effective policy of an exam version (read once per process: attempts only run frozen versions)."""
    return exam_services.frozen_version(session, exam_version_id).derived("proctoring_policy", _resolve_policy)


def _resolve_policy(version: exam_services.FrozenVersion) -> pol.Policy:
    spec = version.definition.get("proctoring")
    return pol.resolve(spec if isinstance(spec, dict) else None)


def notice_for_version(session: Session, exam_version_id: int) -> dict:
    """The proctoring notice of an exam version (shared: do not change it)."""
    return exam_services.frozen_version(session, exam_version_id).derived(
        "proctoring_notice", lambda v: pol.notice(policy_for_version(session, v.id)))


def notice_for_definition(defn: dict) -> dict:
    """The proctoring notice for an exam definition (shown before starting and in `join`)."""
    return pol.notice(pol.resolve(defn.get("proctoring")))


def effective_policy(session: Session, viewer: User, exam_id: int) -> dict:
    """For the exam's authors and examiners: the level, every effective setting, and the problems of the stored ones."""
    exam = exam_services.get_exam(session, exam_id)
    if not (exam_services.can_manage(viewer, exam) or exam_services.is_examiner_of(session, viewer, exam_id)):
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")
    version = exam_services.version_of(session, exam, exam.live_version) if exam.live_version \
        else exam_services.version_of(session, exam)
    spec = version.definition.get("proctoring")
    try:
        pol.validate(spec)
        problems: dict[str, str] = {}
    except pol.PolicyError as exc:
        problems = exc.problems
    effective = pol.resolve(spec)
    return {"exam_id": exam_id, "version": version.version, "level": effective.level,
            "settings": dict(effective.settings), "problems": problems}


def notice_for_attempt(session: Session, session_id: str) -> dict:
    """The proctoring notice of an attempt's exam version (the `proctoring` part of the `join` payload)."""
    attempt = session_services.load_attempt(session, session_id)
    return notice_for_version(session, attempt.exam_version_id)


# --- effects to emit after the commit ------------------------------------------------------------

@dataclass
class Effects:
    """What browsers must hear once the transaction is committed."""

    session_id: str
    exam_id: int
    #: Warnings for the learner: {"rule", "severity", "text"}.
    warnings: list[dict] = field(default_factory=list)
    #: New or escalated flags (flag_out + "alert") for the exam's examiners.
    flags: list[dict] = field(default_factory=list)
    #: The attempt was paused automatically: the `time` payload to send with the status.
    paused: dict | None = None
    #: The examiner's row changed in a way worth pushing at once (risk, flags, status).
    changed: bool = False
    risk: float = 0.0

    def merge(self, other: Effects | None) -> Effects:
        if other is not None:
            self.warnings += other.warnings
            self.flags += other.flags
            self.paused = self.paused or other.paused
            self.changed = self.changed or other.changed
            self.risk = max(self.risk, other.risk)
        return self

    def __bool__(self) -> bool:
        return bool(self.warnings or self.flags or self.paused or self.changed)


# --- rate limiting ---------------------------------------------------------------------------------

class DbRateLimiter:
    """Fixed windows per attempt in the `proctoring_rates` table: a refusal writes nothing."""

    def allow(self, session: Session, session_id: str, *, now: datetime, rate: int, window_s: int) -> bool:
        window = int(now.timestamp() // window_s)
        bump = (update(SignalRate).where(SignalRate.session_id == session_id, SignalRate.window == window,
                                         SignalRate.count < rate)
                .values(count=SignalRate.count + 1).execution_options(synchronize_session=False))
        if session.execute(bump).rowcount == 1:
            return True
        fresh = (update(SignalRate).where(SignalRate.session_id == session_id, SignalRate.window < window)
                 .values(window=window, count=1).execution_options(synchronize_session=False))
        if session.execute(fresh).rowcount == 1:
            return True
        if session.scalar(select(SignalRate.window).where(SignalRate.session_id == session_id)) is not None:
            return False
        try:
            with session.begin_nested():
                session.add(SignalRate(session_id=session_id, window=window, count=1))
                session.flush()
            return True
        except IntegrityError:  # a concurrent first signal created it: count against it
            return session.execute(bump).rowcount == 1


class RedisRateLimiter:
    """The same windows in Redis (INCR with an expiry): refusals never touch the database."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client

    def allow(self, session: Session, session_id: str, *, now: datetime, rate: int, window_s: int) -> bool:
        window = int(now.timestamp() // window_s)
        key = f"exam_engine:signal_rate:{session_id}:{window}"
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s * 2)
        count, _ = pipe.execute()
        return int(count) <= rate


# --- per-attempt state -----------------------------------------------------------------------------

def _state(session: Session, attempt: ExamSession, now: datetime) -> ProctoringState:
    """The attempt's rule state (created on first use; the caller holds the attempt's lock)."""
    state = session.get(ProctoringState, attempt.id)
    if state is None:
        state = _new_state(attempt, now)
        session.add(state)
        session.flush()
    return state


def _new_state(attempt: ExamSession, now: datetime) -> ProctoringState:
    return ProctoringState(session_id=attempt.id, counts={}, log_idx=0, answered_items=[],
                           last_activity_at=attempt.started_at, is_idle=False, updated_at=now)


def flag_out(flag: Flag) -> dict:
    return {"id": flag.id, "session_id": flag.session_id, "exam_id": flag.exam_id, "rule": flag.rule,
            "severity": flag.severity, "status": flag.status, "count": flag.count, "detail": flag.detail,
            "note": flag.note, "reviewer_id": flag.reviewer_id, "created_at": flag.created_at.isoformat(),
            "updated_at": flag.updated_at.isoformat(),
            "reviewed_at": flag.reviewed_at.isoformat() if flag.reviewed_at else None}


class ScanBatch:
    """Writes of many attempts' rules deferred to one flush (scan.py): no flush per signal or flag.

    `flags`: every flag of the batch's attempts, preloaded (the rules look them up in memory);
    `deferred`: what needs the ids of new signals and flags (log entries, the examiners' flag
    events), run in order after the flush that assigns them.
    """

    def __init__(self, flags: dict[str, list[Flag]]) -> None:
        self.flags = flags
        self.deferred: list[Callable[[], None]] = []
        #: The log entries the deferred writes append, as rows: inserted with one Core statement (`scan.py`).
        self.entries: list[dict] = []

    def log(self, attempt: ExamSession, kind: str, data: dict, *, at: datetime, actor_id: int | None) -> None:
        """`eventlog.append` without an ORM object per entry: the row is kept for one INSERT of the batch."""
        entry = eventlog.next_entry(attempt.id, attempt.log_length, attempt.log_head, kind, data, at=at,
                                    actor_id=actor_id)
        self.entries.append(entry._asdict())
        attempt.log_length = entry.idx
        attempt.log_head = entry.hash


def _append(session: Session, attempt: ExamSession, batch: ScanBatch | None, kind: str, data: dict, *,
            at: datetime, actor_id: int | None) -> None:
    """Append a log entry: at once (one attempt), or to the batch's rows (many attempts, `scan.py`)."""
    if batch is None:
        eventlog.append(session, attempt, kind, data, at=at, actor_id=actor_id)
    else:
        batch.log(attempt, kind, data, at=at, actor_id=actor_id)


def recompute_risk(session: Session, attempt: ExamSession, batch: ScanBatch | None = None) -> float:
    if batch is not None:
        rows = [(f.severity, f.status, f.count) for f in batch.flags.get(attempt.id, [])]
    else:
        rows = [tuple(r) for r in session.execute(select(Flag.severity, Flag.status, Flag.count)
                                                  .where(Flag.session_id == attempt.id)).all()]
    attempt.risk = pol.risk_score(rows)
    return attempt.risk


def _later(batch: ScanBatch | None, fn: Callable[[], None]) -> None:
    """Run now, or after the batch's flush (keeping the order of the attempt's log)."""
    if batch is None:
        fn()
    else:
        batch.deferred.append(fn)


def _open_flag(session: Session, attempt: ExamSession, rule: str, batch: ScanBatch | None) -> Flag | None:
    if batch is not None:
        return next((f for f in batch.flags.get(attempt.id, []) if f.rule == rule and f.status == "open"), None)
    return session.scalar(select(Flag).where(Flag.session_id == attempt.id, Flag.rule == rule, Flag.status == "open"))


def _apply(session: Session, attempt: ExamSession, policy: pol.Policy, triggers: list[pol.Trigger],
           now: datetime, batch: ScanBatch | None = None) -> Effects:
    """Raise or escalate the flags of fired rules, warn, recompute the risk, pause at the threshold."""
    effects = Effects(attempt.id, attempt.exam_id, risk=attempt.risk)
    if not triggers:
        return effects
    for trig in triggers:
        flag = _open_flag(session, attempt, trig.rule, batch)
        if flag is None:
            flag = Flag(session_id=attempt.id, exam_id=attempt.exam_id, rule=trig.rule, severity=trig.severity,
                        status="open", count=1, detail=trig.detail, created_at=now, updated_at=now)
            session.add(flag)
            if batch is None:
                session.flush()
            else:
                batch.flags.setdefault(attempt.id, []).append(flag)
        else:
            flag.count += 1
            if pol.SEVERITIES.index(trig.severity) > pol.SEVERITIES.index(flag.severity):
                flag.severity = trig.severity
            flag.detail = trig.detail
            flag.updated_at = now
        data = {"rule": trig.rule, "severity": flag.severity, "count": flag.count}
        out = {**flag_out(flag), "alert": "alert" in trig.actions}  # a new flag's id is filled in once flushed
        effects.flags.append(out)

        def raised(flag: Flag = flag, data: dict = data, out: dict = out) -> None:
            out["id"] = flag.id
            _append(session, attempt, batch, "flag_raised", {"flag_id": flag.id, **data}, at=now, actor_id=None)
        _later(batch, raised)
        if "warn" in trig.actions and trig.warning:
            effects.warnings.append({"rule": trig.rule, "severity": trig.severity, "text": trig.warning})
            _later(batch, lambda trig=trig: _append(session, attempt, batch, "proctoring_warning",
                                                    {"rule": trig.rule, "text": trig.warning}, at=now, actor_id=None))
    before = attempt.risk
    after = recompute_risk(session, attempt, batch)
    effects.risk, effects.changed = after, True
    if pol.should_pause(policy, before, after) and attempt.status == Status.IN_PROGRESS.value \
            and is_transition_legal(attempt.status, Status.PAUSED.value):
        attempt.status = Status.PAUSED.value
        attempt.paused_at = now
        _later(batch, lambda: _append(session, attempt, batch, "auto_pause",
                                      {"risk": after, "threshold": policy["pause_at_risk"]}, at=now, actor_id=None))
        effects.paused = session_services.time_payload(attempt, now)
    return effects


def _observe(session: Session, attempt: ExamSession, state: ProctoringState, policy: pol.Policy, kind: str, *,
             now: datetime, detail: dict | None = None, source: str = "server", client_at: datetime | None = None,
             seq: int | None = None, log_entry: bool = True, batch: ScanBatch | None = None) -> Effects:
    """Store one signal, count it, and apply the rules it fires."""
    detail = detail or {}
    signal = ProctoringSignal(session_id=attempt.id, kind=kind, source=source, client_at=client_at, at=now, seq=seq,
                              detail=detail)
    session.add(signal)
    if batch is None:
        session.flush()
    if log_entry:
        def logged() -> None:
            _append(session, attempt, batch, "signal", signal_entry(signal.id, kind, source, client_at, seq), at=now,
                            actor_id=attempt.user_id if source == "client" else None)
        _later(batch, logged)
    counts = dict(state.counts or {})
    counts[kind] = counts.get(kind, 0) + 1
    state.counts = counts
    state.updated_at = now
    return _apply(session, attempt, policy, pol.evaluate(policy, kind, counts, detail), now, batch)


# --- signals from the browser ----------------------------------------------------------------------

def record_signal(session: Session, user: User, session_id: Any, *, kind: str, at: datetime | None, detail: dict,
                  seq: int, now: datetime, limiter: Any) -> tuple[dict, Effects | None]:
    """Record a browser signal: rate-limited before any lock, idempotent by seq; returns (ack, effects)."""
    # Columns only, no lock: the refusal path must stay cheap, and the attempt is loaded fresh under its lock below.
    row = session.execute(select(ExamSession.user_id, ExamSession.exam_version_id, ExamSession.status)
                          .where(ExamSession.id == session_id)).first() if isinstance(session_id, str) else None
    if row is None or row.user_id != user.id:
        raise _err("session_not_found", "no such attempt", 404)
    policy = policy_for_version(session, row.exam_version_id)
    if not policy.is_recording:
        return {"ok": True, "seq": seq, "recorded": False}, None
    if row.status in CLOSED:
        raise _err("session_closed", f"the attempt is already {row.status}")
    if not limiter.allow(session, session_id, now=now, rate=policy["signal_rate"], window_s=policy["signal_window_s"]):
        window_s = policy["signal_window_s"]
        raise RateLimited(f"at most {policy['signal_rate']} signals per {window_s} s", code="rate_limited",
                          details={"retry_after_s": round(window_s - now.timestamp() % window_s, 3)})
    attempt = session_services.learner_attempt(session, user, session_id, lock=True)
    applied = session.get(AppliedSeq, (attempt.id, seq))
    if applied is not None:
        return {**applied.ack, "duplicate": True}, None
    if attempt.status in CLOSED:
        raise _err("session_closed", f"the attempt is already {attempt.status}")
    state = _state(session, attempt, now)
    effects = _observe(session, attempt, state, policy, kind, now=now, detail=detail, source="client", client_at=at,
                       seq=seq)
    effects.merge(_scan(session, attempt, state, policy, now))
    ack = {"ok": True, "seq": seq}
    session.add(AppliedSeq(session_id=attempt.id, seq=seq, kind="signal", ack=ack))
    attempt.last_seq = max(attempt.last_seq, seq)
    session.flush()
    return ack, effects


# --- what the server sees itself ---------------------------------------------------------------------

#: Log entries that show the attempt moving (they reset the inactivity clock).
ACTIVITY_KINDS = {"start", "connect", "reconnect", "answer", "flag", "navigate", "examiner_action", "auto_pause"}


def _estimated_times(session: Session, attempt: ExamSession) -> dict[int, float]:
    """Estimated seconds per item of the form (published versions: read once per process)."""
    meta = session_services.frozen_facts(session.get_bind(), "estimated_time_s", [e["version_id"] for e in attempt.form],
                                         lambda ids: _estimated_times_of(session.connection(), ids))
    return {e["item_id"]: meta[e["version_id"]] for e in attempt.form if meta.get(e["version_id"])}


#: What the server-side rules read of a log entry.
ENTRY_COLUMNS = (SessionEvent.session_id, SessionEvent.idx, SessionEvent.kind, SessionEvent.data, SessionEvent.at,
                 SessionEvent.actor_id)


def _scan(session: Session, attempt: ExamSession, state: ProctoringState, policy: pol.Policy,
          now: datetime, entries: list | None = None, batch: ScanBatch | None = None) -> Effects:
    """Turn new entries of the attempt's log into server signals; check inactivity.

    `entries`: the entries after `state.log_idx` when the caller read them already (scan.py, many attempts at once).
    """
    effects = Effects(attempt.id, attempt.exam_id, risk=attempt.risk)

    def observe(kind: str, **kw: Any) -> Effects:
        return _observe(session, attempt, state, policy, kind, now=now, batch=batch, **kw)

    if state.log_idx < attempt.log_length:
        if entries is None:
            entries = session.execute(select(*ENTRY_COLUMNS).where(SessionEvent.session_id == attempt.id,
                                                                   SessionEvent.idx > state.log_idx)
                                      .order_by(SessionEvent.idx)).all()
        state.log_idx = attempt.log_length
        estimated: dict[int, float] | None = None
        answered = set(state.answered_items or [])
        for ev in entries:
            data = ev.data or {}
            if ev.kind == "second_connection":
                effects.merge(observe("second_connection", log_entry=False,
                                      detail={k: data.get(k) for k in ("ip", "previous_ip", "policy", "user_agent")}))
            elif ev.kind == "ip_change":
                effects.merge(observe("ip_change", log_entry=False,
                                      detail={"from": data.get("from"), "to": data.get("to")}))
            elif ev.kind == "reconnect" and data.get("offline_s"):
                effects.merge(observe("disconnected", log_entry=False,
                                      detail={"offline_s": data["offline_s"],
                                              "total_s": round(attempt.disconnected_total_s, 3)}))
            elif ev.kind == "answer" and ev.actor_id == attempt.user_id and data.get("item_id") not in answered:
                item_id = data.get("item_id")
                answered.add(item_id)
                if estimated is None:
                    estimated = _estimated_times(session, attempt)
                dwell = (ev.at - state.last_activity_at).total_seconds() if state.last_activity_at else None
                if dwell is not None and pol.is_fast_answer(policy, dwell, estimated.get(item_id)):
                    effects.merge(observe("fast_answer", detail={"item_id": item_id, "seconds": round(dwell, 3),
                                                                 "estimated_time_s": estimated.get(item_id)}))
            if ev.kind in ACTIVITY_KINDS:
                state.last_activity_at = ev.at
                state.is_idle = False
        state.answered_items = sorted(answered, key=str)
        state.log_idx = attempt.log_length
    limit = policy["inactivity_s"]
    if (limit and not state.is_idle and attempt.status == Status.IN_PROGRESS.value and attempt.is_connected
            and state.last_activity_at is not None and (now - state.last_activity_at).total_seconds() > limit):
        state.is_idle = True
        effects.merge(observe("inactivity", detail={"idle_s": round((now - state.last_activity_at).total_seconds(), 1)}))
        state.log_idx = attempt.log_length
    return effects


def observe_join(session: Session, session_id: str, *, user_agent: str | None, now: datetime,
                 attempt: ExamSession | None = None, appended: list | None = None) -> Effects | None:
    """After a join: a changed user agent, and the log's new entries (second connection, IP change, reconnect).

    `attempt`: the attempt when the caller has already loaded and locked it in this transaction (the join);
    `appended`: the entries that join logged.
    """
    if attempt is None:
        attempt = session_services.load_attempt(session, session_id, lock=True)
    policy = policy_for_version(session, attempt.exam_version_id)
    if not policy.is_recording or attempt.status in CLOSED:
        return None
    ua = (user_agent or "")[:300] or None
    if (appended is not None and attempt.log_length == 1 + len(appended)
            and all(entry.kind == "connect" for entry in appended)):
        # The attempt's first join (only `start` before it): its state, inserted unless the periodic scan made
        # one meanwhile.
        effects, state = _first_state(session, attempt, appended, policy, ua, now)
        if session.execute(_state_if_absent(session), {key: getattr(state, key) for key in _STATE_KEYS}).first():
            return effects
    state = session.get(ProctoringState, attempt.id)
    created = state is None
    if created:
        # Added once its fields are final (one INSERT, no UPDATE after it); the attempt's lock keeps it ours.
        state = _new_state(attempt, now)
    effects = Effects(attempt.id, attempt.exam_id, risk=attempt.risk)
    if ua and state.user_agent and ua != state.user_agent:
        effects.merge(_observe(session, attempt, state, policy, "user_agent_change", now=now,
                               detail={"from": state.user_agent, "to": ua}))
    state.user_agent = ua or state.user_agent
    entries = None
    if created and appended is not None and attempt.log_length == 1 + len(appended):
        # A new state scans the whole log. Before this join's entries it holds only `start` (written with
        # the attempt), whose one effect, activity at `started_at`, the new state starts with: no read needed.
        entries = appended
    effects.merge(_scan(session, attempt, state, policy, now, entries=entries))
    if created:
        # One Core INSERT of the state as the rules left it (the ORM's unit of work cost several times more).
        session.execute(_INSERT_STATE, {key: getattr(state, key) for key in _STATE_KEYS})
    session.flush()
    return effects


def first_join(session: Session, attempt: ExamSession, appended: list, *, user_agent: str | None,
               now: datetime) -> tuple[Effects | None, list[tuple[Any, str, dict]]]:
    """`observe_join` for an attempt started and joined at once (the `start` event), before it is written.

    Returns (the effects, [(the state table, its column naming the attempt, the rest of the state's row)])
    for the INSERT that writes the attempt: the state its `start` entry and `appended` (its `connect`)
    make, as the first branch of `observe_join` computes it, with nothing to observe in them; (None, [])
    when the exam's policy records nothing.
    """
    if any(entry.kind != "connect" for entry in appended):
        raise ValueError("first_join observes a new attempt's connect entry only")
    policy = policy_for_version(session, attempt.exam_version_id)
    if not policy.is_recording:
        return None, []
    effects, state = _first_state(session, attempt, appended, policy, (user_agent or "")[:300] or None, now)
    row = {key: getattr(state, key) for key in _STATE_KEYS if key != "session_id"}
    return effects, [(_STATE_TABLE, "session_id", row)]


def _first_state(session: Session, attempt: ExamSession, appended: list, policy: pol.Policy, user_agent: str | None,
                 now: datetime) -> tuple[Effects, ProctoringState]:
    """The state an attempt's first join makes: from its `start` entry (which a new state starts from) and
    the join's `connect` entries, with nothing to observe in them; (effects, the state, not added)."""
    state = _new_state(attempt, now)
    state.user_agent = user_agent
    effects = Effects(attempt.id, attempt.exam_id, risk=attempt.risk)
    effects.merge(_scan(session, attempt, state, policy, now, entries=appended))
    return effects, state


_STATE_TABLE = ProctoringState.__table__
_INSERT_STATE = _STATE_TABLE.insert()
_STATE_KEYS = tuple(column.key for column in ProctoringState.__table__.columns)
_STATE_IF_ABSENT: dict[str, Any] = {}


def _state_if_absent(session: Session) -> Any:
    """INSERT a state ... ON CONFLICT DO NOTHING RETURNING its id (a row back: it was inserted), per dialect."""
    dialect = session.get_bind().dialect.name
    stmt = _STATE_IF_ABSENT.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        table = ProctoringState.__table__
        stmt = _STATE_IF_ABSENT[dialect] = (upsert(table).on_conflict_do_nothing(index_elements=[table.c.session_id])
                                            .returning(table.c.session_id))
    return stmt


def scan_attempt(session: Session, session_id: str, *, now: datetime) -> Effects | None:
    """Run the server-side rules for one attempt (the periodic job and tests)."""
    attempt = session_services.load_attempt(session, session_id, lock=True)
    policy = policy_for_version(session, attempt.exam_version_id)
    if not policy.is_recording or attempt.status in CLOSED:
        return None
    effects = _scan(session, attempt, _state(session, attempt, now), policy, now)
    session.flush()
    return effects


def attempts_to_scan(session: Session, *, now: datetime) -> list[str]:
    """Open attempts with log entries not yet looked at, or possibly idle (one query, no locks)."""
    rows = session.execute(
        select(ExamSession.id, ExamSession.exam_version_id, ExamSession.log_length, ExamSession.status,
               ExamSession.is_connected, ProctoringState.log_idx, ProctoringState.last_activity_at, ProctoringState.is_idle)
        .outerjoin(ProctoringState, ProctoringState.session_id == ExamSession.id)
        .where(ExamSession.status.in_((Status.IN_PROGRESS.value, Status.PAUSED.value)))).all()
    policies: dict[int, pol.Policy] = {}
    out = []
    for sid, version_id, length, status, connected, log_idx, last_at, idle in rows:
        if version_id not in policies:
            policies[version_id] = policy_for_version(session, version_id)
        policy = policies[version_id]
        if not policy.is_recording:
            continue
        if log_idx is None and length <= 1:
            # Started, never joined: the lone `start` entry has nothing to observe, and the first join makes
            # the state in the same statement as its own entries (scanning here would make the join take the
            # general path; in a start storm, for hundreds of attempts between their start and their join).
            continue
        if log_idx is None or length > log_idx:
            out.append(sid)
        elif (policy["inactivity_s"] and not idle and status == Status.IN_PROGRESS.value and connected
              and last_at is not None and (now - last_at).total_seconds() > policy["inactivity_s"]):
            out.append(sid)
    return out


class AnsweredAttempt(NamedTuple):
    """What an answer batch wrote for one attempt: its log before and after, its new `answer` entries, and
    its rule state as the batch's locking read found it (`STATE_COLUMNS`: all None when it has none)."""

    session_id: str
    exam_version_id: int
    log_length_before: int
    log_length: int
    #: (item id, pinned item version id, time) of each `answer` entry the batch appended, in log order.
    answers: list[tuple[int, int, datetime]]
    state_log_idx: int | None
    state_answered: list | None
    state_last_activity_at: datetime | None
    state_counts: dict | None = None


class StateMove(NamedTuple):
    """A rule state the answer batch moves past its answers (`state_moves`), and the signals to record with it."""

    session_id: str
    #: The state's log position the batch found (the write is guarded by it: a scan in between wins).
    log_from: int
    answered: list
    last_activity_at: datetime
    #: The counts, with the batch's fast answers in them (unchanged when `fast_answers` is empty).
    counts: dict
    #: The `detail` of each `fast_answer` signal to record, in order: a signal row and a `signal` log entry each,
    #: appended after the batch's answers (as the scan appends its own), timed at the attempt's last answer.
    fast_answers: list[dict]


#: The rule states' table, and the columns an answer batch reads from it with its attempts (an outer join on
#: the attempt's id), in the order of `AnsweredAttempt`'s last four fields.
STATES = _STATE_TABLE
STATE_COLUMNS = (_STATE_TABLE.c.log_idx.label("st_log_idx"), _STATE_TABLE.c.answered_items.label("st_answered"),
                 _STATE_TABLE.c.last_activity_at.label("st_last_at"), _STATE_TABLE.c.counts.label("st_counts"))
#: One state moved (parameters from `StateMove`); the log position guards against a scan in between. Counts are
#: written as the batch found them or with its fast answers (it holds the attempt's row lock, as every writer
#: of a state does); `updated_at` moves only with the counts.
ADVANCE_STATE = (update(_STATE_TABLE)
                 .where(_STATE_TABLE.c.session_id == bindparam("b_sid"), _STATE_TABLE.c.log_idx == bindparam("b_from"))
                 .values(log_idx=bindparam("b_to"), answered_items=bindparam("b_items", type_=_STATE_TABLE.c.answered_items.type),
                         last_activity_at=bindparam("b_at", type_=_STATE_TABLE.c.last_activity_at.type), is_idle=False,
                         counts=bindparam("b_counts", type_=_STATE_TABLE.c.counts.type),
                         updated_at=func.coalesce(bindparam("b_updated", type_=_STATE_TABLE.c.updated_at.type),
                                                  _STATE_TABLE.c.updated_at)))
#: The fast-answer signals a batch records (`fast_answer_row`).
SIGNALS = ProctoringSignal.__table__


def fast_answer_row(session_id: str, detail: dict, at: datetime) -> dict:
    """The `proctoring_signals` row (without its id) of a fast answer the batch records, as `_observe` writes it."""
    return {"session_id": session_id, "kind": "fast_answer", "source": "server", "client_at": None, "at": at,
            "seq": None, "detail": detail}


def signal_entry(signal_id: int, kind: str, source: str, client_at: datetime | None = None,
                 seq: int | None = None) -> dict:
    """The data of the `signal` log entry that names a signal (every writer of one uses this).

    The chained log keeps kind and times only: purging the details later leaves the chain intact.
    """
    data: dict[str, Any] = {"signal_id": signal_id, "kind": kind, "source": source}
    if client_at is not None:
        data["client_at"] = client_at
    if seq is not None:
        data["seq"] = seq
    return data


def state_moves(conn: Connection, attempts: list[AnsweredAttempt]) -> list[StateMove]:
    """The scan's work on answers, done by the answer batch: the rule states to move and fast answers to record.

    With a thousand learners answering every few seconds, the periodic scan locked, read and wrote every
    attempt again only to move its rule state past `answer` entries, and to record the fast ones. The batch
    holds these attempts' row locks (like every writer of a rule state) and knows its entries, so it does
    that itself whenever the scan would raise nothing: the state was up to date before the batch (no other
    entry waits), and no fast answer fires a rule (`policy.evaluate` with the counts so far: only the answer
    that crosses `max_fast_answers`, or twice it, does). The state ends as `_scan` would leave it: log
    position, first-answered items, counts, last activity, not idle; each fast answer is a `fast_answer`
    signal and a `signal` log entry, as `_observe` writes them. Any other case (no state yet, entries
    waiting, a fast answer that fires a rule, a policy that records nothing) is left whole to the scan,
    which then sees the same entries.
    """
    with Session(bind=conn) as session:  # the versions' policies, cached per process (read on first use only)
        policies = {vid: policy_for_version(session, vid) for vid in {a.exam_version_id for a in attempts}}
    todo = [a for a in attempts if a.answers and a.state_log_idx == a.log_length_before
            and policies[a.exam_version_id].is_recording]
    if not todo:
        return []
    estimated = session_services.frozen_facts(conn.engine, "estimated_time_s",
                                              sorted({vid for a in todo for _, vid, _ in a.answers}),
                                              lambda ids: _estimated_times_of(conn, ids))
    moves = []
    for a in todo:
        policy = policies[a.exam_version_id]
        answered = set(a.state_answered or [])
        last_at = a.state_last_activity_at
        counts = dict(a.state_counts or {})
        fast: list[dict] = []
        for item_id, version_id, at in a.answers:
            if item_id not in answered:
                answered.add(item_id)
                dwell = (at - last_at).total_seconds() if last_at is not None else None
                if dwell is not None and pol.is_fast_answer(policy, dwell, estimated.get(version_id)):
                    counts["fast_answer"] = counts.get("fast_answer", 0) + 1
                    detail = {"item_id": item_id, "seconds": round(dwell, 3),
                              "estimated_time_s": estimated.get(version_id)}
                    if pol.evaluate(policy, "fast_answer", counts, detail):
                        break  # a rule fires (a flag, perhaps a warning or a pause): the scan's work
                    fast.append(detail)
            last_at = at
        else:
            moves.append(StateMove(a.session_id, a.log_length_before, sorted(answered, key=str), last_at, counts,
                                   fast))
    return moves


def _estimated_times_of(conn: Connection, version_ids: list) -> dict:
    rows = conn.execute(select(ItemVersion.id, ItemVersion.item_metadata).where(ItemVersion.id.in_(version_ids)))
    return {vid: (m or {}).get("estimated_time_s") for vid, m in rows}


# --- flags ---------------------------------------------------------------------------------------------

def _staff_attempt(session: Session, viewer: User, session_id: Any, *, lock: bool = False) -> ExamSession:
    attempt = session_services.load_attempt(session, session_id, lock=lock)
    if not exam_services.is_examiner_of(session, viewer, attempt.exam_id):
        raise _err("session_not_found", "no such attempt", 404)
    return attempt


def list_flags(session: Session, viewer: User, *, exam_id: int | None = None, session_id: str | None = None,
               status: str | None = None) -> list[dict]:
    """Flags of an exam or of one attempt, for its examiners; newest first."""
    stmt = select(Flag)
    if session_id is not None:
        attempt = _staff_attempt(session, viewer, session_id)
        stmt = stmt.where(Flag.session_id == attempt.id)
    elif exam_id is not None:
        if not exam_services.is_examiner_of(session, viewer, exam_id):
            raise NotFound(f"no exam {exam_id}", code="exam_not_found")
        stmt = stmt.where(Flag.exam_id == exam_id)
    else:
        raise _err("malformed_payload", "name an exam or an attempt", 422)
    if status:
        stmt = stmt.where(Flag.status == status)
    return [flag_out(f) for f in session.scalars(stmt.order_by(Flag.created_at.desc(), Flag.id.desc()))]


def count_open_flags(session: Session, attempts: list[ExamSession]) -> dict[str, int]:
    """Open flags per attempt (the examiner's row), in one query."""
    from sqlalchemy import func
    ids = [a.id for a in attempts]
    if not ids:
        return {}
    rows = session.execute(select(Flag.session_id, func.count()).where(Flag.session_id.in_(ids), Flag.status == "open")
                           .group_by(Flag.session_id))
    return dict(rows.all())


REVIEW_STATUSES = ("confirmed", "dismissed")


def review_flag(session: Session, reviewer: User, flag_id: Any, *, status: str, note: str,
                now: datetime) -> tuple[dict, Effects]:
    """Confirm or dismiss a flag with a note (an assigned examiner); logged in the attempt's chain."""
    if not isinstance(flag_id, int) or isinstance(flag_id, bool):
        raise NotFound("no such flag", code="flag_not_found")
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise NotFound("no such flag", code="flag_not_found")
    attempt = session_services.load_attempt(session, flag.session_id, lock=True)
    if not exam_services.is_examiner_of(session, reviewer, attempt.exam_id):
        raise NotFound("no such flag", code="flag_not_found")
    if status not in REVIEW_STATUSES:
        raise _err("malformed_payload", "status must be confirmed or dismissed", 422)
    if not isinstance(note, str) or not note.strip() or len(note) > 2000:
        raise _err("malformed_payload", "a review needs a `note` (1-2000 characters)", 422)
    flag.status, flag.note = status, note.strip()
    flag.reviewer_id, flag.reviewed_at, flag.updated_at = reviewer.id, now, now
    eventlog.append(session, attempt, "flag_reviewed", {"flag_id": flag.id, "rule": flag.rule, "status": status,
                                                        "note": flag.note}, at=now, actor_id=reviewer.id)
    recompute_risk(session, attempt)
    session.flush()
    out = flag_out(flag)
    effects = Effects(attempt.id, attempt.exam_id, flags=[{**out, "alert": False}], changed=True, risk=attempt.risk)
    return out, effects
