"""Item bank services: banks and sharing, item versions, pools and search, media.

Services take plain values, a caller (with `id` and `role`) and a Session;
they flush, never commit. Every function checks the caller's access.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from .errors import Conflict, Forbidden, ItemFrozen, NotFound, ValidationFailed
from .models import Bank, BankShare, Item, ItemLabel, ItemStatus, ItemVersion, Media
from .validation import ITEM_TYPES, validate_item

READ, EDIT, OWN = "read", "edit", "own"
_RANK = {READ: 0, EDIT: 1, OWN: 2}


# --- banks and access -------------------------------------------------------

def bank_permission(session: Session, user: Any, bank: Bank) -> str | None:
    """The caller's permission on `bank`: own, edit, read or None."""
    if user.role == "admin" or bank.owner_id == user.id:
        return OWN
    if user.role != "instructor":
        return None
    share = session.scalar(select(BankShare).where(BankShare.bank_id == bank.id, BankShare.user_id == user.id))
    return share.permission if share else None


def get_bank(session: Session, user: Any, bank_id: int, need: str = READ) -> Bank:
    """The bank, if the caller holds at least `need` on it; 404 when they cannot even read it."""
    bank = session.get(Bank, bank_id)
    perm = bank_permission(session, user, bank) if bank else None
    if bank is None or perm is None:
        raise NotFound(f"no bank {bank_id}", code="bank_not_found")
    if _RANK[perm] < _RANK[need]:
        raise Forbidden(f"you need {need} permission on bank {bank_id}", code="bank_forbidden")
    return bank


def create_bank(session: Session, user: Any, *, name: str, description: str = "") -> Bank:
    bank = Bank(name=name.strip(), description=description, owner_id=user.id)
    session.add(bank)
    session.flush()
    return bank


def update_bank(session: Session, user: Any, bank_id: int, **changes: Any) -> Bank:
    bank = get_bank(session, user, bank_id, EDIT)
    for key in ("name", "description"):
        if key in changes and changes[key] is not None:
            setattr(bank, key, changes[key])
    session.flush()
    return bank


def readable_bank_ids(session: Session, user: Any) -> Select:
    """A select of the ids of every bank the caller may read."""
    if user.role == "admin":
        return select(Bank.id)
    shared = select(BankShare.bank_id).where(BankShare.user_id == user.id)
    return select(Bank.id).where(or_(Bank.owner_id == user.id, Bank.id.in_(shared)))


def list_banks(session: Session, user: Any, *, page: int, per_page: int, q: str | None = None) -> tuple[list[Bank], int]:
    stmt = select(Bank).where(Bank.id.in_(readable_bank_ids(session, user)))
    if q:
        stmt = stmt.where(func.lower(Bank.name).contains(q.lower()))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Bank.id).offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def share_bank(session: Session, user: Any, bank_id: int, *, target_user: Any, permission: str) -> BankShare:
    """Share a bank with another instructor (owner or admin only)."""
    bank = get_bank(session, user, bank_id, OWN)
    if permission not in (READ, EDIT):
        raise ValidationFailed("permission must be read or edit", details={"permission": ["read or edit"]})
    if target_user.role != "instructor":
        raise ValidationFailed("banks are shared with instructors only", code="share_target_not_instructor")
    if target_user.id == bank.owner_id:
        raise Conflict("the owner already has full access", code="share_to_owner")
    share = session.scalar(select(BankShare).where(BankShare.bank_id == bank.id, BankShare.user_id == target_user.id))
    if share is None:
        share = BankShare(bank_id=bank.id, user_id=target_user.id, permission=permission)
        session.add(share)
    else:
        share.permission = permission
    session.flush()
    return share


def unshare_bank(session: Session, user: Any, bank_id: int, target_user_id: int) -> None:
    bank = get_bank(session, user, bank_id, OWN)
    share = session.scalar(select(BankShare).where(BankShare.bank_id == bank.id, BankShare.user_id == target_user_id))
    if share is None:
        raise NotFound("that user has no share of this bank", code="share_not_found")
    session.delete(share)
    session.flush()


# --- items and versions -----------------------------------------------------

