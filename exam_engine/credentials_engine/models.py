"""Achievements, issued credentials (which are also the issuing outbox) and status lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from item_bank.orm import Base, utcnow

#: Achievement types an instructor picks from (Open Badges 3.0 `achievementType` values).
ACHIEVEMENT_TYPES = ("Badge", "MicroCredential", "Certificate")
#: `pending`: the pass is recorded, the signature is not made yet (the outbox); `issued`: signed.
CREDENTIAL_STATES = ("pending", "issued")
CREDENTIAL_KINDS = ("exam", "pathway")


class Achievement(Base):
    """What an exam (or a pathway of other achievements) awards: an Open Badges 3.0 Achievement."""

    __tablename__ = "achievements"
    __table_args__ = (
        CheckConstraint(f"achievement_type IN {ACHIEVEMENT_TYPES!r}", name="type_known"),
        CheckConstraint("credits IS NULL OR credits >= 0", name="credits_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The instructor who defines it; only they (and admins) edit it or award it from their exams.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Criteria narrative (Markdown allowed), what a learner did to earn it.
    criteria: Mapped[str] = mapped_column(Text, default="")
    #: Optional public URL of the criteria.
    criteria_url: Mapped[str | None] = mapped_column(String(500))
    #: URL of the badge image.
    image: Mapped[str | None] = mapped_column(String(500))
    achievement_type: Mapped[str] = mapped_column(String(20), default="Badge")
    #: Credits carried by a credential (None: not credit-bearing), in `credit_framework` (e.g. ECTS).
    credits: Mapped[float | None] = mapped_column(Float)
    credit_framework: Mapped[str | None] = mapped_column(String(50))
    #: Level, e.g. "EQF level 5" (carried as an alignment of type ext:Level).
    level: Mapped[str | None] = mapped_column(String(100))
    field_of_study: Mapped[str | None] = mapped_column(String(200))
    #: Skills or competencies: [{"targetName", "targetUrl", "targetFramework"?, "targetCode"?}].
    alignments: Mapped[list] = mapped_column(default=list)
    #: Stackable pathway rule, or None: {"components": [achievement ids], "required": k or None (all),
    #: "min_credits": float or None}. A pathway credential is issued when its rule is met.
    pathway: Mapped[dict | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StatusList(Base):
    """A W3C Bitstring Status List of one issuer (did:key) and purpose, published at /status/{id}."""

    __tablename__ = "credential_status_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The issuer id (did:key) of the credentials whose bits live here; the list is signed by the same key.
    issuer_id: Mapped[str] = mapped_column(String(200), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="revocation")
    #: Number of bits (the spec's minimum is 131,072).
    size: Mapped[int] = mapped_column(Integer)
    #: The bits, as the list credential's `encodedList` (gzip, base64url, multibase 'u').
    encoded_list: Mapped[str] = mapped_column(Text)
    #: Indices handed out so far (the list is full at `size`).
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The signed list credential last published; None when the bits changed since (re-signed on demand).
    signed: Mapped[dict | None]
    signed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IssuedCredential(Base):
    """One award to one learner: written `pending` with the pass (the outbox), then signed (`issued`).

    The id is derived from (attempt, achievement), or from (pathway achievement, component credentials),
    so a replayed or rescored pass finds the row it already wrote instead of issuing twice.
    """

    __tablename__ = "issued_credentials"
    __table_args__ = (
        CheckConstraint(f"state IN {CREDENTIAL_STATES!r}", name="state_known"),
        CheckConstraint(f"kind IN {CREDENTIAL_KINDS!r}", name="kind_known"),
        UniqueConstraint("session_id", "achievement_id"),
        UniqueConstraint("status_list_id", "status_index"),
        Index("ix_issued_credentials_user_achievement", "user_id", "achievement_id"),
        Index("ix_issued_credentials_state", "state"),
    )

    #: The credential's id, "urn:uuid:<uuid5>" (deterministic: the idempotency key).
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"))
    #: The attempt that earned it (None for a pathway credential).
    session_id: Mapped[str | None] = mapped_column(ForeignKey("exam_sessions.id"))
    kind: Mapped[str] = mapped_column(String(10), default="exam")
    state: Mapped[str] = mapped_column(String(10), default="pending")
    #: What the credential states, fixed when the pass is recorded: score, pass mark, credits, log head,
    #: evidence and a snapshot of the achievement. Signing is a function of these and `issued_at`.
    facts: Mapped[dict] = mapped_column(default=dict)
    #: Pathway credentials: ids of the component credentials it rests on (for the revocation cascade).
    components: Mapped[list] = mapped_column(default=list)
    #: The signed OpenBadgeCredential (with its eddsa-rdfc-2022 proof), and the same as a VC-JWT.
    credential: Mapped[dict | None]
    jwt: Mapped[str | None] = mapped_column(Text)
    #: Issuer id and verification method of the signing key.
    issuer_id: Mapped[str | None] = mapped_column(String(200))
    verification_method: Mapped[str | None] = mapped_column(String(300))
    status_list_id: Mapped[int | None] = mapped_column(ForeignKey("credential_status_lists.id"))
    status_index: Mapped[int | None] = mapped_column(Integer)
    #: The instant of the award (validFrom, awardedDate, the proofs' created).
    issued_at: Mapped[datetime]
    signed_at: Mapped[datetime | None]
    #: Failed signing attempts and the last error (the recovery job retries).
    sign_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
