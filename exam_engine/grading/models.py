"""Manual marks of essay responses (one row per marker)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from item_bank.orm import Base, utcnow


class ManualMark(Base):
    """One marker's rubric choices for one essay response."""

    __tablename__ = "manual_marks"
    __table_args__ = (UniqueConstraint("session_id", "item_id", "marker_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int]
    marker_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: criterion id -> index of the chosen level in the rubric
    levels: Mapped[dict]
    #: the rubric score this marker gave (points)
    score: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: first, second or third marker
    role: Mapped[str] = mapped_column(String(10), default="first")