_TAG_RE = re.compile(r"<[^>]+>")


def plain_text(html: str) -> str:
    """Text of an HTML fragment, lower-cased and with collapsed white space (for search)."""
    return " ".join(html_lib.unescape(_TAG_RE.sub(" ", html or "")).split()).lower()


def _search_text(data: dict) -> str:
    parts = [data["title"], data["stem"]]
    inter = data["interaction"]
    for key in ("options", "left", "right"):
        parts += [o["html"] for o in inter.get(key, [])]
    for gap in inter.get("gaps", []):
        parts += [o["html"] for o in gap["options"]]
    return plain_text(" ".join(parts))


def _apply(version: ItemVersion, data: dict) -> None:
    version.type = data["type"]
    version.title = data["title"]
    version.stem = data["stem"]
    version.interaction = data["interaction"]
    version.scoring = data["scoring"]
    version.item_metadata = data["metadata"]
    version.difficulty = data["metadata"].get("difficulty")
    version.search_text = _search_text(data)
    wanted = {("tag", t) for t in data["metadata"]["tags"]} | {("objective", o) for o in data["metadata"]["objectives"]}
    have = {(lbl.kind, lbl.value): lbl for lbl in version.labels}
    for key, lbl in have.items():
        if key not in wanted:
            version.labels.remove(lbl)
    for kind, value in sorted(wanted - set(have)):
        version.labels.append(ItemLabel(kind=kind, value=value))


def version_as_dict(version: ItemVersion) -> dict:
    """The item content of a version in the docs/items.md format."""
    return {"type": version.type, "title": version.title, "stem": version.stem, "interaction": version.interaction,
            "scoring": version.scoring, "metadata": version.item_metadata}


def create_item(session: Session, user: Any, bank_id: int, data: dict, *, external_id: str | None = None,
                now: datetime) -> ItemVersion:
    """A new item with version 1 as a draft."""
    bank = get_bank(session, user, bank_id, EDIT)
    clean = validate_item(data)
    if external_id and session.scalar(select(Item.id).where(Item.bank_id == bank.id, Item.external_id == external_id)):
        raise Conflict(f"bank {bank.id} already has an item {external_id!r}", code="item_exists")
    item = Item(bank_id=bank.id, external_id=external_id, latest_version=1, created_by=user.id, created_at=now)
    version = ItemVersion(version=1, status=ItemStatus.DRAFT.value, created_by=user.id, created_at=now)
    _apply(version, clean)
    item.versions.append(version)
    session.add(item)
    session.flush()
    return version


def get_item(session: Session, user: Any, item_id: int, need: str = READ) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}", code="item_not_found")
    get_bank(session, user, item.bank_id, need)
    return item


def get_version(session: Session, user: Any, item_id: int, version: int | None = None, need: str = READ) -> ItemVersion:
    """A version of an item (the latest when `version` is None)."""
    item = get_item(session, user, item_id, need)
    number = version or item.latest_version
    row = session.scalar(select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.version == number))
    if row is None:
        raise NotFound(f"item {item_id} has no version {number}", code="version_not_found")
    return row


def update_item(session: Session, user: Any, item_id: int, data: dict, *, now: datetime) -> ItemVersion:
    """Edit an item: a draft changes in place; a published or retired latest version gets a new draft version."""
    latest = get_version(session, user, item_id, need=EDIT)
    clean = validate_item(data)
    if latest.status == ItemStatus.DRAFT.value:
        if clean["type"] != latest.type:
            raise ValidationFailed("an item's type cannot change; create a new item", code="item_type_change")
        _apply(latest, clean)
        session.flush()
        return latest
    if clean["type"] != latest.type:
        raise ValidationFailed("an item's type cannot change; create a new item", code="item_type_change")
    item = latest.item
    item.latest_version += 1
    version = ItemVersion(item_id=item.id, version=item.latest_version, status=ItemStatus.DRAFT.value,
                          created_by=user.id, created_at=now)
    _apply(version, clean)
    session.add(version)
    session.flush()
    return version


