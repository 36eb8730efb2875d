"""Exam services: write, version, publish (with the assembly check), list for a caller, eligibility."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, NamedTuple

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from item_bank import services as bank_services
from item_bank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from item_bank.models import ItemVersion

from ..auth.models import User
from .assembly import check_assemblable
from .models import Exam, ExamExaminer, ExamVersion

AUTHORS = ("instructor", "admin")


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def serialise_definition(defn: dict) -> dict:
    """The definition as stored (JSON): datetimes as ISO strings, `pass` under its public name."""
    out = dict(defn)
    if "pass_policy" in out:
        out["pass"] = out.pop("pass_policy")
    for key in ("opens_at", "closes_at"):
        if isinstance(out.get(key), datetime):
            out[key] = out[key].isoformat()
    return out


def _check_sources(session: Session, user: User, defn: dict) -> None:
    """Fixed items and pool banks must be readable by the author."""
    for sec in defn["sections"]:
        for item_id in sec.get("items") or ():
            bank_services.get_item(session, user, item_id)
        for bank_id in (sec.get("pool") or {}).get("bank_ids", ()):
            bank_services.get_bank(session, user, bank_id)


def _check_policies(defn: dict) -> None:
    """Refuse a proctoring policy with unknown or out-of-range settings (instead of ignoring them)."""
    if defn.get("proctoring"):
        from ..proctoring.policy import PolicyError, validate
        try:
            validate(defn["proctoring"])
        except PolicyError as exc:
            raise ValidationFailed(f"invalid proctoring policy: {exc}", code="validation_error",
                                   details={f"proctoring.{k}": [v] for k, v in exc.problems.items()}) from None


def _apply(version: ExamVersion, defn: dict) -> None:
    version.title = defn["title"]
    version.description = defn.get("description", "")
    version.definition = defn
    version.opens_at = _dt(defn.get("opens_at"))
    version.closes_at = _dt(defn.get("closes_at"))


def create_exam(session: Session, user: User, definition: dict, *, external_id: str | None = None,
                now: datetime) -> ExamVersion:
    """A new exam (version 1, draft)."""
    if user.role not in AUTHORS:
        raise Forbidden("only instructors create exams", code="role_required")
    defn = serialise_definition(definition)
    _check_sources(session, user, defn)
    _check_policies(defn)
    exam = Exam(owner_id=user.id, latest_version=1, external_id=external_id, created_at=now)
    version = ExamVersion(version=1, status="draft", created_at=now)
    _apply(version, defn)
    exam.versions.append(version)
    session.add(exam)
    session.flush()
    return version


def get_exam(session: Session, exam_id: int) -> Exam:
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")
    return exam


def can_manage(user: User, exam: Exam) -> bool:
    return user.role == "admin" or (user.role == "instructor" and exam.owner_id == user.id)


def is_examiner_of(session: Session, user: User, exam_id: int) -> bool:
    """Admins, the exam's owner and its assigned examiners may watch and act."""
    if user.role == "admin":
        return True
    exam = session.get(Exam, exam_id)
    if exam is not None and exam.owner_id == user.id:
        return True
    return user.role == "examiner" and session.scalar(
        select(ExamExaminer.id).where(ExamExaminer.exam_id == exam_id, ExamExaminer.user_id == user.id)) is not None


def managed_exam(session: Session, user: User, exam_id: int) -> Exam:
    exam = get_exam(session, exam_id)
    if not can_manage(user, exam):
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")
    return exam


def version_of(session: Session, exam: Exam, number: int | None = None) -> ExamVersion:
    number = exam.latest_version if number is None else number
    row = session.scalar(select(ExamVersion).where(ExamVersion.exam_id == exam.id, ExamVersion.version == number))
    if row is None:
        raise NotFound(f"exam {exam.id} has no version {number}", code="version_not_found")
    return row


def list_versions(session: Session, exam: Exam) -> list[ExamVersion]:
    return list(session.scalars(select(ExamVersion).where(ExamVersion.exam_id == exam.id).order_by(ExamVersion.version)))


def update_exam(session: Session, user: User, exam_id: int, definition: dict, *, now: datetime) -> ExamVersion:
    """A draft changes in place; a published exam gets a new draft version (the published one stays frozen)."""
    exam = managed_exam(session, user, exam_id)
    defn = serialise_definition(definition)
    _check_sources(session, user, defn)
    _check_policies(defn)
    latest = version_of(session, exam)
    if latest.status == "draft":
        _apply(latest, defn)
        session.flush()
        return latest
    exam.latest_version += 1
    version = ExamVersion(exam_id=exam.id, version=exam.latest_version, status="draft", created_at=now)
    _apply(version, defn)
    session.add(version)
    session.flush()
    return version


