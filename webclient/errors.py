"""HTML error pages for page routes; the API keeps its JSON errors.

The engine installs one JSON error mapper for everything. We wrap it: a
request for a page (any path outside the API, the sockets and the health
check) gets a readable HTML page with the same status; anything else goes to
the engine's mapper unchanged.
"""

from __future__ import annotations

import logging

from flask import Flask, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from item_bank.errors import DomainError

log = logging.getLogger("webclient.errors")

#: Our page blueprints: their errors are always pages.
PAGE_BLUEPRINTS = {"web", "author", "exams", "learn", "public"}
#: Paths that are machine interfaces: their errors stay JSON.
MACHINE_PREFIXES = ("/api/", "/socket.io", "/.well-known/", "/healthz", "/assets/")

TITLES = {400: "Bad request", 401: "Please log in", 403: "Not allowed", 404: "Page not found",
          405: "Not allowed", 409: "Conflict", 413: "Too large", 429: "Too many requests", 500: "Something went wrong"}
EXPLANATIONS = {
    403: "You are signed in, but this page is not open to your account.",
    404: "There is no page at this address. It may have moved, or the link may be mistyped.",
    500: "The server met an unexpected problem. It has been logged; please try again in a moment.",
}


def is_page_request() -> bool:
    """True when the caller asked for a page (HTML), not an API resource or a public JSON document.

    Our pages' errors are HTML. A URL that matches no route is a page error unless it is under a machine
    prefix or the client prefers JSON; any other engine route (public credential documents, status lists,
    the issuer profile...) keeps the engine's JSON errors.
    """
    if request.blueprint in PAGE_BLUEPRINTS:
        return True
    if request.url_rule is not None or request.path.startswith(MACHINE_PREFIXES):
        return False
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) != "application/json"


def render_error(status: int, detail: str | None = None):  # noqa: ANN201
    """The error page for `status`."""
    title = TITLES.get(status, "Error")
    explanation = EXPLANATIONS.get(status) or detail or title
    if status in EXPLANATIONS and detail and status != 500:
        explanation = detail
    try:
        return render_template("web/error.html", status=status, title=title, explanation=explanation), status
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        log.exception("error page failed")
        return f"<!doctype html><title>{status} {title}</title><h1>{title}</h1>", status, {"Content-Type": "text/html"}


def install(app: Flask) -> None:
    """Wrap the engine's error handlers so page requests get HTML."""
    spec = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})

    def wrap(exc_class: type[BaseException]) -> None:
        previous = spec.get(exc_class)

        def handler(exc):  # noqa: ANN001, ANN202
            if not is_page_request():
                if previous is not None:
                    return previous(exc)
                raise exc
            if isinstance(exc, HTTPException):
                return render_error(exc.code or 500, exc.description if exc.code != 404 else None)
            if isinstance(exc, DomainError):
                if exc.status == 401:
                    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
                return render_error(exc.status, exc.message)
            log.exception("unhandled error on a page", extra={"error_type": type(exc).__name__,
                                                               "user_id": getattr(g.get("user"), "id", None)})
            return render_error(500)

        app.register_error_handler(exc_class, handler)

    for exc_class in (HTTPException, DomainError, Exception):
        wrap(exc_class)
