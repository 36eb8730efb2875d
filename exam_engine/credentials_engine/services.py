"""Credential services: achievements, issuing on a pass (outbox, signing, pathways), revocation, status lists,
the wallet and verification.

The pure library `credentials` builds, signs and verifies; these functions decide
what to issue, store it and publish it. They flush; the caller (request, job, CLI)
commits once.

Issuing survives a crash between the pass and the signature: the `AFTER_SCORE`
hook writes a `pending` row in the scoring transaction, then signs it inside a
savepoint; if signing fails (no key yet, a bug, a crash before commit loses
both), the row stays pending and `issue_pending` (a background job and a CLI
command) signs it later. The row's id is derived from (attempt, achievement), so a
replayed or rescored pass finds it instead of issuing twice.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credentials import Achievement as AchievementData
from credentials import Alignment, Evidence, KeyRing, build_credential, issue_credential, issuer_profile
from credentials import verify as verify_module
from credentials.issue import issuer_profile_document, sign_data_integrity
from credentials.model import hash_identity, status_list_entry
from credentials.pathways import (HeldCredential, PathwayAward, PathwayError, PathwayRule, component_evidence,
                                  newly_earned, resolve_pending, revocation_cascade)
from credentials.status_list import MIN_ENTRIES, Bitstring, allocate_index, build_status_list_credential
from item_bank.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed

from ..auth.models import User
from ..exams.models import Exam, ExamVersion
from .keys import NoIssuerKey, signing_key_for
from .models import Achievement, IssuedCredential, StatusList

log = logging.getLogger("exam_engine.credentials")

#: Namespace of our credential ids: urn:uuid:<uuid5(NAMESPACE, idempotency key)>.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/exam-engine/credentials")
STAFF = ("instructor", "admin")


class CredentialError(DomainError):
    """A refused credential operation."""

    status = 409


@dataclass(frozen=True)
class IssuerContext:
    """Who issues and where things are published: the public base URL, the issuer's name, its keys."""

    public_url: str
    name: str
    ring_loader: Callable[[], KeyRing | None]

    def ring(self) -> KeyRing:
        ring = self.ring_loader()
        if ring is None:
            raise NoIssuerKey("no issuer key is configured: run `exam-engine keys generate`")
        return ring

    def achievement_url(self, achievement_id: int) -> str:
        return f"{self.public_url}/achievements/{achievement_id}"

    def status_url(self, list_id: int) -> str:
        return f"{self.public_url}/status/{list_id}"

    def credential_url(self, credential_id: str) -> str:
        return f"{self.public_url}/credentials/{credential_id}"

    def attempt_url(self, session_id: str) -> str:
        return f"{self.public_url}/sessions/{session_id}"

    def profile(self, ring: KeyRing | None = None):  # noqa: ANN201
        return issuer_profile(ring or self.ring(), self.name, url=self.public_url)


def issuer_context(app) -> IssuerContext:  # noqa: ANN001
    """The context of one app (PUBLIC_URL, ISSUER_NAME or EXAM_ENGINE_ISSUER_NAME, the key ring)."""
    from .keys import load_ring
    name = app.config.get("ISSUER_NAME") or os.environ.get("EXAM_ENGINE_ISSUER_NAME") or "Exam Engine"
    return IssuerContext(public_url=app.config["PUBLIC_URL"].rstrip("/"), name=name,
                         ring_loader=lambda: load_ring(app))


