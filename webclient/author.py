"""Instructor pages: banks, a bank's items (search and filters), the item editor and an item's history.

Pages read through the item bank's services; the editor saves through the
REST API (`/api/v1/...`) from the browser, so the rules live in one place.
"""

from __future__ import annotations

import math

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from item_bank import services
from item_bank.delivery import delivery_view
from item_bank.html import sanitize_html
from item_bank.validation import ITEM_TYPES, RULES
from exam_engine.db import db_session

from .core import page_login_required

bp = Blueprint("author", __name__, url_prefix="/author")

AUTHOR_ROLES = ("instructor", "admin")
PER_PAGE = 25

TYPE_LABELS = {
    "choice": "Choice (single, multiple, true/false)",
    "text_entry": "Short text answer",
    "numeric": "Numeric answer",
    "extended_text": "Essay (graded with a rubric)",
    "order": "Put in order",
    "match": "Match pairs",
    "inline_choice": "Fill the gaps (cloze)",
}


@bp.app_template_filter("type_label")
def type_label(value: str) -> str:
    return TYPE_LABELS.get(value, value)


@bp.get("/banks")
@page_login_required(*AUTHOR_ROLES)
def banks():
    """The banks the instructor owns or that are shared with them, with their item counts."""
    session, user = db_session(), g.user
    q = (request.args.get("q") or "").strip()[:200]
    rows, _total = services.list_banks(session, user, page=1, per_page=200, q=q or None)
    listed = []
    for bank in rows:
        _items, count = services.search_items(session, user, services.PoolQuery(bank_ids=(bank.id,), status=None),
                                              page=1, per_page=1)
        listed.append({"bank": bank, "count": count, "permission": services.bank_permission(session, user, bank)})
    return render_template("web/author/banks.html", banks=listed, q=q)


@bp.post("/banks")
@page_login_required(*AUTHOR_ROLES)
def create_bank():
    """Create a bank from the form on the banks page."""
    name = (request.form.get("name") or "").strip()
    description = (request.form.get("description") or "").strip()
    if not name or len(name) > 200:
        session, user = db_session(), g.user
        rows, _ = services.list_banks(session, user, page=1, per_page=200)
        listed = [{"bank": b, "count": None, "permission": services.bank_permission(session, user, b)} for b in rows]
        return render_template("web/author/banks.html", banks=listed, q="", form_error="Give the bank a name "
                               "(1 to 200 characters).", form={"name": name, "description": description}), 422
    session = db_session()
    bank = services.create_bank(session, g.user, name=name, description=description[:5000])
    session.commit()
    return redirect(url_for("author.bank", bank_id=bank.id, created=1))


@bp.get("/banks/<int:bank_id>")
@page_login_required(*AUTHOR_ROLES)
def bank(bank_id: int):
    """A bank's items, searchable by text and filtered by type and status."""
    session, user = db_session(), g.user
    bank_row = services.get_bank(session, user, bank_id)
    permission = services.bank_permission(session, user, bank_row)
    q = (request.args.get("q") or "").strip()[:200]
    item_type = request.args.get("type") or ""
    status = request.args.get("status") or "any"
    tag = (request.args.get("tag") or "").strip()[:100]
    try:
        page = max(1, min(int(request.args.get("page", 1)), 100000))
    except ValueError:
        page = 1
    query = services.PoolQuery(bank_ids=(bank_id,), types=(item_type,) if item_type in ITEM_TYPES else (),
                               status=None if status not in ("draft", "published", "retired") else status,
                               text=q or None, tags=(tag,) if tag else ())
    rows, total = services.search_items(session, user, query, page=page, per_page=PER_PAGE)
    pages = max(1, math.ceil(total / PER_PAGE))
    return render_template("web/author/bank.html", bank=bank_row, permission=permission, items=rows, total=total,
                           page=page, pages=pages, q=q, item_type=item_type, status=status, tag=tag,
                           types=ITEM_TYPES, can_edit=permission in ("own", "edit"))