def resolve_sections(session: Session, defn: dict) -> tuple[dict[str, list[int]], dict[int, int]]:
    """Per section, the item versions it may use now (pinned at publication), and version -> item."""
    candidates: dict[str, list[int]] = {}
    item_of: dict[int, int] = {}
    problems: dict[str, list[str]] = {}
    for sec in defn["sections"]:
        if sec.get("items"):
            versions = []
            for item_id in sec["items"]:
                newest = session.scalar(select(ItemVersion).where(ItemVersion.item_id == item_id)
                                        .where(ItemVersion.status.in_(("published", "retired")))
                                        .order_by(ItemVersion.version.desc()).limit(1))
                where = f"sections.{sec['id']}.items"
                if newest is None:
                    problems.setdefault(where, []).append(f"item {item_id} has no published version")
                elif newest.status == "retired":
                    problems.setdefault(where, []).append(f"item {item_id} is retired")
                else:
                    versions.append(newest.id)
                    item_of[newest.id] = item_id
            if len(set(sec["items"])) != len(sec["items"]):
                problems.setdefault(f"sections.{sec['id']}.items", []).append("lists an item twice")
            candidates[sec["id"]] = versions
        else:
            query = bank_services.PoolQuery.from_dict({k: v for k, v in sec["pool"].items() if v not in (None, [])})
            rows = bank_services.draw_pool(session, query)
            candidates[sec["id"]] = [v.id for v in rows]
            item_of.update({v.id: v.item_id for v in rows})
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(f"the exam cannot be assembled: {first} {problems[first][0]}",
                               code="exam_not_assemblable", details=problems)
    return candidates, item_of


def publish_exam(session: Session, user: User, exam_id: int, *, now: datetime) -> ExamVersion:
    """Freeze the latest draft after checking every learner can get a full form; pins the candidate items."""
    exam = managed_exam(session, user, exam_id)
    latest = version_of(session, exam)
    if latest.status != "draft":
        raise Conflict(f"version {latest.version} is already {latest.status}", code="not_a_draft")
    defn = dict(latest.definition)
    candidates, item_of = resolve_sections(session, defn)
    resolved: dict = {"candidates": candidates, "item_of": {str(k): v for k, v in item_of.items()}}
    if defn.get("adaptive"):
        from ..sessions.adaptive import resolve_bank
        resolved["irt"] = resolve_bank(session, defn, candidates)
    else:
        check_assemblable(defn["sections"], candidates, item_of)
    defn["resolved"] = resolved
    latest.definition = defn
    latest.status = "published"
    latest.published_at = now
    if exam.live_version is not None:
        old = version_of(session, exam, exam.live_version)
        old.status = "archived"
    exam.live_version = latest.version
    session.flush()
    return latest


def assign_examiner(session: Session, user: User, exam_id: int, examiner: User) -> None:
    exam = managed_exam(session, user, exam_id)
    if examiner.role not in ("examiner", "instructor", "admin"):
        raise ValidationFailed("only examiners (or instructors) can be assigned", code="not_an_examiner")
    exists = session.scalar(select(ExamExaminer.id).where(ExamExaminer.exam_id == exam.id, ExamExaminer.user_id == examiner.id))
    if not exists:
        session.add(ExamExaminer(exam_id=exam.id, user_id=examiner.id))
        session.flush()


def live_version(session: Session, exam: Exam) -> ExamVersion:
    if exam.live_version is None:
        raise NotFound(f"exam {exam.id} is not published", code="exam_not_found")
    return version_of(session, exam, exam.live_version)


# --- frozen versions, cached per process ---------------------------------------

@dataclass(eq=False)
class FrozenVersion:
    """What delivery reads of an exam version that can no longer change (published or archived).

    Shared by every request of the process: treat `definition` (and everything derived) as read-only.
    """

    id: int
    exam_id: int
    version: int
    title: str
    definition: dict
    opens_at: datetime | None
    closes_at: datetime | None
    _derived: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, row: ExamVersion) -> FrozenVersion:
        return cls(id=row.id, exam_id=row.exam_id, version=row.version, title=row.title,
                   definition=row.definition, opens_at=row.opens_at, closes_at=row.closes_at)

    def derived(self, key: str, compute: Callable[[FrozenVersion], Any]) -> Any:
        """A value computed once from this version (item map, proctoring policy and notice...)."""
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]


#: Per engine (so per app and database), bounded: exam version id -> FrozenVersion (never drafts).
_FROZEN_VERSIONS: "weakref.WeakKeyDictionary[Any, dict[int, FrozenVersion]]" = weakref.WeakKeyDictionary()
_MAX_FROZEN_VERSIONS = 2_000