def credential_urn(key: str) -> str:
    """The deterministic credential id for an idempotency key."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, key)}"


def normalise_credential_id(value: str) -> str:
    """Accept 'urn:uuid:<uuid>' or the bare uuid (as in URLs)."""
    text = (value or "").strip()
    bare = text[len("urn:uuid:"):] if text.lower().startswith("urn:uuid:") else text
    try:
        return f"urn:uuid:{uuid.UUID(bare)}"
    except ValueError:
        raise NotFound("no such credential", code="credential_not_found") from None


# --- achievements ---------------------------------------------------------------------------------

ACHIEVEMENT_FIELDS = ("name", "description", "criteria", "criteria_url", "image", "achievement_type", "credits",
                      "credit_framework", "level", "field_of_study", "alignments", "pathway")


def _can_edit(user: User, achievement: Achievement) -> bool:
    return user.role == "admin" or (user.role == "instructor" and achievement.owner_id == user.id)


def _check_pathway(session: Session, pathway: dict | None, self_id: int | None) -> dict | None:
    """A pathway rule whose components exist, with a sane k and no cycle."""
    if not pathway:
        return None
    components = list(pathway["components"])
    found = set(session.scalars(select(Achievement.id).where(Achievement.id.in_(components))))
    missing = [c for c in components if c not in found]
    if missing:
        raise ValidationFailed(f"unknown component achievements {missing}", code="unknown_component",
                               details={"pathway": {"components": [f"no achievement {m}" for m in missing]}})
    rule = {"components": components, "required": pathway.get("required"), "min_credits": pathway.get("min_credits")}
    rules = [_rule(a.id, a.pathway, a.credits) for a in session.scalars(select(Achievement)) if a.pathway
             and a.id != self_id]
    try:
        rules.append(_rule(self_id or 0, rule, None))
        newly_earned(rules, [])  # refuses a cycle
    except PathwayError as exc:
        raise ValidationFailed(str(exc), code="pathway_invalid", details={"pathway": [str(exc)]}) from None
    return rule


def _rule(achievement_id: int, pathway: dict, credits: float | None) -> PathwayRule:
    return PathwayRule(str(achievement_id), [str(c) for c in pathway["components"]], pathway.get("required"),
                       pathway.get("min_credits"), credits)


def create_achievement(session: Session, user: User, data: dict, *, now: datetime) -> Achievement:
    """A new achievement owned by the calling instructor."""
    if user.role not in STAFF:
        raise Forbidden("only instructors define achievements", code="role_required")
    values = {k: data.get(k) for k in ACHIEVEMENT_FIELDS}
    values["alignments"] = values["alignments"] or []
    achievement = Achievement(owner_id=user.id, created_at=now, updated_at=now,
                              **{k: v for k, v in values.items() if k != "pathway"})
    session.add(achievement)
    session.flush()
    achievement.pathway = _check_pathway(session, data.get("pathway"), achievement.id)
    session.flush()
    return achievement


def get_achievement(session: Session, achievement_id: int) -> Achievement:
    achievement = session.get(Achievement, achievement_id)
    if achievement is None:
        raise NotFound(f"no achievement {achievement_id}", code="achievement_not_found")
    return achievement


def managed_achievement(session: Session, user: User, achievement_id: int) -> Achievement:
    """An achievement the caller may edit; someone else's answers like a missing one."""
    achievement = get_achievement(session, achievement_id)
    if not _can_edit(user, achievement):
        raise NotFound(f"no achievement {achievement_id}", code="achievement_not_found")
    return achievement


def update_achievement(session: Session, user: User, achievement_id: int, data: dict, *, now: datetime) -> Achievement:
    """Replace an achievement's definition (credentials already issued keep what they state)."""
    achievement = managed_achievement(session, user, achievement_id)
    for key in ACHIEVEMENT_FIELDS:
        if key != "pathway":
            setattr(achievement, key, data.get(key) if key != "alignments" else (data.get(key) or []))
    achievement.pathway = _check_pathway(session, data.get("pathway"), achievement.id)
    achievement.updated_at = now
    session.flush()
    return achievement


def delete_achievement(session: Session, user: User, achievement_id: int) -> None:
    """Delete an achievement nobody holds and no pathway lists."""
    achievement = managed_achievement(session, user, achievement_id)
    if session.scalar(select(IssuedCredential.id).where(IssuedCredential.achievement_id == achievement.id).limit(1)):
        raise Conflict("credentials were issued for this achievement: it cannot be deleted", code="achievement_in_use")
    for other in session.scalars(select(Achievement).where(Achievement.id != achievement.id)):
        if other.pathway and achievement.id in other.pathway["components"]:
            raise Conflict(f"achievement {other.id} lists it in its pathway", code="achievement_in_use")
    session.delete(achievement)
    session.flush()


