"""After (and during) the exam: the report of an attempt, the exam summary, collusion screening,
webcam snapshots with consent, and the retention purge.

Everything here is for the exam's examiners (and admins, and the exam's
owner) except consent and snapshot upload, which are the learner's own.
Another learner, or an examiner of another exam, gets the same 404 as for
an attempt that does not exist.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from item_bank.errors import NotFound, RateLimited

from ..auth.models import User
from ..exams import services as exam_services
from ..sessions import eventlog
from ..sessions import services as session_services
from ..sessions.models import ExamSession, SessionEvent, SessionResponse
from ..sessions.statuses import CLOSED
from . import collusion
from .models import Flag, ProctoringSignal, ProctoringState, Snapshot
from .services import _err, _staff_attempt, _state, flag_out, policy_for_version


def _signal_out(s: ProctoringSignal) -> dict:
    return {"id": s.id, "kind": s.kind, "source": s.source, "at": s.at.isoformat(),
            "client_at": s.client_at.isoformat() if s.client_at else None, "seq": s.seq, "detail": s.detail}


#: Log entry kind -> timeline category.
_CATEGORY = {"signal": "signal", "second_connection": "signal", "ip_change": "signal", "flag_raised": "flag",
             "flag_reviewed": "flag", "proctoring_warning": "action", "auto_pause": "action",
             "examiner_action": "action", "answer": "answer", "flag": "navigation", "navigate": "navigation",
             "snapshot": "snapshot", "proctoring_consent": "consent"}


def attempt_report(session: Session, viewer: User, session_id: Any, *, now: datetime) -> dict:
    """An attempt's proctoring report: the timeline from the hash-chained log, signals, flags, chain check."""
    attempt = _staff_attempt(session, viewer, session_id)
    policy = policy_for_version(session, attempt.exam_version_id)
    entries = session.scalars(select(SessionEvent).where(SessionEvent.session_id == attempt.id)
                              .order_by(SessionEvent.idx)).all()
    chain = eventlog.verify_entries(entries, attempt.log_head)
    signals = session.scalars(select(ProctoringSignal).where(ProctoringSignal.session_id == attempt.id)
                              .order_by(ProctoringSignal.at, ProctoringSignal.id)).all()
    by_id = {s.id: s for s in signals}
    flags = session.scalars(select(Flag).where(Flag.session_id == attempt.id).order_by(Flag.created_at, Flag.id)).all()
    actors = {u.id: u for u in session.scalars(select(User).where(User.id.in_({e.actor_id for e in entries if e.actor_id})))}
    timeline = []
    for e in entries:
        row = {"idx": e.idx, "at": e.at.isoformat(), "kind": e.kind, "category": _CATEGORY.get(e.kind, "delivery"),
               "actor": _actor(actors.get(e.actor_id), attempt), "data": e.data, "hash": e.hash}
        if e.kind == "signal":
            sig = by_id.get((e.data or {}).get("signal_id"))
            row["detail"] = sig.detail if sig else None  # None once purged
        timeline.append(row)
    state = session.get(ProctoringState, attempt.id)
    learner = session.get(User, attempt.user_id)
    snaps = session.execute(select(Snapshot.id, Snapshot.at, Snapshot.size, Snapshot.content_type)
                            .where(Snapshot.session_id == attempt.id).order_by(Snapshot.at)).all()
    summary = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in session_services.summary(attempt, now).items()}
    return {"session": {**summary, "learner": learner.name if learner else "",
                        "email": learner.email if learner else "", "risk": attempt.risk},
            "policy": {"level": policy.level, "settings": dict(policy.settings)},
            "counts": dict(state.counts) if state else {},
            "flags": [flag_out(f) for f in flags], "signals": [_signal_out(s) for s in signals],
            "snapshots": [{"id": i, "at": at.isoformat(), "size": size, "content_type": ct} for i, at, size, ct in snaps],
            "timeline": timeline,
            "chain": {"ok": chain.ok, "length": chain.length, "head": chain.head, "first_bad_idx": chain.first_bad_idx,
                      "reason": chain.reason}}


def _actor(user: User | None, attempt: ExamSession) -> dict | None:
    if user is None:
        return None  # the system
    role = "learner" if user.id == attempt.user_id else user.role
    return {"id": user.id, "name": user.name, "role": role}