def _editor_context(**extra) -> dict:
    return {"types": ITEM_TYPES, "rules": {k: list(v) for k, v in RULES.items()}, **extra}


@bp.get("/banks/<int:bank_id>/items/new")
@page_login_required(*AUTHOR_ROLES)
def new_item(bank_id: int):
    """The editor for a new item of the chosen type (a type picker first)."""
    session, user = db_session(), g.user
    bank_row = services.get_bank(session, user, bank_id, need=services.EDIT)
    item_type = request.args.get("type")
    if item_type not in ITEM_TYPES:
        return render_template("web/author/new_item.html", bank=bank_row, types=ITEM_TYPES)
    return render_template("web/author/editor.html", bank=bank_row, item=None, version=None,
                           editor={"mode": "new", "bank_id": bank_id, "type": item_type, "item": None},
                           **_editor_context())


@bp.get("/items/<int:item_id>")
@page_login_required(*AUTHOR_ROLES)
def edit_item(item_id: int):
    """The editor on an item's latest version, with its history."""
    session, user = db_session(), g.user
    version = services.get_version(session, user, item_id)
    bank_row = services.get_bank(session, user, version.item.bank_id)
    permission = services.bank_permission(session, user, bank_row)
    versions = services.list_versions(session, user, item_id)
    data = {"item_id": item_id, "version": version.version, "status": version.status,
            **services.version_as_dict(version)}
    return render_template("web/author/editor.html", bank=bank_row, item=version.item, version=version,
                           versions=versions, can_edit=permission in ("own", "edit"),
                           editor={"mode": "edit", "bank_id": bank_row.id, "type": version.type, "item": data,
                                   "can_edit": permission in ("own", "edit")},
                           **_editor_context())


@bp.get("/items/<int:item_id>/versions/<int:number>")
@page_login_required(*AUTHOR_ROLES)
def item_version(item_id: int, number: int):
    """One version, read-only: how the learner sees it and its full content (with the key)."""
    session, user = db_session(), g.user
    version = services.get_version(session, user, item_id, number)
    bank_row = services.get_bank(session, user, version.item.bank_id)
    content = services.version_as_dict(version)
    return render_template("web/author/version.html", bank=bank_row, version=version, content=content,
                           delivery=delivery_view(item_id, content, shuffle=False))


@bp.post("/preview")
@page_login_required(*AUTHOR_ROLES)
def preview():
    """A draft as the learner will see it: HTML sanitised exactly as on save, no key (for the live preview)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or data.get("type") not in ITEM_TYPES:
        return jsonify({"error": {"code": "bad_request", "message": "send a draft item with a known type"}}), 400
    inter = data.get("interaction") if isinstance(data.get("interaction"), dict) else {}
    clean_inter = dict(inter)
    for key in ("options", "left", "right"):
        if isinstance(inter.get(key), list):
            clean_inter[key] = [_clean_option(o) for o in inter[key] if isinstance(o, dict)]
    if isinstance(inter.get("gaps"), list):
        clean_inter["gaps"] = [{"id": str(gap.get("id", "")),
                                "options": [_clean_option(o) for o in gap.get("options") or [] if isinstance(o, dict)]}
                               for gap in inter["gaps"] if isinstance(gap, dict)]
    content = {"type": data["type"], "title": str(data.get("title") or "")[:200],
               "stem": sanitize_html(str(data.get("stem") or "")[:100_000]), "interaction": clean_inter,
               "scoring": {"points": (data.get("scoring") or {}).get("points", 1)} if isinstance(data.get("scoring"), dict) else {},
               "metadata": {}}
    return jsonify(delivery_view("preview", content, shuffle=False))


def _clean_option(option: dict) -> dict:
    return {"id": str(option.get("id", ""))[:64], "html": sanitize_html(str(option.get("html") or ""))}
