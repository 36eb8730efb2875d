"""REST: tokens, the browser session, the caller's account, privacy export, user administration."""

from __future__ import annotations

from flask import current_app, request, session as cookie
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from ..db import db_session, utcnow
from . import services
from .guard import bearer_token, current_user, login_session, require
from .models import User
from .privacy import export_user_data
from .schemas import (
    CredentialsSchema, PasswordChangeSchema, SessionLoginSchema, TokenSchema, UserCreateSchema, UserListArgsSchema,
    UserPageSchema, UserSchema, UserUpdateSchema,
)

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and authentication")


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _authenticate(data: dict) -> User:
    cfg = current_app.config
    session = db_session()
    try:
        user = services.authenticate(session, email=data["email"], password=data["password"], ip=_client_ip(),
                                     now=utcnow(), max_failures=cfg["LOGIN_MAX_FAILURES"], window_s=cfg["LOGIN_WINDOW_S"])
    except Exception:
        session.commit()  # keep the failure count even though the login is refused
        raise
    return user


@blp.route("/auth/token")
class Token(MethodView):
    @blp.arguments(CredentialsSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):
        """Exchange e-mail and password for a bearer token (rate limited)."""
        user = _authenticate(data)
        token, row = services.issue_token(db_session(), user, now=utcnow(), ttl_s=current_app.config["TOKEN_TTL_S"])
        db_session().commit()
        return {"access_token": token, "token_type": "bearer", "expires_at": row.expires_at, "user": user}


@blp.route("/auth/session")
class CookieSession(MethodView):
    @blp.arguments(CredentialsSchema)
    @blp.response(200, SessionLoginSchema)
    def post(self, data):
        """Log in the browser: sets the session cookie and returns the CSRF token for later writes."""
        user = _authenticate(data)
        db_session().commit()
        login_session(user)
        return {"user": user, "csrf_token": cookie["csrf"]}


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self):
        """Revoke the bearer token used for this call, or end the cookie session."""
        token = bearer_token()
        if token:
            services.revoke_token(db_session(), token, now=utcnow())
            db_session().commit()
        cookie.clear()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self):
        """The caller's account."""
        return current_user()


@blp.route("/me/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def post(self, data):
        """Change the password; every token and browser session of the account ends."""
        user = current_user()
        services.change_password(db_session(), user, current=data["current_password"], new=data["new_password"], now=utcnow())
        db_session().commit()
        cookie.clear()


@blp.route("/me/export")
class MyData(MethodView):
    @blp.response(200)
    def get(self):
        """Everything held about the caller, as JSON (data portability)."""
        return export_user_data(db_session(), current_user())


@blp.route("/users")
class Users(MethodView):
    @require("admin")
    @blp.arguments(UserListArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """List accounts (admin), filtered by role or e-mail/name text."""
        session = db_session()
        stmt = select(User)
        if args.get("role"):
            stmt = stmt.where(User.role == args["role"])
        if args.get("q"):
            q = f"%{args['q'].lower()}%"
            stmt = stmt.where(func.lower(User.email).like(q) | func.lower(User.name).like(q))
        total = session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = session.scalars(stmt.order_by(User.id).offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
        return {"items": list(rows), "page": args["page"], "per_page": args["per_page"], "total": total}

    @require("admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create an account (admin)."""
        user = services.create_user(db_session(), **data)
        db_session().commit()
        return user


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @require("admin")
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """One account (admin)."""
        return services.get_user(db_session(), user_id)

    @require("admin")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, data, user_id):
        """Change an account's name, role, active flag or accommodations (admin)."""
        session = db_session()
        user = services.get_user(session, user_id)
        if "accommodations" in data:
            services.set_accommodations(user, data.pop("accommodations"))
        for key, value in data.items():
            setattr(user, key, value)
        if data.get("is_active") is False or "role" in data:
            user.auth_epoch += 1
        session.commit()
        return user


@blp.route("/users/<int:user_id>/export")
class UserData(MethodView):
    @require("admin")
    @blp.response(200)
    def get(self, user_id):
        """Everything held about a user (admin, for a subject access request)."""
        session = db_session()
        return export_user_data(session, services.get_user(session, user_id))


@blp.route("/users/<int:user_id>/erase")
class UserErase(MethodView):
    @require("admin")
    @blp.response(200, UserSchema)
    def post(self, user_id):
        """Erase a user's personal data; results and credentials stay, pseudonymised (admin)."""
        session = db_session()
        user = services.get_user(session, user_id)
        services.erase_user(session, user, now=utcnow())
        session.commit()
        return user
