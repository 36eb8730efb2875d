"""REST: achievements (instructors), the wallet (learners), verification (public), revocation (admins),
and the public documents: credentials, status lists, the issuer profile, its achievements and keys."""

from __future__ import annotations

import json

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth.guard import current_user, require
from ..db import db_session, utcnow
from . import services
from .schemas import (AchievementListArgsSchema, AchievementListSchema, AchievementSchema, AchievementWriteSchema,
                      CredentialDetailSchema, RevokedSchema, RevokeSchema, VerificationReportSchema,
                      VerifyRequestSchema, WalletArgsSchema, WalletSchema)

blp = Blueprint("credentials", __name__, url_prefix="/api/v1", description="Achievements and credentials")
public_blp = Blueprint("credentials_public", __name__, url_prefix="",
                       description="Public credential documents: credentials, status lists, issuer, keys")


def _ctx() -> services.IssuerContext:
    return services.issuer_context(current_app)


# --- achievements (instructors and admins) ----------------------------------------------------------

@blp.route("/achievements")
class Achievements(MethodView):
    @require("instructor", "admin")
    @blp.arguments(AchievementListArgsSchema, location="query")
    @blp.response(200, AchievementListSchema)
    def get(self, args):
        """The caller's achievements (admins: all, or one owner's)."""
        session = db_session()
        rows = services.list_achievements(session, current_user(), owner_id=args.get("owner_id"))
        ctx, awarding = _ctx(), services.exams_awarding(session)
        return {"items": [services.achievement_out(session, a, ctx, awarding) for a in rows]}

    @require("instructor", "admin")
    @blp.arguments(AchievementWriteSchema)
    @blp.response(201, AchievementSchema)
    def post(self, data):
        """Define an achievement (a badge, micro-credential or certificate; a pathway when it has a rule)."""
        session = db_session()
        achievement = services.create_achievement(session, current_user(), data, now=utcnow())
        session.commit()
        return services.achievement_out(session, achievement, _ctx())


@blp.route("/achievements/<int:achievement_id>")
class AchievementById(MethodView):
    @require("instructor", "admin")
    @blp.response(200, AchievementSchema)
    def get(self, achievement_id):
        """One of the caller's achievements, with the exams that award it."""
        session = db_session()
        achievement = services.managed_achievement(session, current_user(), achievement_id)
        return services.achievement_out(session, achievement, _ctx())

    @require("instructor", "admin")
    @blp.arguments(AchievementWriteSchema)
    @blp.response(200, AchievementSchema)
    def put(self, data, achievement_id):
        """Replace an achievement's definition (credentials already issued keep what they state)."""
        session = db_session()
        achievement = services.update_achievement(session, current_user(), achievement_id, data, now=utcnow())
        session.commit()
        return services.achievement_out(session, achievement, _ctx())

    @require("instructor", "admin")
    @blp.response(204)
    def delete(self, achievement_id):
        """Delete an achievement that nobody holds and no pathway lists."""
        session = db_session()
        services.delete_achievement(session, current_user(), achievement_id)
        session.commit()


# --- the wallet --------------------------------------------------------------------------------------

@blp.route("/credentials")
class Wallet(MethodView):
    @require()
    @blp.arguments(WalletArgsSchema, location="query")
    @blp.response(200, WalletSchema)
    def get(self, args):
        """The caller's credentials (admins: `user_id` for another learner's)."""
        session, ctx = db_session(), _ctx()
        rows = services.wallet(session, current_user(), user_id=args.get("user_id"))
        return {"items": [services.credential_summary(session, r, ctx) for r in rows]}


@blp.route("/credentials/<credential_id>")
class WalletCredential(MethodView):
    @require()
    @blp.response(200, CredentialDetailSchema)
    def get(self, credential_id):
        """One of the caller's credentials, signed, in both formats."""
        session = db_session()
        row = services.held_credential(session, current_user(), credential_id)
        return {**services.credential_summary(session, row, _ctx()), "credential": row.credential, "jwt": row.jwt}


def _filename(row) -> str:  # noqa: ANN001
    return "credential-" + row.id.rsplit(":", 1)[1]