def exam_summary(session: Session, viewer: User, exam_id: int, *, now: datetime) -> dict:
    """Per exam: attempts by risk, flags per rule and status, signals per kind."""
    if not exam_services.is_examiner_of(session, viewer, exam_id):
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")
    attempts = session.scalars(select(ExamSession).where(ExamSession.exam_id == exam_id)).all()
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({a.user_id for a in attempts})))} \
        if attempts else {}
    flag_rows = session.execute(select(Flag.session_id, Flag.rule, Flag.status, Flag.severity)
                                .where(Flag.exam_id == exam_id)).all()
    per_attempt: dict[str, dict[str, int]] = {}
    by_rule: dict[str, dict[str, int]] = {}
    for sid, rule, status, _sev in flag_rows:
        per_attempt.setdefault(sid, {"open": 0, "confirmed": 0, "dismissed": 0})[status] += 1
        by_rule.setdefault(rule, {"open": 0, "confirmed": 0, "dismissed": 0})[status] += 1
    signal_rows = session.execute(select(ProctoringSignal.kind, func.count()).join(
        ExamSession, ExamSession.id == ProctoringSignal.session_id).where(ExamSession.exam_id == exam_id)
        .group_by(ProctoringSignal.kind)).all()
    rows = []
    for a in sorted(attempts, key=lambda a: (-a.risk, a.started_at)):
        u = users.get(a.user_id)
        rows.append({"session_id": a.id, "user_id": a.user_id, "learner": u.name if u else "",
                     "email": u.email if u else "", "status": a.status, "risk": a.risk,
                     "flags": per_attempt.get(a.id, {"open": 0, "confirmed": 0, "dismissed": 0}),
                     "percentage": a.percentage, "disconnected_total_s": round(a.disconnected_total_s, 1)})
    risks = sorted(a.risk for a in attempts)
    return {"exam_id": exam_id, "attempts": len(attempts),
            "flagged_attempts": sum(1 for r in rows if sum(r["flags"].values()) > 0),
            "open_flags": sum(v["open"] for v in by_rule.values()),
            "median_risk": risks[len(risks) // 2] if risks else 0.0, "max_risk": risks[-1] if risks else 0.0,
            "flags_by_rule": by_rule, "signals_by_kind": dict(signal_rows), "sessions": rows}


# --- collusion screening -----------------------------------------------------------------------------

def collusion_screening(session: Session, viewer: User, exam_id: int, *, alpha: float = 0.05,
                        min_identical: int = 3) -> dict:
    """Pairs of scored attempts with improbably many identical wrong answers, with the evidence."""
    if not exam_services.is_examiner_of(session, viewer, exam_id):
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")
    attempts = session.scalars(select(ExamSession).where(ExamSession.exam_id == exam_id,
                                                         ExamSession.result.is_not(None))).all()
    ids = [a.id for a in attempts]
    responses: dict[str, dict[int, Any]] = {}
    if ids:
        for sid, item_id, response in session.execute(select(SessionResponse.session_id, SessionResponse.item_id,
                                                             SessionResponse.response)
                                                      .where(SessionResponse.session_id.in_(ids))):
            responses.setdefault(sid, {})[item_id] = response
    records = []
    for a in attempts:
        scores = (a.result or {}).get("items", {})
        answers = {}
        for entry in a.form:
            item_id = entry["item_id"]
            response = responses.get(a.id, {}).get(item_id)
            key = None if response is None else json.dumps(response, sort_keys=True, separators=(",", ":"))
            answers[item_id] = (key, bool((scores.get(str(item_id)) or {}).get("is_correct")))
        records.append(collusion.AttemptAnswers(a.id, answers))
    pairs = collusion.screen(records, alpha=alpha, min_identical=min_identical)
    users = {a.id: a.user_id for a in attempts}
    names = {u.id: u.name or u.email for u in session.scalars(select(User).where(User.id.in_(set(users.values()))))} \
        if users else {}
    out = []
    for p in pairs:
        d = p.to_dict()
        for e in d["items"]:
            e["response"] = json.loads(e["response"])
        d["learners"] = {p.a: names.get(users[p.a]), p.b: names.get(users[p.b])}
        out.append(d)
    n = len(records)
    return {"exam_id": exam_id, "attempts": n, "tests": n * (n - 1), "alpha": alpha, "min_identical": min_identical,
            "method": {"index": "K-index (Holland 1996), regression form K1 (Sotaridona & Meijer 2002)",
                       "secondary": "error-similarity analysis (Bellezza & Bellezza 1989)",
                       "correction": "Bonferroni over both directions of every pair"},
            "pairs": out}


# --- consent and webcam snapshots ------------------------------------------------------------------

MAX_SNAPSHOT_BYTES = 512 * 1024
_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",)}


def record_consent(session: Session, user: User, session_id: Any, *, now: datetime) -> dict:
    """The learner accepts the proctoring notice (needed before webcam snapshots)."""
    attempt = session_services.learner_attempt(session, user, session_id, lock=True)
    policy = policy_for_version(session, attempt.exam_version_id)
    state = _state(session, attempt, now)
    if state.consented_at is None:
        state.consented_at = now
        eventlog.append(session, attempt, "proctoring_consent", {"level": policy.level,
                                                                 "webcam": policy["snapshot_interval_s"] is not None},
                        at=now, actor_id=user.id)
    session.flush()
    return {"session_id": attempt.id, "consented_at": state.consented_at.isoformat(), "level": policy.level}


def store_snapshot(session: Session, user: User, session_id: Any, *, content_type: str, data: bytes,
                   now: datetime) -> dict:
    """Store a webcam image of the learner's own open attempt (consent given, policy asks for them)."""
    attempt = session_services.learner_attempt(session, user, session_id, lock=True)
    policy = policy_for_version(session, attempt.exam_version_id)
    interval = policy["snapshot_interval_s"] if policy.is_recording else None
    if interval is None:
        raise _err("snapshots_disabled", "this exam does not take webcam snapshots")
    if attempt.status in CLOSED:
        raise _err("session_closed", f"the attempt is already {attempt.status}")
    state = _state(session, attempt, now)
    if state.consented_at is None:
        raise _err("consent_required", "accept the proctoring notice first (POST .../proctoring/consent)", 403)
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in _MAGIC:
        raise _err("snapshot_type", "snapshots are image/jpeg, image/png or image/webp", 415)
    if not data:
        raise _err("snapshot_empty", "the snapshot is empty", 422)
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise _err("snapshot_too_large", f"snapshots are limited to {MAX_SNAPSHOT_BYTES} bytes", 413)
    if not data.startswith(_MAGIC[content_type]) or (content_type == "image/webp" and data[8:12] != b"WEBP"):
        raise _err("snapshot_type", f"the bytes are not {content_type}", 415)
    if state.last_snapshot_at is not None and (now - state.last_snapshot_at).total_seconds() < interval / 2:
        raise RateLimited(f"at most one snapshot every {interval / 2:g} s", code="rate_limited",
                          details={"retry_after_s": interval / 2})
    snap = Snapshot(session_id=attempt.id, at=now, content_type=content_type, size=len(data), data=data)
    session.add(snap)
    session.flush()
    state.last_snapshot_at = now
    eventlog.append(session, attempt, "snapshot", {"snapshot_id": snap.id, "size": len(data),
                                                   "sha256": hashlib.sha256(data).hexdigest()},
                    at=now, actor_id=user.id)
    session.flush()
    return {"id": snap.id, "session_id": attempt.id, "at": now.isoformat(), "size": snap.size,
            "content_type": content_type}


def list_snapshots(session: Session, viewer: User, session_id: Any) -> list[dict]:
    attempt = _staff_attempt(session, viewer, session_id)
    rows = session.execute(select(Snapshot.id, Snapshot.at, Snapshot.size, Snapshot.content_type)
                           .where(Snapshot.session_id == attempt.id).order_by(Snapshot.at)).all()
    return [{"id": i, "session_id": attempt.id, "at": at.isoformat(), "size": size, "content_type": ct}
            for i, at, size, ct in rows]


def snapshot_image(session: Session, viewer: User, snapshot_id: int) -> tuple[str, bytes]:
    """(content type, bytes) of a snapshot, for the exam's examiners."""
    snap = session.get(Snapshot, snapshot_id)
    if snap is None:
        raise NotFound("no such snapshot", code="snapshot_not_found")
    attempt = session_services.load_attempt(session, snap.session_id)
    if not exam_services.is_examiner_of(session, viewer, attempt.exam_id):
        raise NotFound("no such snapshot", code="snapshot_not_found")
    return snap.content_type, snap.data


# --- retention ---------------------------------------------------------------------------------------------

def purge(session: Session, *, now: datetime, dry_run: bool = False) -> dict:
    """Delete signals and snapshots of closed attempts older than their exam's retention period."""
    rows = session.execute(select(ExamSession.id, ExamSession.exam_version_id, ExamSession.submitted_at,
                                  ExamSession.started_at).where(ExamSession.status.in_(CLOSED))).all()
    retention: dict[int, int] = {}
    due = []
    for sid, version_id, submitted_at, started_at in rows:
        if version_id not in retention:
            retention[version_id] = policy_for_version(session, version_id)["retention_days"]
        if (submitted_at or started_at) + timedelta(days=retention[version_id]) <= now:
            due.append(sid)
    counts = {"attempts": 0, "signals": 0, "snapshots": 0}
    for i in range(0, len(due), 500):
        chunk = due[i:i + 500]
        n_sig = session.scalar(select(func.count()).select_from(ProctoringSignal).where(ProctoringSignal.session_id.in_(chunk)))
        n_snap = session.scalar(select(func.count()).select_from(Snapshot).where(Snapshot.session_id.in_(chunk)))
        if n_sig or n_snap:
            counts["attempts"] += len(set(session.scalars(select(ProctoringSignal.session_id).where(
                ProctoringSignal.session_id.in_(chunk))).all()) | set(session.scalars(select(Snapshot.session_id).where(
                    Snapshot.session_id.in_(chunk))).all()))
        counts["signals"] += n_sig
        counts["snapshots"] += n_snap
        if not dry_run:
            session.execute(delete(ProctoringSignal).where(ProctoringSignal.session_id.in_(chunk)))
            session.execute(delete(Snapshot).where(Snapshot.session_id.in_(chunk)))
    session.flush()
    return counts