def frozen_version(session: Session, version_id: int) -> FrozenVersion:
    """An exam version's definition and window, read once per process when it is frozen (drafts every time)."""
    # Per engine, whether the session is bound to the engine or to one of its connections.
    cache = _FROZEN_VERSIONS.setdefault(session.get_bind().engine, {})
    hit = cache.get(version_id)
    if hit is not None:
        return hit
    row = session.get(ExamVersion, version_id)
    if row is None:
        raise NotFound(f"no exam version {version_id}", code="version_not_found")
    out = FrozenVersion.of(row)
    if row.status != "draft":  # published and archived versions never change again
        if len(cache) >= _MAX_FROZEN_VERSIONS:
            cache.clear()
        cache[version_id] = out
    return out


@dataclass(frozen=True)
class _AttemptRow:
    id: str
    status: str
    submitted_at: datetime | None


class StartFacts(NamedTuple):
    """What starting an attempt reads, in one round trip (`start_facts`)."""

    #: The caller's account: (role, accommodations), or None when it is disabled or gone.
    account: tuple[str, dict | None] | None
    exam_id: int | None
    #: The exam's live version (cached), or None when it has none (or there is no such exam).
    version: FrozenVersion | None
    #: The learner's attempts of this exam, as (id, status, submitted_at) rows as `learner_standing` reads them.
    attempts: list


#: The statements of `start_facts` (one learner) and `start_facts_many`, built once on first use (building a
#: select costs more than running it).
_START_FACTS: dict[bool, Any] = {}


def _start_facts_statement(many: bool) -> Any:
    stmt = _START_FACTS.get(many)
    if stmt is None:
        from sqlalchemy import Integer, any_
        from sqlalchemy.dialects.postgresql import ARRAY

        from ..sessions.models import ExamSession

        user, exam, version, attempt = (User.__table__.c, Exam.__table__.c, ExamVersion.__table__.c,
                                        ExamSession.__table__.c)
        if many:  # arrays: the same text for any number of learners (prepared once by psycopg)
            user_is = user.id == any_(bindparam("user_ids", type_=ARRAY(Integer)))
            exam_is = exam.id == any_(bindparam("exam_ids", type_=ARRAY(Integer)))
        else:
            user_is, exam_is = user.id == bindparam("user_id"), exam.id == bindparam("exam_id")
        stmt = _START_FACTS[many] = (
            select(user.role, user.accommodations, user.is_active, exam.id, exam.live_version, version.id,
                   attempt.id, attempt.status, attempt.submitted_at, user.id)
            .select_from(User.__table__)
            .outerjoin(Exam.__table__, exam_is)
            .outerjoin(ExamVersion.__table__, and_(version.exam_id == exam.id, version.version == exam.live_version))
            .outerjoin(ExamSession.__table__, and_(attempt.exam_id == exam.id, attempt.user_id == user.id))
            .where(user_is))
    return stmt


def start_facts(session: Session, user_id: int, exam_id: int) -> StartFacts:
    """For starting an attempt, in one round trip: the account, the exam, its live version and the attempts.

    Core columns from the tables (no ORM entity to load): the account is read here rather than before (a
    `start` event is one statement shorter), so a disabled account is found here too.
    """
    rows = session.connection().execute(_start_facts_statement(False), {"exam_id": exam_id, "user_id": user_id}).all()
    return _start_facts(session, rows, rows)


def start_facts_many(session: Session, starts: list[tuple[int, int]]) -> Callable[[int, int], StartFacts]:
    """`start_facts` of many (user id, exam id) pairs in one round trip (PostgreSQL: arrays).

    Returns facts(user_id, exam_id) -> StartFacts for each pair (which raises as `start_facts` would).
    """
    users, exams = sorted({u for u, _ in starts}), sorted({e for _, e in starts})
    by_user: dict[int, list] = {}
    for row in session.connection().execute(_start_facts_statement(True), {"user_ids": users, "exam_ids": exams}):
        by_user.setdefault(row[9], []).append(row)

    def facts(user_id: int, exam_id: int) -> StartFacts:
        rows = by_user.get(user_id, [])
        return _start_facts(session, rows, [row for row in rows if row[3] == exam_id])
    return facts


