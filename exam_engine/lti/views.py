"""The LTI endpoints the platform and the browser reach: JWKS, login initiation, launch, deep-linking picker.

They are cross-site form posts authenticated by what they carry (the signed id_token, the
launch id), so they are exempt from the cookie CSRF check (auth.guard.CSRF_EXEMPT_PATHS).
"""

from __future__ import annotations

import html

from flask import Blueprint, current_app, jsonify, make_response, redirect, request, url_for
from pylti1p3.contrib.flask import FlaskCookieService, FlaskRequest
from pylti1p3.exception import LtiException, OIDCException
from werkzeug.exceptions import MethodNotAllowed, NotFound as WerkzeugNotFound

from item_bank.errors import DomainError

from ..auth.guard import csrf_token, login_session
from ..db import db_session, utcnow
from . import deep_linking, services
from .adapter import DbSessionService, DbToolConf, ToolMessageLaunch, ToolOIDCLogin
from .errors import LaunchRefused
from .keys import jwks, load_tool_key

bp = Blueprint("lti", __name__, url_prefix="/lti")

LOGIN_PATH, LAUNCH_PATH, DEEP_LINK_PATH = "/lti/login", "/lti/launch", "/lti/deep-link"


def _public(path: str) -> str:
    return current_app.config.get("LTI_PUBLIC_URL", current_app.config["PUBLIC_URL"]).rstrip("/") + path


def launch_url() -> str:
    """The redirect URI registered with platforms (must match byte for byte)."""
    return _public(LAUNCH_PATH)


@bp.get("/jwks.json")
def tool_jwks():
    """The tool's public keys (platforms verify our client assertions and deep-linking responses with them)."""
    session = db_session()
    body = jwks(session, load_tool_key(current_app.config), utcnow())
    session.commit()
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """OIDC third-party login initiation: remember a nonce, set the state cookie, redirect to the platform."""
    session = db_session()
    now = utcnow()
    flask_request = FlaskRequest()
    conf = DbToolConf(session, load_tool_key(current_app.config))
    oidc = ToolOIDCLogin(flask_request, conf, session_service=DbSessionService(flask_request, session, now),
                         cookie_service=FlaskCookieService(flask_request))
    target = flask_request.get_param("target_link_uri") or launch_url()
    if not target.startswith(_public("/")):
        raise LaunchRefused("target_link_uri is not this tool", code="lti_bad_target")
    try:
        response = oidc.redirect(launch_url())
    except (OIDCException, LtiException) as exc:
        code = "lti_unknown_platform" if "registration" in str(exc).lower() else "lti_login_invalid"
        raise LaunchRefused(f"login initiation refused: {exc}", code=code) from exc
    session.commit()
    return response


@bp.post("/launch")
def launch():
    """The platform's form post with the id_token: validate, log the user in, go to the exam (or the picker)."""
    session = db_session()
    now = utcnow()
    key = load_tool_key(current_app.config)
    flask_request = FlaskRequest()
    conf = DbToolConf(session, key)
    message = ToolMessageLaunch(flask_request, conf, DbSessionService(flask_request, session, now),
                                requests_session=current_app.extensions.get("exam_engine.lti_http"))
    try:
        message.validate()
    except DomainError:
        session.commit()  # a consumed nonce stays consumed
        raise
    claims = message.get_launch_data()
    outcome = services.accept_launch(session, conf.platform, claims, now=now)
    session.commit()
    login_session(outcome["user"])
    if outcome["kind"] == "deep_link":
        return redirect(url_for("lti.picker", launch=outcome["launch_id"]), 303)
    if outcome["exam_id"] is None:
        return jsonify({"status": "not_configured", "resource_link_id": outcome["resource_link"].id,
                        "message": "no exam is linked to this resource link yet; ask your instructor"}), 200
    return redirect(_landing(outcome["exam_id"]), 303)


def _landing(exam_id: int) -> str:
    """The web client's exam page when it exists, else our JSON landing."""
    path = f"/exams/{exam_id}"
    try:
        current_app.url_map.bind("").match(path, method="GET")
        return path
    except (WerkzeugNotFound, MethodNotAllowed):
        return url_for("lti.landing", exam_id=exam_id)


@bp.get("/exams/<int:exam_id>")
def landing(exam_id: int):
    """Where a launch lands when the web client has no exam page: what to do next, as JSON."""
    return jsonify({"exam_id": exam_id, "start": f"/api/v1/exams/{exam_id}/sessions",
                    "exam": f"/api/v1/exams/{exam_id}", "csrf_token": csrf_token()})


@bp.errorhandler(DomainError)
def _refused(exc: DomainError):  # noqa: ANN202
    """A browser (Accept: text/html) gets a short page; anything else the JSON error body."""
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cannot open the exam</title></head>'
                f"<body><main><h1>This link cannot be opened</h1><p>{html.escape(exc.message)}</p>"
                f"<p>Go back to your course and open the link again; if it keeps failing, tell your instructor "
                f"this code: <code>{html.escape(exc.code)}</code>.</p></main></body></html>")
        return _frameable(make_response(page, exc.status))
    return jsonify({"error": exc.to_dict()}), exc.status


PICKER = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Choose an exam</title></head>
<body><main><h1>Choose an exam for this course</h1>{body}</main></body></html>"""


@bp.get("/deep-link")
def picker():
    """The catalogue an instructor picks from (one form per exam)."""
    launch_id = request.args.get("launch", "")
    _launch, exams = deep_linking.catalogue(db_session(), launch_id, now=utcnow())
    if not exams:
        body = "<p>You have no published exam yet.</p>"
    else:
        forms = []
        for exam in exams:
            forms.append(
                f'<li><form method="post" action="{DEEP_LINK_PATH}"><input type="hidden" name="launch" '
                f'value="{html.escape(launch_id)}"><input type="hidden" name="exam_id" value="{exam["id"]}">'
                f'<button type="submit">{html.escape(exam["title"])}</button> {html.escape(exam["description"] or "")}'
                f"</form></li>")
        body = "<ul>" + "".join(forms) + "</ul>"
    return _frameable(make_response(PICKER.format(body=body)))


def _frameable(response):  # noqa: ANN001, ANN202
    """Platforms show the picker in an iframe; its launch id, not the frame, protects it."""
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    response.headers["X-Frame-Options"] = "ALLOWALL"
    return response


@bp.post("/deep-link")
def deep_link_response():
    """The instructor's choice, returned to the platform as an auto-posted signed JWT."""
    session = db_session()
    exam_id = request.form.get("exam_id", "")
    if not exam_id.isdigit():
        raise LaunchRefused("exam_id must be a number", code="validation_error", status=422)
    return_url, token = deep_linking.respond(session, request.form.get("launch", ""), int(exam_id),
                                             load_tool_key(current_app.config), launch_url=launch_url(), now=utcnow())
    session.commit()
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Returning to the course</title></head>'
            f'<body><form id="lti-dl" method="post" action="{html.escape(return_url)}">'
            f'<input type="hidden" name="JWT" value="{html.escape(token)}"><noscript><button type="submit">Continue'
            f"</button></noscript></form><script>document.getElementById('lti-dl').submit();</script></body></html>")
    return _frameable(make_response(page))