def publish_item(session: Session, user: Any, item_id: int, *, now: datetime) -> ItemVersion:
    """Freeze the latest draft: it becomes the version exams draw."""
    latest = get_version(session, user, item_id, need=EDIT)
    if latest.status != ItemStatus.DRAFT.value:
        raise Conflict(f"version {latest.version} is already {latest.status}", code="not_a_draft")
    validate_item(version_as_dict(latest))
    latest.status = ItemStatus.PUBLISHED.value
    latest.published_at = now
    session.flush()
    return latest


def retire_version(session: Session, user: Any, item_id: int, version: int, *, now: datetime) -> ItemVersion:
    """Retire a published version: it stays readable (attempts pin it) but no new exam draws it."""
    row = get_version(session, user, item_id, version, need=EDIT)
    if row.status != ItemStatus.PUBLISHED.value:
        raise Conflict(f"only a published version can be retired (this one is {row.status})", code="not_published")
    row.status = ItemStatus.RETIRED.value
    row.retired_at = now
    session.flush()
    return row


def list_versions(session: Session, user: Any, item_id: int) -> list[ItemVersion]:
    item = get_item(session, user, item_id)
    return list(session.scalars(select(ItemVersion).where(ItemVersion.item_id == item.id).order_by(ItemVersion.version)))


def delete_draft(session: Session, user: Any, item_id: int) -> None:
    """Delete an item that was never published (a published one is only retired)."""
    item = get_item(session, user, item_id, EDIT)
    if any(v.status != ItemStatus.DRAFT.value for v in item.versions):
        raise ItemFrozen("an item with a published version cannot be deleted; retire it", code="item_frozen")
    session.delete(item)
    session.flush()


# --- pools and search -------------------------------------------------------

@dataclass(frozen=True)
class PoolQuery:
    """Which items a pool draws: every condition must hold (tags: all of them; objectives: any)."""

    bank_ids: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    status: str | None = "published"
    difficulty_min: float | None = None
    difficulty_max: float | None = None
    text: str | None = None
    item_ids: tuple[int, ...] = field(default=())

    @classmethod
    def from_dict(cls, data: dict) -> PoolQuery:
        unknown = set(data) - {"bank_ids", "tags", "objectives", "types", "status", "difficulty_min", "difficulty_max",
                               "text", "item_ids"}
        if unknown:
            raise ValidationFailed("unknown pool query field", details={k: ["unknown field"] for k in unknown})
        for t in data.get("types", ()):
            if t not in ITEM_TYPES:
                raise ValidationFailed(f"unknown item type {t!r}", code="unknown_item_type")
        return cls(bank_ids=tuple(data.get("bank_ids", ())), tags=tuple(data.get("tags", ())),
                   objectives=tuple(data.get("objectives", ())), types=tuple(data.get("types", ())),
                   status=data.get("status", "published"), difficulty_min=data.get("difficulty_min"),
                   difficulty_max=data.get("difficulty_max"), text=data.get("text"),
                   item_ids=tuple(data.get("item_ids", ())))

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if v not in ((), None)}


def pool_statement(query: PoolQuery, readable: Select | None = None) -> Select:
    """Select the versions matching `query`: per item, the newest version in the wanted status."""
    stmt = select(ItemVersion).join(Item, Item.id == ItemVersion.item_id)
    if query.status == "published":
        # The newest published version of each item (a later draft does not hide it).
        newest = (select(ItemVersion.item_id, func.max(ItemVersion.version).label("v"))
                  .where(ItemVersion.status == "published").group_by(ItemVersion.item_id).subquery())
        stmt = stmt.join(newest, and_(newest.c.item_id == ItemVersion.item_id, newest.c.v == ItemVersion.version))
    elif query.status in ("draft", "retired"):
        stmt = stmt.where(ItemVersion.status == query.status)
    else:  # any status: the latest version
        stmt = stmt.where(ItemVersion.version == Item.latest_version)
    if readable is not None:
        stmt = stmt.where(Item.bank_id.in_(readable))
    if query.bank_ids:
        stmt = stmt.where(Item.bank_id.in_(query.bank_ids))
    if query.item_ids:
        stmt = stmt.where(Item.id.in_(query.item_ids))
    if query.types:
        stmt = stmt.where(ItemVersion.type.in_(query.types))
    for tag in query.tags:
        stmt = stmt.where(ItemVersion.id.in_(select(ItemLabel.version_id).where(ItemLabel.kind == "tag", ItemLabel.value == tag)))
    if query.objectives:
        stmt = stmt.where(ItemVersion.id.in_(select(ItemLabel.version_id).where(
            ItemLabel.kind == "objective", ItemLabel.value.in_(query.objectives))))
    if query.difficulty_min is not None:
        stmt = stmt.where(ItemVersion.difficulty >= query.difficulty_min)
    if query.difficulty_max is not None:
        stmt = stmt.where(ItemVersion.difficulty <= query.difficulty_max)
    if query.text:
        for word in plain_text(query.text).split()[:10]:
            stmt = stmt.where(ItemVersion.search_text.contains(word, autoescape=True))
    return stmt