def list_achievements(session: Session, user: User, *, owner_id: int | None = None) -> list[Achievement]:
    """Instructors: their own; admins: all (or one owner's)."""
    if user.role not in STAFF:
        raise Forbidden("only instructors and admins manage achievements", code="role_required")
    stmt = select(Achievement).order_by(Achievement.id)
    if user.role != "admin":
        stmt = stmt.where(Achievement.owner_id == user.id)
    elif owner_id is not None:
        stmt = stmt.where(Achievement.owner_id == owner_id)
    return list(session.scalars(stmt))


def exams_awarding(session: Session) -> dict[int, list[int]]:
    """achievement id -> ids of the exams whose live version awards it."""
    awarding = ExamVersion.definition["achievement_id"]
    rows = session.execute(select(Exam.id, awarding).join(
        ExamVersion, (ExamVersion.exam_id == Exam.id) & (ExamVersion.version == Exam.live_version)).order_by(Exam.id))
    out: dict[int, list[int]] = {}
    for exam_id, achievement_id in rows:
        if isinstance(achievement_id, int):
            out.setdefault(achievement_id, []).append(exam_id)
    return out


def achievement_out(session: Session, achievement: Achievement, ctx: IssuerContext | None = None,
                    awarding: dict[int, list[int]] | None = None) -> dict:
    """The authoring view of an achievement (`awarding`: exams_awarding(), computed once for a list)."""
    awarding = exams_awarding(session) if awarding is None else awarding
    out = {k: getattr(achievement, k) for k in ACHIEVEMENT_FIELDS}
    out.update(id=achievement.id, owner_id=achievement.owner_id, created_at=achievement.created_at,
               updated_at=achievement.updated_at, exam_ids=awarding.get(achievement.id, []))
    if ctx is not None:
        out["url"] = ctx.achievement_url(achievement.id)
    return out


def snapshot(achievement: Achievement) -> dict:
    """What a credential states about the achievement, frozen at the award."""
    return {k: getattr(achievement, k) for k in ACHIEVEMENT_FIELDS if k != "pathway"} | {"id": achievement.id}


def achievement_data(snap: dict, ctx: IssuerContext) -> AchievementData:
    """The Open Badges Achievement for a snapshot."""
    return AchievementData(
        id=ctx.achievement_url(snap["id"]), name=snap["name"], description=snap.get("description") or snap["name"],
        criteria=snap.get("criteria") or f"Earn {snap['name']}.", criteria_url=snap.get("criteria_url"),
        achievement_type=snap.get("achievement_type") or "Badge", image=snap.get("image"),
        credits_available=snap.get("credits"), credit_framework=snap.get("credit_framework") if snap.get("credits") is not None else None,
        field_of_study=snap.get("field_of_study"), level=snap.get("level"),
        alignments=tuple(Alignment(a["targetName"], a["targetUrl"], a.get("targetFramework"), a.get("targetCode"))
                         for a in snap.get("alignments") or ()))


def public_achievement(achievement: Achievement, ctx: IssuerContext) -> dict:
    """The public Open Badges Achievement JSON (its id URL resolves to this)."""
    return achievement_data(snapshot(achievement), ctx).to_json()


def issuer_document(session: Session, ctx: IssuerContext) -> dict:
    """The issuer's public profile with every key (current first) and a link to its achievements."""
    ring = ctx.ring()
    doc = issuer_profile_document(ctx.profile(ring), ring)
    doc["achievements"] = f"{ctx.public_url}/issuer/achievements"
    doc["jwks"] = f"{ctx.public_url}/.well-known/jwks.json"
    return doc


def public_achievements(session: Session, ctx: IssuerContext, *, owner_id: int | None = None) -> list[dict]:
    stmt = select(Achievement).order_by(Achievement.id)
    if owner_id is not None:
        stmt = stmt.where(Achievement.owner_id == owner_id)
    return [public_achievement(a, ctx) for a in session.scalars(stmt)]


# --- issuing ------------------------------------------------------------------------------------

def _pass_score(defn: dict, max_score: float | None) -> float | None:
    policy = defn.get("pass") or {}
    if "cut_score" not in policy:
        return None
    if policy.get("mode", "percentage") == "percentage":
        return None if max_score is None else round(float(policy["cut_score"]) * float(max_score) / 100, 4)
    return float(policy["cut_score"])