def _start_facts(session: Session, account_rows: list, rows: list) -> StartFacts:
    """StartFacts from the rows of one learner (`account_rows`) and of the exam they start (`rows`)."""
    if not account_rows or not account_rows[0][2]:
        return StartFacts(None, None, None, [])
    account = (account_rows[0][0], account_rows[0][1])
    first = rows[0] if rows else None
    if first is None or first[3] is None or first[4] is None:
        return StartFacts(account, None if first is None else first[3], None, [])
    found_id, live, version_id = first[3], first[4], first[5]
    if version_id is None:
        raise NotFound(f"exam {found_id} has no version {live}", code="version_not_found")
    attempts = [_AttemptRow(r[6], r[7], r[8]) for r in rows if r[6] is not None]
    return StartFacts(account, found_id, frozen_version(session, version_id), attempts)


def window_state(defn: dict, now: datetime) -> str | None:
    """None when open; else `exam_not_open` or `exam_closed`."""
    opens, closes = _dt(defn.get("opens_at")), _dt(defn.get("closes_at"))
    if opens and now < opens:
        return "exam_not_open"
    if closes and now >= closes:
        return "exam_closed"
    return None


def learner_standing(session: Session, user: User, exam: Exam | None, version: ExamVersion | FrozenVersion,
                     now: datetime, *, rows: list | None = None) -> dict:
    """Attempts used and left, the open attempt, and whether (or why not) the learner can start now.

    `rows`: the learner's attempts of this exam as (id, status, submitted_at), when already read (then
    `exam` is not needed).
    """
    from ..sessions.models import ExamSession
    from ..sessions.statuses import OPEN

    defn = version.definition
    if rows is None:
        rows = session.execute(select(ExamSession.id, ExamSession.status, ExamSession.submitted_at)
                               .where(ExamSession.exam_id == exam.id, ExamSession.user_id == user.id)).all()
    used = len(rows)
    active = next((r.id for r in rows if r.status in OPEN), None)
    max_attempts = defn.get("max_attempts")
    left = None if max_attempts is None else max(0, max_attempts - used)
    reason, retry_after = None, None
    if active is None:
        reason = window_state(defn, now)
        if reason is None and left == 0:
            reason = "no_attempts_left"
        if reason is None and defn.get("cooldown_s"):
            last = max((r.submitted_at for r in rows if r.submitted_at), default=None)
            if last is not None and last + timedelta(seconds=defn["cooldown_s"]) > now:
                reason = "cooldown"
                retry_after = (last + timedelta(seconds=defn["cooldown_s"]) - now).total_seconds()
    return {"attempts_used": used, "attempts_left": left, "active_session_id": active,
            "can_start": reason is None, "cannot_start_reason": reason, "retry_after_s": retry_after}


def list_exams(session: Session, user: User, *, now: datetime, page: int, per_page: int,
               q: str | None = None) -> tuple[list[dict], int]:
    """What the caller may take (learners: published exams) or manage (authors, examiners, admins)."""
    stmt = select(Exam)
    if user.role == "learner":
        stmt = stmt.where(Exam.live_version.is_not(None))
    elif user.role == "instructor":
        stmt = stmt.where(Exam.owner_id == user.id)
    elif user.role == "examiner":
        stmt = stmt.where(Exam.id.in_(select(ExamExaminer.exam_id).where(ExamExaminer.user_id == user.id)))
    if q:
        stmt = stmt.where(Exam.id.in_(select(ExamVersion.exam_id).where(func.lower(ExamVersion.title).contains(q.lower()))))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    exams = session.scalars(stmt.order_by(Exam.id).offset((page - 1) * per_page).limit(per_page)).all()
    return [exam_out(session, user, e, now=now) for e in exams], total


def exam_out(session: Session, user: User, exam: Exam, *, now: datetime, version: ExamVersion | None = None) -> dict:
    """An exam as the caller may see it: learners get the live version and their standing; authors the definition."""
    manage = can_manage(user, exam)
    if version is None:
        version = version_of(session, exam) if manage else live_version(session, exam)
    defn = version.definition
    n_items = sum(len(s.get("items") or []) or (s.get("draw") or 0) for s in defn["sections"])
    out = {"id": exam.id, "version": version.version, "latest_version": exam.latest_version,
           "live_version": exam.live_version, "status": version.status, "title": version.title,
           "description": version.description, "owner_id": exam.owner_id, "time_limit_s": defn.get("time_limit_s"),
           "opens_at": version.opens_at, "closes_at": version.closes_at, "max_attempts": defn.get("max_attempts"),
           "navigation": defn.get("navigation", "free"), "presentation": defn.get("presentation", "one_at_a_time"),
           "n_items": n_items, "is_open": window_state(defn, now) is None, "published_at": version.published_at}
    if user.role == "learner":
        out.update(learner_standing(session, user, exam, version, now))
        out.pop("retry_after_s", None)
    if manage:
        out["definition"] = {k: v for k, v in defn.items() if k != "resolved"}
    return out
