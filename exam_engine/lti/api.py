"""REST: LTI platform registrations (admin), the tool's registration data, resource links, the score outbox,
NRPS roster sync and the OneRoster CSV import."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from item_bank.errors import ValidationFailed

from ..auth.guard import current_user, require
from ..db import db_session, utcnow
from . import ags, nrps, roster, services
from .keys import load_tool_key
from .schemas import (CourseSchema, LinkExamSchema, MemberSchema, OutboxArgsSchema, OutboxRowSchema, PlatformSchema,
                      PlatformUpdateSchema, PlatformWriteSchema, ResourceLinkSchema, RosterReportSchema,
                      RosterSyncSchema, ToolInfoSchema)
from .views import LOGIN_PATH, _public, launch_url

blp = Blueprint("lti_api", __name__, url_prefix="/api/v1", description="LTI 1.3 registrations, links, grades, rosters")

MAX_CSV_BYTES = 20 * 1024 * 1024


@blp.route("/lti/tool")
class ToolInfo(MethodView):
    @require("admin")
    @blp.response(200, ToolInfoSchema)
    def get(self):
        """The URLs and key id to enter in the LMS when registering this tool."""
        key = load_tool_key(current_app.config)
        return {"login_url": _public(LOGIN_PATH), "launch_url": launch_url(), "redirect_uris": [launch_url()],
                "deep_linking_url": launch_url(), "jwks_url": _public("/lti/jwks.json"), "kid": key.kid}


@blp.route("/lti/platforms")
class Platforms(MethodView):
    @require("admin")
    @blp.response(200, PlatformSchema(many=True))
    def get(self):
        """Registered platforms."""
        return services.list_platforms(db_session())

    @require("admin")
    @blp.arguments(PlatformWriteSchema)
    @blp.response(201, PlatformSchema)
    def post(self, data):
        """Register a platform (issuer, client id, deployment ids, endpoints, key set URL or key set)."""
        session = db_session()
        platform = services.register_platform(session, data, now=utcnow())
        session.commit()
        return platform


@blp.route("/lti/platforms/<int:platform_id>")
class PlatformById(MethodView):
    @require("admin")
    @blp.response(200, PlatformSchema)
    def get(self, platform_id):
        """One registration."""
        return services.get_platform(db_session(), platform_id)

    @require("admin")
    @blp.arguments(PlatformUpdateSchema(partial=True))
    @blp.response(200, PlatformSchema)
    def patch(self, data, platform_id):
        """Change a registration (issuer and client id stay)."""
        session = db_session()
        platform = services.update_platform(session, platform_id, data)
        session.commit()
        return platform


@blp.route("/lti/resource-links")
class ResourceLinks(MethodView):
    @require("instructor", "admin")
    @blp.response(200, ResourceLinkSchema(many=True))
    def get(self):
        """Resource links placed in courses, with the exam each opens."""
        return services.list_resource_links(db_session())


@blp.route("/lti/resource-links/<int:link_id>/exam")
class ResourceLinkExam(MethodView):
    @require("instructor", "admin")
    @blp.arguments(LinkExamSchema)
    @blp.response(200, ResourceLinkSchema)
    def put(self, data, link_id):
        """Point a resource link at an exam you manage."""
        session = db_session()
        link = services.link_exam(session, current_user(), link_id, data["exam_id"])
        session.commit()
        return link


@blp.route("/lti/resource-links/<int:link_id>/roster-sync")
class RosterSync(MethodView):
    @require("instructor", "admin")
    @blp.response(200, RosterSyncSchema)
    def post(self, link_id):
        """Import the course's members from the platform (Names and Role Provisioning Services)."""
        session = db_session()
        platform, course = nrps.roster_source(session, link_id)
        memberships_url = course.memberships_url
        # End the read (nothing was written) before calling the platform: its token endpoint may fetch our
        # JWKS meanwhile, and on SQLite an open transaction would hold the lock that request needs.
        session.commit()
        members = nrps.fetch_members(platform, memberships_url, load_tool_key(current_app.config),
                                     http=current_app.extensions.get("exam_engine.lti_http"))
        report = nrps.import_members(session, platform, course, members, now=utcnow())
        report["course_id"] = course.id
        session.commit()
        return report


@blp.route("/lti/score-outbox")
class ScoreOutbox(MethodView):
    @require("admin")
    @blp.arguments(OutboxArgsSchema, location="query")
    @blp.response(200, OutboxRowSchema(many=True))
    def get(self, args):
        """Scores queued for or sent to platforms, newest first (what is pending, why it failed)."""
        return ags.outbox_rows(db_session(), status=args.get("status"))


@blp.route("/roster/import")
class RosterImport(MethodView):
    @require("admin")
    @blp.response(200, RosterReportSchema)
    def post(self):
        """Import OneRoster CSV files (multipart fields `users`, `enrollments`, optional `classes`); per-row report."""
        from flask import request
        texts = {}
        for field in ("users", "enrollments", "classes"):
            upload = request.files.get(field)
            if upload is not None:
                data = upload.read(MAX_CSV_BYTES + 1)
                if len(data) > MAX_CSV_BYTES:
                    raise ValidationFailed(f"{field} is larger than {MAX_CSV_BYTES} bytes", code="roster_too_large")
                try:
                    texts[field] = data.decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise ValidationFailed(f"{field} is not UTF-8", code="roster_bad_encoding") from None
        if not texts.get("users") and not texts.get("enrollments"):
            raise ValidationFailed("send users.csv and/or enrollments.csv as multipart fields `users`, `enrollments`",
                                   code="roster_missing")
        session = db_session()
        report = roster.import_roster(session, users_csv=texts.get("users"), enrollments_csv=texts.get("enrollments"),
                                      classes_csv=texts.get("classes"), now=utcnow())
        session.commit()
        return report


@blp.route("/roster/courses")
class Courses(MethodView):
    @require("instructor", "admin")
    @blp.response(200, CourseSchema(many=True))
    def get(self):
        """Courses known from LTI launches and roster imports."""
        return roster.list_courses(db_session())


@blp.route("/roster/courses/<int:course_id>/members")
class CourseMembers(MethodView):
    @require("instructor", "admin")
    @blp.response(200, MemberSchema(many=True))
    def get(self, course_id):
        """A course's enrolments."""
        return roster.course_members(db_session(), course_id)