def search_items(session: Session, user: Any, query: PoolQuery, *, page: int, per_page: int) -> tuple[list[ItemVersion], int]:
    """Items the caller may read matching `query`, a page at a time."""
    for bank_id in query.bank_ids:
        get_bank(session, user, bank_id)
    stmt = pool_statement(query, readable_bank_ids(session, user))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.options(selectinload(ItemVersion.item)).order_by(ItemVersion.item_id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def draw_pool(session: Session, query: PoolQuery) -> list[ItemVersion]:
    """Every version a pool may draw (no access check: the exam's owner was checked when it was written)."""
    return list(session.scalars(pool_statement(query).order_by(ItemVersion.item_id)))


# --- media ------------------------------------------------------------------

MEDIA_TYPES = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
    "audio/mpeg": b"",
    "audio/ogg": b"OggS",
    "video/mp4": b"",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def upload_media(session: Session, user: Any, bank_id: int, *, filename: str, content_type: str, data: bytes,
                 max_bytes: int) -> Media:
    """Store a media file in a bank; refuses unknown types, a mismatched signature or an oversized file."""
    bank = get_bank(session, user, bank_id, EDIT)
    if content_type not in MEDIA_TYPES:
        raise ValidationFailed(f"media type {content_type!r} is not allowed (allowed: {', '.join(MEDIA_TYPES)})",
                               code="media_type_not_allowed")
    if len(data) > max_bytes:
        raise ValidationFailed(f"the file is larger than {max_bytes} bytes", code="media_too_large", status=413)
    if not data:
        raise ValidationFailed("the file is empty", code="media_empty")
    magic = MEDIA_TYPES[content_type]
    if magic and not data.startswith(magic):
        raise ValidationFailed("the file's content does not match its type", code="media_type_mismatch")
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(Media).where(Media.bank_id == bank.id, Media.sha256 == digest))
    if existing:
        return existing
    name = _SAFE_NAME.sub("_", filename.rsplit("/", 1)[-1])[:200] or "file"
    media = Media(bank_id=bank.id, filename=name, content_type=content_type, size=len(data), sha256=digest, data=data)
    session.add(media)
    session.flush()
    return media


def get_media(session: Session, user: Any, bank_id: int, media_id: int) -> Media:
    get_bank(session, user, bank_id)
    media = session.get(Media, media_id)
    if media is None or media.bank_id != bank_id:
        raise NotFound("no such media file", code="media_not_found")
    return media


def list_media(session: Session, user: Any, bank_id: int) -> Sequence[Media]:
    get_bank(session, user, bank_id)
    return session.scalars(select(Media).where(Media.bank_id == bank_id).order_by(Media.id)).all()



def list_shares(session: Session, user: Any, bank_id: int) -> list[tuple[int, str, str]]:
    """(user id, e-mail, permission) of each share of a bank (owner or admin)."""
    from sqlalchemy import table, column  # the users table belongs to the engine; read two columns by name

    bank = get_bank(session, user, bank_id, OWN)
    users = table("users", column("id"), column("email"))
    rows = session.execute(select(BankShare.user_id, users.c.email, BankShare.permission)
                           .join(users, users.c.id == BankShare.user_id).where(BankShare.bank_id == bank.id)
                           .order_by(BankShare.user_id))
    return [tuple(r) for r in rows]
