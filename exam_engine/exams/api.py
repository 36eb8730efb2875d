"""REST: exams (write, version, publish, list, examiners), attempts (start, read, result, release)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth.guard import current_user, require
from ..db import db_session, utcnow
from ..errors import NotFound
from ..sessions import services as session_services
from ..sessions.schemas import OwnAttemptSchema, ResultSchema, SessionSummarySchema
from . import services
from .schemas import ExaminerAssignSchema, ExamListArgsSchema, ExamPageSchema, ExamSchema, ExamWriteSchema

blp = Blueprint("exams_api", __name__, url_prefix="/api/v1", description="Exams and attempts")


@blp.route("/exams")
class Exams(MethodView):
    @blp.arguments(ExamListArgsSchema, location="query")
    @blp.response(200, ExamPageSchema)
    def get(self, args):
        """Exams the caller may take (learners: published, with their attempts left) or manage."""
        rows, total = services.list_exams(db_session(), current_user(), now=utcnow(), page=args["page"],
                                          per_page=args["per_page"], q=args.get("q"))
        return {"items": rows, "page": args["page"], "per_page": args["per_page"], "total": total}

    @require("instructor", "admin")
    @blp.arguments(ExamWriteSchema)
    @blp.response(201, ExamSchema)
    def post(self, data):
        """Create an exam (version 1, draft)."""
        user, session = current_user(), db_session()
        version = services.create_exam(session, user, data["definition"], external_id=data.get("external_id"), now=utcnow())
        session.commit()
        return services.exam_out(session, user, version.exam, now=utcnow(), version=version)


@blp.route("/exams/<int:exam_id>")
class ExamById(MethodView):
    @blp.response(200, ExamSchema)
    def get(self, exam_id):
        """One exam: the live version for learners, the latest (with its definition) for its authors."""
        user, session = current_user(), db_session()
        exam = services.get_exam(session, exam_id)
        if not services.can_manage(user, exam) and not services.is_examiner_of(session, user, exam_id) \
                and (user.role != "learner" or exam.live_version is None):
            raise NotFound(f"no exam {exam_id}", code="exam_not_found")
        return services.exam_out(session, user, exam, now=utcnow())

    @require("instructor", "admin")
    @blp.arguments(ExamWriteSchema)
    @blp.response(200, ExamSchema)
    def put(self, data, exam_id):
        """Edit an exam: a draft in place; a published exam gets a new draft version."""
        user, session = current_user(), db_session()
        version = services.update_exam(session, user, exam_id, data["definition"], now=utcnow())
        session.commit()
        return services.exam_out(session, user, version.exam, now=utcnow(), version=version)


@blp.route("/exams/<int:exam_id>/versions")
class ExamVersions(MethodView):
    @require("instructor", "admin")
    @blp.response(200, ExamSchema(many=True))
    def get(self, exam_id):
        """The history of an exam, oldest first, each version with its definition (its authors only)."""
        user, session = current_user(), db_session()
        exam = services.managed_exam(session, user, exam_id)
        return [services.exam_out(session, user, exam, now=utcnow(), version=v)
                for v in services.list_versions(session, exam)]


@blp.route("/exams/<int:exam_id>/versions/<int:version>")
class ExamVersionById(MethodView):
    @require("instructor", "admin")
    @blp.response(200, ExamSchema)
    def get(self, exam_id, version):
        """One version of an exam, as it was published (a published version never changes)."""
        user, session = current_user(), db_session()
        exam = services.managed_exam(session, user, exam_id)
        return services.exam_out(session, user, exam, now=utcnow(), version=services.version_of(session, exam, version))


@blp.route("/exams/<int:exam_id>/publish")
class ExamPublish(MethodView):
    @require("instructor", "admin")
    @blp.response(200, ExamSchema)
    def post(self, exam_id):
        """Publish the latest draft after checking it can be assembled; it is frozen from now on."""
        user, session = current_user(), db_session()
        version = services.publish_exam(session, user, exam_id, now=utcnow())
        session.commit()
        return services.exam_out(session, user, version.exam, now=utcnow(), version=version)


@blp.route("/exams/<int:exam_id>/qti")
class ExamQti(MethodView):
    @require("instructor", "admin")
    def get(self, exam_id):
        """Export the exam and every item it can draw as a QTI 3.0 content package (zip)."""
        from io import BytesIO

        from flask import send_file

        from .interchange import export_exam
        from flask import current_app
        data = export_exam(db_session(), current_user(), exam_id, xsd_dir=current_app.config.get("QTI_XSD_DIR"))
        return send_file(BytesIO(data), mimetype="application/zip", as_attachment=True,
                         download_name=f"exam-{exam_id}-qti3.zip")


@blp.route("/exams/<int:exam_id>/examiners")
class ExamExaminers(MethodView):
    @require("instructor", "admin")
    @blp.arguments(ExaminerAssignSchema)
    @blp.response(204)
    def post(self, data, exam_id):
        """Assign an examiner to watch and act on the exam's attempts."""
        from ..app import _find_user
        user, session = current_user(), db_session()
        examiner = _find_user(session, data["email"])
        if examiner is None:
            raise NotFound(f"no user {data['email']}", code="user_not_found")
        services.assign_examiner(session, user, exam_id, examiner)
        session.commit()


@blp.route("/exams/<int:exam_id>/release")
class ExamRelease(MethodView):
    @require("instructor", "admin")
    @blp.response(204)
    def post(self, exam_id):
        """Release every result of the exam (release policy `manual`)."""
        user, session = current_user(), db_session()
        exam = services.managed_exam(session, user, exam_id)
        exam.results_released_at = utcnow()
        session.commit()


@blp.route("/exams/<int:exam_id>/sessions")
class ExamSessions(MethodView):
    @blp.response(201, SessionSummarySchema)
    def post(self, exam_id):
        """Start an attempt (or get the one in progress, with status 200)."""
        user, session = current_user(), db_session()
        attempt, created = session_services.start_session(session, user, exam_id, now=utcnow(),
                                                          client_ip=request.remote_addr,
                                                          user_agent=request.headers.get("User-Agent"))
        session.commit()
        return session_services.summary(attempt, utcnow()), 201 if created else 200


@blp.route("/sessions")
class OwnSessions(MethodView):
    @blp.response(200, OwnAttemptSchema(many=True))
    def get(self):
        """The caller's own attempts, newest first; scores only where the result is released."""
        return session_services.list_own_attempts(db_session(), current_user(), utcnow())


@blp.route("/sessions/<string:session_id>")
class SessionById(MethodView):
    @blp.response(200, SessionSummarySchema)
    def get(self, session_id):
        """An attempt's summary (its learner, the exam's authors and examiners)."""
        attempt = session_services.get_for_viewer(db_session(), current_user(), session_id)
        return session_services.summary(attempt, utcnow())


@blp.route("/sessions/<string:session_id>/result")
class SessionResult(MethodView):
    @blp.response(200, ResultSchema)
    def get(self, session_id):
        """The result: for the learner once released (exam policy), for staff always. No keys."""
        return session_services.result_for(db_session(), current_user(), session_id, now=utcnow())

