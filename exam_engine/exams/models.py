"""Exams, their immutable published versions, and examiner assignments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from item_bank.orm import Base, utcnow


class Exam(Base):
    """The identity of an exam across versions."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: Number of the newest version.
    latest_version: Mapped[int] = mapped_column(default=1)
    #: Number of the version learners take (the newest published), or None before the first publication.
    live_version: Mapped[int | None]
    #: Identifier from outside (QTI test identifier, demo key), for updates on re-import.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Results of all attempts released by hand (release policy "manual").
    results_released_at: Mapped[datetime | None]

    versions: Mapped[list[ExamVersion]] = relationship(back_populates="exam", order_by="ExamVersion.version",
                                                       cascade="all, delete-orphan")


class ExamVersion(Base):
    """One version of an exam definition; frozen once published."""

    __tablename__ = "exam_versions"
    __table_args__ = (UniqueConstraint("exam_id", "version"),
                      CheckConstraint("status IN ('draft', 'published', 'archived')", name="status_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default="draft")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The whole definition (sections, timing, navigation, window, attempts, pass, release, policies).
    definition: Mapped[dict]
    #: Copies of the window for queries (UTC).
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]

    exam: Mapped[Exam] = relationship(back_populates="versions")


class ExamExaminer(Base):
    """An examiner assigned to watch and act on an exam's attempts."""

    __tablename__ = "exam_examiners"
    __table_args__ = (UniqueConstraint("exam_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class ExamKeyOverride(Base):
    """A corrected key for one item of an exam (rescoring): replaces the pinned version's scoring."""

    __tablename__ = "exam_key_overrides"
    __table_args__ = (UniqueConstraint("exam_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int]
    #: The corrected `scoring` object (docs/items.md), validated like an item's.
    scoring: Mapped[dict]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