@blp.route("/credentials/<credential_id>/download.json")
@require()
@blp.doc(responses={200: {"description": "the signed credential (JSON-LD with its Data Integrity proof)"}})
def download_json(credential_id):
    """Download a credential as JSON (with its embedded eddsa-rdfc-2022 proof)."""
    row = services.held_credential(db_session(), current_user(), credential_id)
    return Response(json.dumps(row.credential, indent=2), mimetype="application/vc+ld+json",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(row)}.json"'})


@blp.route("/credentials/<credential_id>/download.jwt")
@require()
@blp.doc(responses={200: {"description": "the credential as a compact VC-JWT (EdDSA)"}})
def download_jwt(credential_id):
    """Download a credential as a compact VC-JWT."""
    row = services.held_credential(db_session(), current_user(), credential_id)
    return Response(row.jwt, mimetype="application/vc+jwt",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(row)}.jwt"'})


@blp.route("/credentials/<credential_id>/revoke", methods=["POST"])
@require("admin")
@blp.arguments(RevokeSchema)
@blp.response(200, RevokedSchema)
def revoke(data, credential_id):
    """Revoke a credential with a reason; the pathway credentials resting on it are revoked too."""
    session, ctx = db_session(), _ctx()
    rows = services.revoke(session, current_user(), credential_id, reason=data["reason"], now=utcnow())
    session.commit()
    return {"revoked": [services.credential_summary(session, r, ctx) for r in rows]}


@blp.route("/credentials/verify", methods=["POST"])
@blp.arguments(VerifyRequestSchema)
@blp.response(200, VerificationReportSchema)
def verify(data):
    """Verify any credential (JSON or JWT): proof, structure, schema, issuer, dates, revocation status. Public."""
    session = db_session()
    report = services.verify_credential(session, _ctx(), data["credential"], now=utcnow(),
                                        check_status=data["check_status"])
    session.commit()  # a status list signed on the way is kept
    return report


@blp.route("/credentials/<credential_id>/verification")
@blp.response(200, VerificationReportSchema)
def verification(credential_id):
    """The verification report of one of our credentials, for its public page. Public."""
    session = db_session()
    row = services.public_credential(session, credential_id)
    report = services.verify_credential(session, _ctx(), row.credential, now=utcnow())
    session.commit()
    return report


# --- public documents -----------------------------------------------------------------------------------

@public_blp.route("/credentials/<credential_id>")
@public_blp.response(200)
def public_credential(credential_id):
    """A credential's public JSON (its id is unguessable; revocation shows through its status list)."""
    return services.public_credential(db_session(), credential_id).credential


@public_blp.route("/status/<int:list_id>")
@public_blp.response(200)
def status_list(list_id):
    """The signed BitstringStatusListCredential named by credentials' `credentialStatus`."""
    session = db_session()
    document = services.status_list_document(session, _ctx(), list_id, now=utcnow())
    session.commit()
    return document


@public_blp.route("/.well-known/jwks.json")
@public_blp.response(200)
def jwks():
    """The issuer's public keys (current first, then retired ones); kid = did:key verification method."""
    ring = _ctx().ring_loader()
    return ring.jwks() if ring is not None else {"keys": []}


@public_blp.route("/issuer")
@public_blp.response(200)
def issuer():
    """The issuer's public Profile with its keys."""
    return services.issuer_document(db_session(), _ctx())


@public_blp.route("/issuer/achievements")
@public_blp.arguments(AchievementListArgsSchema, location="query")
@public_blp.response(200)
def issuer_achievements(args):
    """The achievements this issuer awards (Open Badges Achievement JSON), optionally one instructor's."""
    return {"items": services.public_achievements(db_session(), _ctx(), owner_id=args.get("owner_id"))}


@public_blp.route("/achievements/<int:achievement_id>")
@public_blp.response(200)
def public_achievement(achievement_id):
    """An achievement's public Open Badges JSON (the `id` of the achievement in every credential)."""
    return services.public_achievement(services.get_achievement(db_session(), achievement_id), _ctx())
