"""Data portability: everything held about one user, as plain JSON.

Other parts of the engine register exporters (attempts, credentials...) in
EXPORTERS so this module need not know them.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ApiToken, User

#: name -> function(session, user) -> JSON-able data; filled by the modules that hold personal data.
EXPORTERS: dict[str, Callable[[Session, User], Any]] = {}
#: functions(session, user) that remove personal data a module holds when an admin erases a user.
ERASERS: list[Callable[[Session, User], None]] = []


def export_user_data(session: Session, user: User) -> dict:
    """The account, its tokens' metadata, and whatever each registered exporter holds."""
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    data: dict[str, Any] = {
        "account": {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
                    "is_active": user.is_active, "accommodations": user.accommodations,
                    "created_at": user.created_at.isoformat()},
        "tokens": [{"created_at": t.created_at.isoformat(), "expires_at": t.expires_at.isoformat(),
                    "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None} for t in tokens],
    }
    for name, exporter in sorted(EXPORTERS.items()):
        data[name] = exporter(session, user)
    return data