def _holds(session: Session, user_id: int, achievement_id: int) -> bool:
    """Whether the learner holds (or is being issued) an unrevoked credential for the achievement."""
    return session.scalar(select(IssuedCredential.id).where(
        IssuedCredential.user_id == user_id, IssuedCredential.achievement_id == achievement_id,
        IssuedCredential.revoked_at.is_(None)).limit(1)) is not None


def record_pass(session: Session, attempt: Any, *, now: datetime, ctx: IssuerContext | None) -> IssuedCredential | None:
    """AFTER_SCORE: a final pass of an exam that awards an achievement writes a pending credential, then signs it."""
    if attempt.status != "scored" or not attempt.is_passed or attempt.end_reason == "terminated":
        return None
    version = session.get(ExamVersion, attempt.exam_version_id)
    achievement_id = (version.definition or {}).get("achievement_id")
    if not achievement_id:
        return None
    achievement = session.get(Achievement, achievement_id)
    exam = session.get(Exam, attempt.exam_id)
    owner = session.get(User, exam.owner_id)
    if achievement is None or not (achievement.owner_id == exam.owner_id or owner.role == "admin"):
        log.warning("exam awards an unknown or foreign achievement; nothing issued",
                    extra={"exam_id": exam.id, "achievement_id": achievement_id})
        return None
    user = session.get(User, attempt.user_id)
    if user is None or user.is_erased:
        return None
    credential_id = credential_urn(f"attempt:{attempt.id}:achievement:{achievement.id}")
    existing = session.get(IssuedCredential, credential_id)
    if existing is not None:
        return existing  # a replayed or rescored pass
    if _holds(session, user.id, achievement.id):
        return None  # an earlier pass already earned it
    facts = {"score": attempt.score, "max_score": attempt.max_score,
             "pass_score": _pass_score(version.definition, attempt.max_score), "passed": True,
             "credits": achievement.credits, "achievement": snapshot(achievement), "exam_title": version.title,
             "attempt_no": attempt.attempt_no, "log_head": attempt.log_head,
             "evidence": [{"session_id": attempt.id, "name": f"Exam attempt: {version.title}",
                           "narrative": f"Attempt {attempt.attempt_no}, submitted and scored "
                                        f"{attempt.score:g} of {attempt.max_score:g}.",
                           "hash_chain_head": f"sha256:{attempt.log_head}"}]}
    row = IssuedCredential(id=credential_id, user_id=user.id, achievement_id=achievement.id, session_id=attempt.id,
                           kind="exam", state="pending", facts=facts, components=[], issued_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return session.get(IssuedCredential, credential_id)  # a concurrent scoring of the same pass won
    if ctx is not None:
        sign_pending(session, row, ctx, now=now)
    return row


def sign_pending(session: Session, row: IssuedCredential, ctx: IssuerContext, *, now: datetime) -> bool:
    """Sign a pending credential and issue the pathways it completes; on failure it stays pending (retried)."""
    if row.state != "pending":
        return True
    try:
        with session.begin_nested():
            _sign(session, row, ctx, now)
            award_pathways(session, ctx, row.user_id, now=now)
    except Exception as exc:  # noqa: BLE001 - any failure leaves the row for the recovery job
        row.sign_attempts = (row.sign_attempts or 0) + 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        session.flush()
        level = logging.WARNING if isinstance(exc, NoIssuerKey) else logging.ERROR
        log.log(level, "credential left pending", exc_info=not isinstance(exc, NoIssuerKey),
                extra={"credential_id": row.id, "error": row.last_error})
        return False
    return True


def issue_pending(session: Session, ctx: IssuerContext, *, now: datetime, limit: int = 100) -> list[str]:
    """The recovery job: sign every pending credential (each once, whichever worker claims it)."""
    if ctx.ring_loader() is None:
        return []  # nothing can be signed yet; the rows wait for `exam-engine keys generate`
    stmt = (select(IssuedCredential).where(IssuedCredential.state == "pending", IssuedCredential.revoked_at.is_(None))
            .order_by(IssuedCredential.issued_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    done = []
    for row in session.scalars(stmt).all():
        if sign_pending(session, row, ctx, now=now):
            done.append(row.id)
    return done


def _status_list_for(session: Session, issuer_id: str, issued_at: datetime) -> StatusList:
    """The open revocation list of this issuer (a new one when none has room), valid from `issued_at` at the latest.

    A list's `validFrom` is its `created_at`, and a credential's is its `issued_at`. A list that became valid
    after a credential on it would fail a verifier whose clock reads the credential's own validFrom
    (`not_yet_valid`). A new list would otherwise take the clock at its flush, a few milliseconds after
    `issued_at`, and both are written to the second: across a second boundary it did. So a new list starts at
    `issued_at`, and an existing list is moved back to it when a credential issued earlier is signed onto it
    late (to be signed again).
    """
    stmt = (select(StatusList).where(StatusList.issuer_id == issuer_id, StatusList.purpose == "revocation",
                                     StatusList.used_count < StatusList.size).order_by(StatusList.id).limit(1))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    status_list = session.scalar(stmt)
    if status_list is None:
        status_list = StatusList(issuer_id=issuer_id, purpose="revocation", size=MIN_ENTRIES,
                                 encoded_list=Bitstring(MIN_ENTRIES).encode(), used_count=0, created_at=issued_at)
        session.add(status_list)
        session.flush()
    elif status_list.created_at > issued_at:
        status_list.created_at = issued_at
        status_list.signed = None
    return status_list


def _allocate(session: Session, row: IssuedCredential, issuer_id: str) -> StatusList:
    status_list = _status_list_for(session, issuer_id, row.issued_at)
    used = set(session.scalars(select(IssuedCredential.status_index)
                               .where(IssuedCredential.status_list_id == status_list.id)))
    row.status_list_id = status_list.id
    row.status_index = allocate_index(used, status_list.size)
    status_list.used_count += 1
    session.flush()
    return status_list


def _sign(session: Session, row: IssuedCredential, ctx: IssuerContext, now: datetime) -> None:
    ring = ctx.ring()
    profile = ctx.profile(ring)
    status_list = _allocate(session, row, profile.id)
    user = session.scalar(select(User).where(User.id == row.user_id).with_for_update())
    if user.identity_hash is None:
        # Fixed at the first issue: a later e-mail change keeps every credential's identity valid.
        user.identity_hash = hash_identity(user.email, user.identity_salt)
    facts = row.facts
    evidence = []
    for entry in facts.get("evidence", ()):
        evidence_id = entry.get("id") or ctx.attempt_url(entry["session_id"])
        evidence.append(Evidence(id=evidence_id, name=entry["name"], narrative=entry.get("narrative"),
                                 hash_chain_head=entry.get("hash_chain_head")))
    unsigned = build_credential(
        credential_id=row.id, issuer=profile, achievement=achievement_data(facts["achievement"], ctx),
        recipient_email=user.email, salt=user.identity_salt, valid_from=row.issued_at, awarded_at=row.issued_at,
        score=facts.get("score"), max_score=facts.get("max_score"), pass_score=facts.get("pass_score"),
        passed=facts.get("passed"), credits_earned=facts.get("credits"), evidence=evidence,
        status=status_list_entry(ctx.status_url(status_list.id), row.status_index))
    unsigned["credentialSubject"]["identifier"][0]["identityHash"] = user.identity_hash
    issued = issue_credential(unsigned, ring, issued_at=row.issued_at)
    row.credential = issued.credential
    row.jwt = issued.jwt
    row.issuer_id = profile.id
    row.verification_method = issued.verification_method
    row.state = "issued"
    row.last_error = None
    row.signed_at = now
    session.flush()


def award_pathways(session: Session, ctx: IssuerContext, user_id: int, *, now: datetime) -> list[IssuedCredential]:
    """Issue, lower levels first, every pathway credential the learner's credentials now complete."""
    pathway_achievements = {a.id: a for a in session.scalars(select(Achievement)) if a.pathway}
    if not pathway_achievements:
        return []
    rows = session.scalars(select(IssuedCredential).where(IssuedCredential.user_id == user_id,
                                                          IssuedCredential.state == "issued")).all()
    held = [HeldCredential(r.id, str(r.achievement_id), float(r.facts.get("credits") or 0), r.is_revoked) for r in rows]
    rules = [_rule(a.id, a.pathway, a.credits) for a in pathway_achievements.values()]
    issued_ids: dict[str, str] = {}
    out = []
    for result in newly_earned(rules, held):
        result = resolve_pending(result, issued_ids)
        achievement = pathway_achievements[int(result.achievement_id)]
        component_ids = sorted(c.credential_id for c in result.counted)
        credential_id = credential_urn(f"pathway:{achievement.id}:" + ",".join(component_ids))
        if session.get(IssuedCredential, credential_id) is not None:
            issued_ids[result.achievement_id] = credential_id
            continue
        names = {str(a.id): a.name for a in session.scalars(
            select(Achievement).where(Achievement.id.in_([int(c.achievement_id) for c in result.counted])))}
        evidence = [{"id": e.id, "name": e.name, "narrative": e.narrative} for e in component_evidence(result, names)]
        credits = achievement.credits if achievement.credits is not None else (result.credits or None)
        row = IssuedCredential(id=credential_id, user_id=user_id, achievement_id=achievement.id, session_id=None,
                               kind="pathway", state="pending", components=component_ids, issued_at=now,
                               facts={"credits": credits, "achievement": snapshot(achievement), "evidence": evidence,
                                      "reason": result.reason})
        session.add(row)
        session.flush()
        _sign(session, row, ctx, now)
        issued_ids[result.achievement_id] = credential_id
        out.append(row)
        log.info("pathway credential issued", extra={"credential_id": credential_id, "achievement_id": achievement.id})
    return out


# --- revocation and status lists -----------------------------------------------------------------

def _mark_revoked(session: Session, row: IssuedCredential, reason: str, actor: User | None, now: datetime) -> None:
    row.revoked_at = now
    row.revocation_reason = reason
    row.revoked_by_id = actor.id if actor else None
    if row.status_list_id is not None:
        status_list = session.get(StatusList, row.status_list_id)
        bits = Bitstring.decode(status_list.encoded_list)
        bits.set(row.status_index)
        status_list.encoded_list = bits.encode()
        status_list.signed = None  # re-signed on the next request
        status_list.updated_at = now


def revoke(session: Session, actor: User, credential_id: str, *, reason: str, now: datetime) -> list[IssuedCredential]:
    """Revoke a credential and, transitively, the pathway credentials resting on it; returns every row revoked."""
    if actor.role != "admin":
        raise Forbidden("only admins revoke credentials", code="role_required")
    row = session.get(IssuedCredential, normalise_credential_id(credential_id), with_for_update=True)
    if row is None:
        raise NotFound("no such credential", code="credential_not_found")
    if row.is_revoked:
        raise CredentialError("the credential is already revoked", code="already_revoked")
    _mark_revoked(session, row, reason, actor, now)
    revoked = [row]
    awards = [PathwayAward(r.id, str(r.achievement_id), tuple(r.components or ())) for r in session.scalars(
        select(IssuedCredential).where(IssuedCredential.user_id == row.user_id, IssuedCredential.kind == "pathway",
                                       IssuedCredential.revoked_at.is_(None)))]
    for dependent_id, why in revocation_cascade(row.id, awards, reason):
        dependent = session.get(IssuedCredential, dependent_id)
        _mark_revoked(session, dependent, why, actor, now)
        revoked.append(dependent)
    session.flush()
    log.info("credentials revoked", extra={"credential_ids": [r.id for r in revoked], "actor_id": actor.id})
    return revoked


def status_list_document(session: Session, ctx: IssuerContext, list_id: int, *, now: datetime) -> dict:
    """The signed BitstringStatusListCredential (signed again only after its bits changed)."""
    status_list = session.get(StatusList, list_id)
    if status_list is None:
        raise NotFound(f"no status list {list_id}", code="status_list_not_found")
    if status_list.signed is not None:
        return status_list.signed
    key = signing_key_for(ctx.ring(), status_list.issuer_id)
    if key is None:
        raise CredentialError("the key of this list's issuer has no private half any more", code="status_list_frozen",
                              status=503)
    # validFrom is the list's creation, not this signature: a verifier whose clock lags ours (or that read
    # its clock before fetching the list) must not see a freshly re-signed list as not yet valid.
    unsigned = build_status_list_credential(list_url=ctx.status_url(status_list.id), issuer_id=status_list.issuer_id,
                                            bits=Bitstring.decode(status_list.encoded_list),
                                            valid_from=status_list.created_at)
    status_list.signed = sign_data_integrity(unsigned, key, created=now)
    status_list.signed_at = now
    session.flush()
    return status_list.signed


def local_status_fetcher(session: Session, ctx: IssuerContext, now: datetime) -> Callable[[str], dict | None]:
    """Reads our own status lists from the database; any other URL is not fetched (no requests on a caller's behalf)."""
    prefix = ctx.status_url(0)[:-1]

    def fetch(url: str) -> dict | None:
        if not url.startswith(prefix) or not url[len(prefix):].isdigit():
            return None
        try:
            return status_list_document(session, ctx, int(url[len(prefix):]), now=now)
        except DomainError:
            return None

    return fetch


# --- the wallet and verification -----------------------------------------------------------------

def credential_summary(session: Session, row: IssuedCredential, ctx: IssuerContext) -> dict:
    """The wallet's view of one credential."""
    snap = row.facts.get("achievement", {})
    bare = row.id.rsplit(":", 1)[1]
    return {"id": row.id, "kind": row.kind, "state": row.state, "achievement_id": row.achievement_id,
            "achievement_name": snap.get("name"), "achievement_type": snap.get("achievement_type"),
            "credits": row.facts.get("credits"), "credit_framework": snap.get("credit_framework"),
            "session_id": row.session_id, "components": row.components or [], "issued_at": row.issued_at,
            "is_revoked": row.is_revoked, "revoked_at": row.revoked_at, "revocation_reason": row.revocation_reason,
            "public_url": ctx.credential_url(bare), "json_url": f"{ctx.public_url}/api/v1/credentials/{bare}/download.json",
            "jwt_url": f"{ctx.public_url}/api/v1/credentials/{bare}/download.jwt"}


def wallet(session: Session, user: User, *, user_id: int | None = None) -> list[IssuedCredential]:
    """The caller's issued credentials (admins may name another learner)."""
    owner = user.id
    if user_id is not None and user_id != user.id:
        if user.role != "admin":
            raise Forbidden("only admins see another learner's credentials", code="forbidden")
        owner = user_id
    return list(session.scalars(select(IssuedCredential).where(IssuedCredential.user_id == owner,
                                                               IssuedCredential.state == "issued")
                                .order_by(IssuedCredential.issued_at, IssuedCredential.id)))


def held_credential(session: Session, user: User, credential_id: str) -> IssuedCredential:
    """One issued credential of the caller (admins: anyone's); others answer like a missing one."""
    row = session.get(IssuedCredential, normalise_credential_id(credential_id))
    if row is None or row.state != "issued" or (row.user_id != user.id and user.role != "admin"):
        raise NotFound("no such credential", code="credential_not_found")
    return row


def public_credential(session: Session, credential_id: str) -> IssuedCredential:
    """An issued credential by its (unguessable) id, for its public page."""
    row = session.get(IssuedCredential, normalise_credential_id(credential_id))
    if row is None or row.state != "issued":
        raise NotFound("no such credential", code="credential_not_found")
    return row


def verify_credential(session: Session, ctx: IssuerContext, credential: dict | str, *, now: datetime,
                      check_status: bool = True) -> dict:
    """The structured verification report; our own status lists are read from the database."""
    if not isinstance(credential, (dict, str)):
        raise ValidationFailed("credential must be a JSON object or a compact JWT", code="credential_unreadable")
    fetcher = local_status_fetcher(session, ctx, now) if check_status else None
    try:
        return verify_module.verify(credential, now=now, status_fetcher=fetcher)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"the credential cannot be read: {exc}", code="credential_unreadable") from None
