"""Banks, their sharing, items and their immutable versions, tags and media."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .orm import Base, utcnow


class ItemStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class SharePermission(str, enum.Enum):
    READ = "read"
    EDIT = "edit"


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The instructor who owns the bank; only they share it or delete it.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    shares: Mapped[list[BankShare]] = relationship(cascade="all, delete-orphan", back_populates="bank")


class BankShare(Base):
    __tablename__ = "bank_shares"
    __table_args__ = (UniqueConstraint("bank_id", "user_id"),
                      CheckConstraint("permission IN ('read', 'edit')", name="permission_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    permission: Mapped[str] = mapped_column(String(10))

    bank: Mapped[Bank] = relationship(back_populates="shares")


class Item(Base):
    """The identity of an item across its versions."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("bank_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    #: Identifier from outside (QTI identifier, demo key), used to update on re-import.
    external_id: Mapped[str | None] = mapped_column(String(200))
    #: Number of the newest version.
    latest_version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[ItemVersion]] = relationship(back_populates="item", order_by="ItemVersion.version",
                                                       cascade="all, delete-orphan")


class ItemVersion(Base):
    """One version of an item; frozen once published."""

    __tablename__ = "item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status_known"),
        Index("ix_item_versions_type_status", "type", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default=ItemStatus.DRAFT.value)
    type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    #: Sanitised HTML.
    stem: Mapped[str] = mapped_column(Text)
    #: What the learner sees and answers (options, gaps...), no keys.
    interaction: Mapped[dict]
    #: The key and partial-credit rule; never sent to learners.
    scoring: Mapped[dict]
    #: Tags, objectives, language, estimated time, difficulty, IRT parameters.
    item_metadata: Mapped[dict] = mapped_column("metadata", default=dict)
    #: Lower-cased plain text of the stem and options, for full-text search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[float | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]

    item: Mapped[Item] = relationship(back_populates="versions")
    labels: Mapped[list[ItemLabel]] = relationship(cascade="all, delete-orphan")


class ItemLabel(Base):
    """A tag or learning objective of a version, one row each so pools can query them on any database."""

    __tablename__ = "item_labels"
    __table_args__ = (UniqueConstraint("version_id", "kind", "value"), Index("ix_item_labels_kind_value", "kind", "value"),
                      CheckConstraint("kind IN ('tag', 'objective')", name="kind_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(100))


class Media(Base):
    """An image or sound file uploaded to a bank, referenced from HTML as media/<id>/<filename>."""

    __tablename__ = "media"
    __table_args__ = (UniqueConstraint("bank_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
