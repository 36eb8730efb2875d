"""REST: proctoring notices and consent, flags and their review, reports, exam summaries, collusion screening,
webcam snapshots. Thin views: parse, call one service, commit, emit after the commit.
"""

from __future__ import annotations

from io import BytesIO

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth.guard import current_user
from ..db import db_session, utcnow
from ..errors import NotFound
from ..exams import services as exam_services
from . import notify, reports, services
from .schemas import (
    CollusionArgsSchema, CollusionSchema, ConsentSchema, FlagListArgsSchema, FlagListSchema, FlagSchema, NoticeSchema,
    PolicySchema, ReportSchema, ReviewSchema, SnapshotListSchema, SnapshotSchema, SummarySchema,
)

blp = Blueprint("proctoring", __name__, url_prefix="/api/v1", description="Proctoring: flags, reports, snapshots")


@blp.route("/exams/<int:exam_id>/proctoring/notice")
class Notice(MethodView):
    @blp.response(200, NoticeSchema)
    def get(self, exam_id):
        """What the exam records and what may happen: shown to the learner before starting."""
        user, session = current_user(), db_session()
        exam = exam_services.get_exam(session, exam_id)
        if exam.live_version is None and not exam_services.can_manage(user, exam):
            raise NotFound(f"no exam {exam_id}", code="exam_not_found")
        version = exam_services.live_version(session, exam) if exam.live_version else exam_services.version_of(session, exam)
        return services.notice_for_definition(version.definition)


@blp.route("/exams/<int:exam_id>/proctoring/policy")
class Policy(MethodView):
    @blp.response(200, PolicySchema)
    def get(self, exam_id):
        """The exam's effective proctoring policy (authors and examiners), with stored settings that were ignored."""
        return services.effective_policy(db_session(), current_user(), exam_id)


@blp.route("/sessions/<string:session_id>/proctoring/consent")
class Consent(MethodView):
    @blp.response(200, ConsentSchema)
    def post(self, session_id):
        """The learner accepts the proctoring notice of their attempt (webcam snapshots need it)."""
        session = db_session()
        out = reports.record_consent(session, current_user(), session_id, now=utcnow())
        session.commit()
        return out


@blp.route("/sessions/<string:session_id>/proctoring/snapshots")
class Snapshots(MethodView):
    @blp.response(201, SnapshotSchema)
    def post(self, session_id):
        """Upload a webcam snapshot of the caller's own attempt: the image as the body (image/jpeg, png, webp)."""
        upload = request.files.get("file")
        if upload is not None:
            content_type, data = upload.mimetype or "", upload.read(reports.MAX_SNAPSHOT_BYTES + 1)
        else:
            content_type, data = request.mimetype or "", request.get_data(cache=False)
        session = db_session()
        out = reports.store_snapshot(session, current_user(), session_id, content_type=content_type, data=data,
                                     now=utcnow())
        session.commit()
        return out

    @blp.response(200, SnapshotListSchema)
    def get(self, session_id):
        """The attempt's snapshots (the exam's examiners)."""
        return {"snapshots": reports.list_snapshots(db_session(), current_user(), session_id)}


@blp.route("/proctoring/snapshots/<int:snapshot_id>")
class SnapshotImage(MethodView):
    def get(self, snapshot_id):
        """The image of a snapshot (the exam's examiners)."""
        content_type, data = reports.snapshot_image(db_session(), current_user(), snapshot_id)
        resp = send_file(BytesIO(data), mimetype=content_type, download_name=f"snapshot-{snapshot_id}")
        resp.headers["Cache-Control"] = "private, no-store"
        resp.headers["Content-Security-Policy"] = "default-src 'none'"
        return resp


@blp.route("/exams/<int:exam_id>/proctoring/flags")
class ExamFlags(MethodView):
    @blp.arguments(FlagListArgsSchema, location="query")
    @blp.response(200, FlagListSchema)
    def get(self, args, exam_id):
        """Flags of every attempt of the exam (`?status=open`), newest first."""
        return {"flags": services.list_flags(db_session(), current_user(), exam_id=exam_id, status=args.get("status"))}


@blp.route("/sessions/<string:session_id>/proctoring/flags")
class SessionFlags(MethodView):
    @blp.arguments(FlagListArgsSchema, location="query")
    @blp.response(200, FlagListSchema)
    def get(self, args, session_id):
        """Flags of one attempt."""
        return {"flags": services.list_flags(db_session(), current_user(), session_id=session_id,
                                             status=args.get("status"))}


@blp.route("/proctoring/flags/<int:flag_id>/review")
class FlagReview(MethodView):
    @blp.arguments(ReviewSchema)
    @blp.response(200, FlagSchema)
    def post(self, data, flag_id):
        """Confirm or dismiss a flag with a note (the exam's examiners); the attempt's risk is recomputed."""
        session = db_session()
        out, effects = services.review_flag(session, current_user(), flag_id, status=data["status"], note=data["note"],
                                            now=utcnow())
        session.commit()
        notify.deliver(effects)
        return out


@blp.route("/sessions/<string:session_id>/proctoring/report")
class Report(MethodView):
    @blp.response(200, ReportSchema)
    def get(self, session_id):
        """The attempt's proctoring report: timeline (signals, flags, actions, answers) from the hash-chained log."""
        return reports.attempt_report(db_session(), current_user(), session_id, now=utcnow())


@blp.route("/exams/<int:exam_id>/proctoring/summary")
class Summary(MethodView):
    @blp.response(200, SummarySchema)
    def get(self, exam_id):
        """Per exam: attempts by risk, flags per rule and status, signals per kind."""
        return reports.exam_summary(db_session(), current_user(), exam_id, now=utcnow())


@blp.route("/exams/<int:exam_id>/proctoring/collusion")
class Collusion(MethodView):
    @blp.arguments(CollusionArgsSchema, location="query")
    @blp.response(200, CollusionSchema)
    def get(self, args, exam_id):
        """Pairs of attempts with improbably many identical wrong answers (K-index), with the evidence."""
        return reports.collusion_screening(db_session(), current_user(), exam_id, alpha=args["alpha"],
                                           min_identical=args["min_identical"])


def register(app, api) -> None:  # noqa: ANN001
    """The blueprint, the examiners' flag counter, and the periodic scan job."""
    api.register_blueprint(blp)
    from ..jobs import JOBS
    from ..monitor import services as monitor_services
    monitor_services.FLAG_COUNTER[0] = services.count_open_flags
    JOBS["proctoring_scan"] = notify.scan_job
