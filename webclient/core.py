"""Pages everyone uses: home, log in, log out, display settings; template helpers; vendor files."""

from __future__ import annotations

import functools
import hmac
from typing import Callable
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, g, redirect, render_template, request, send_file, session,
                   url_for)

from exam_engine.auth import services as auth_services
from exam_engine.auth.guard import csrf_token, login_session
from exam_engine.db import db_session, utcnow
from item_bank.errors import DomainError

from .vendor import missing_vendor_files, vendor_path

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

#: Where each role lands after logging in.
LANDING = {"learner": "learn.dashboard", "instructor": "author.banks", "admin": "author.banks",
           "examiner": "web.home_examiner"}

TEXT_SIZES = ("normal", "large", "larger")
CONTRASTS = ("normal", "high")

#: Pages get a strict policy: our own scripts and styles only, no inline script, nothing from elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def page_login_required(*roles: str) -> Callable:
    """Decorator for page views: anonymous callers go to the login page; a wrong role gets the 403 page."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if roles and user.role not in roles:
                abort(403, description=f"This page is for the role {' or '.join(roles)}; you are signed in as "
                                       f"{user.role}.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def display_settings() -> dict:
    """Text size and contrast: the user's choice in this browser session, else their accommodations."""
    chosen = session.get("display") or {}
    acc = (g.user.accommodations or {}) if g.get("user") is not None else {}
    text = chosen.get("text") or ("large" if acc.get("large_text") else "normal")
    contrast = chosen.get("contrast") or ("high" if acc.get("high_contrast") else "normal")
    return {"text": text if text in TEXT_SIZES else "normal", "contrast": contrast if contrast in CONTRASTS else "normal"}


def navigation(user) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(endpoint, label, section) of the main navigation for the caller's role."""
    if user is None:
        return []
    items = []
    if user.role == "learner":
        items.append(("learn.dashboard", "My exams", "learn"))
        items.append(("learn.credentials", "My credentials", "learn-credentials"))
    if user.role in ("instructor", "admin"):
        items.append(("author.banks", "Item banks", "author"))
        items.append(("exams.index", "Exams", "exams"))
    if user.role in ("examiner", "admin"):
        items.append(("web.home_examiner", "Live monitor", "monitor"))
    return items


@bp.app_context_processor
def _template_globals() -> dict:
    user = g.get("user")
    return {"current_user": user, "csrf_token": csrf_token, "display": display_settings(),
            "main_nav": navigation(user), "vendor_missing": missing_vendor_files()}


@bp.after_app_request
def _page_headers(response):  # noqa: ANN001, ANN202
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) may follow a login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def landing_url(user) -> str:  # noqa: ANN001
    return url_for(LANDING.get(user.role, "web.settings"))


@bp.get("/")
def home():
    """Anonymous callers log in; everyone else lands on their role's main page."""
    user = g.get("user")
    if user is None:
        return redirect(url_for("web.login"))
    return redirect(landing_url(user))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The log-in form; on success a cookie session (with its CSRF token) is started."""
    next_url = _safe_next(request.values.get("next"))
    error = None
    email = ""
    status = 200
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            error, status = "Your log-in form had expired. Please try again.", 400
        elif not email or not password:
            error, status = "Enter your e-mail address and your password.", 400
        else:
            cfg = current_app.config
            db = db_session()
            try:
                user = auth_services.authenticate(db, email=email, password=password,
                                                  ip=request.remote_addr or "unknown", now=utcnow(),
                                                  max_failures=cfg["LOGIN_MAX_FAILURES"], window_s=cfg["LOGIN_WINDOW_S"])
            except DomainError as exc:
                db.commit()  # keep the failure count
                error = ("Too many failed attempts. Wait a few minutes and try again." if exc.code == "rate_limited"
                         else "The e-mail address or password is not right.")
                status = exc.status
            else:
                db.commit()
                display = session.get("display")
                login_session(user)
                if display:
                    session["display"] = display
                g.user = user
                return redirect(next_url or landing_url(user))
    return render_template("web/login.html", error=error, email=email, next_url=next_url), status


@bp.post("/logout")
def logout():
    """End the cookie session (the engine checked the form's CSRF token before we run)."""
    display = session.get("display")
    session.clear()
    if display:
        session["display"] = display
    return redirect(url_for("web.login", logged_out=1))


@bp.route("/settings", methods=["GET", "POST"])
@page_login_required()
def settings():
    """Display settings: text size and contrast (defaults come from the user's accommodations)."""
    saved = False
    if request.method == "POST":
        text = request.form.get("text", "normal")
        contrast = request.form.get("contrast", "normal")
        session["display"] = {"text": text if text in TEXT_SIZES else "normal",
                              "contrast": contrast if contrast in CONTRASTS else "normal"}
        saved = True
    return render_template("web/settings.html", saved=saved, text_sizes=TEXT_SIZES)


@bp.get("/monitor")
@page_login_required("examiner", "instructor", "admin")
def home_examiner():
    """The live monitor of the exams the caller watches (the /monitor namespace)."""
    return render_template("web/monitor.html")


@bp.get("/assets/vendor/<name>")
def vendor(name: str):
    """A third-party browser file from node_modules (only the listed ones)."""
    path = vendor_path(name)
    if path is None:
        abort(404, description=f"The browser library {name} is not installed: run `make js`.")
    return send_file(path, mimetype="text/javascript", max_age=3600)
