"""REST: the marking queue, marks, rescoring, item analysis (JSON and CSV), calibration."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from item_bank.schemas import Id, StrictSchema

from ..auth.guard import current_user, require
from ..db import db_session, utcnow
from ..sessions.sockets import emit_status
from . import services

blp = Blueprint("grading", __name__, url_prefix="/api/v1", description="Marking, rescoring, item analysis, calibration")


class MarkSchema(StrictSchema):
    levels = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True, validate=validate.Range(min=0)),
                         required=True, metadata={"description": "criterion id -> index of the chosen level"})
    comment = fields.String(load_default="", validate=validate.Length(max=5000))


class MarkResultSchema(Schema):
    session_id = fields.String()
    item_id = fields.Integer()
    marker_score = fields.Float()
    role = fields.String()
    resolved = fields.Boolean()
    needs_another_marker = fields.Boolean()
    attempt_status = fields.String()
    passed = fields.Boolean(allow_none=True)


class QueueEntrySchema(Schema):
    session_id = fields.String()
    item_id = fields.Integer()
    title = fields.String()
    stem = fields.String()
    response = fields.Raw(allow_none=True)
    rubric = fields.Dict()
    points = fields.Float()
    marks_so_far = fields.Integer()
    required_markers = fields.Integer()
    candidate = fields.String()
    submitted_at = fields.DateTime(allow_none=True)


class RescoreSchema(StrictSchema):
    item_id = Id(required=True)
    scoring = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    use_latest_version = fields.Boolean(load_default=False)
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class RescoreResultSchema(Schema):
    exam_id = fields.Integer()
    item_id = fields.Integer()
    rescored = fields.Integer()
    decision_changes = fields.List(fields.Dict())


class CalibrateArgsSchema(StrictSchema):
    model = fields.String(load_default="2PL", validate=validate.OneOf(["1PL", "2PL", "3PL"]))
    write = fields.Boolean(load_default=False)


class AnalysisArgsSchema(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


@blp.route("/exams/<int:exam_id>/grading/queue")
class Queue(MethodView):
    @require("instructor", "admin")
    @blp.response(200, QueueEntrySchema(many=True))
    def get(self, exam_id):
        """Essay responses waiting for the caller's mark (pseudonymous, blind to other markers)."""
        return services.queue(db_session(), current_user(), exam_id)


@blp.route("/sessions/<string:session_id>/items/<int:item_id>/marks")
class Marks(MethodView):
    @require("instructor", "admin")
    @blp.arguments(MarkSchema)
    @blp.response(201, MarkResultSchema)
    def post(self, data, session_id, item_id):
        """Mark an essay with the item's rubric; when the marks resolve, the attempt's result is final."""
        session = db_session()
        out = services.mark(session, current_user(), session_id, item_id, levels=data["levels"],
                            comment=data["comment"], now=utcnow())
        session.commit()
        if out["resolved"]:
            emit_status(session_id, out["attempt_status"], "graded")
        return out


@blp.route("/exams/<int:exam_id>/rescore")
class Rescore(MethodView):
    @require("instructor", "admin")
    @blp.arguments(RescoreSchema)
    @blp.response(200, RescoreResultSchema)
    def post(self, data, exam_id):
        """Correct an item's key for this exam and rescore every affected attempt; reports changed decisions."""
        session = db_session()
        out = services.rescore(session, current_user(), exam_id, item_id=data["item_id"], scoring_key=data["scoring"],
                               use_latest_version=data["use_latest_version"], reason=data["reason"], now=utcnow())
        session.commit()
        return out


@blp.route("/exams/<int:exam_id>/analysis")
class Analysis(MethodView):
    @require("instructor", "admin")
    @blp.arguments(AnalysisArgsSchema, location="query")
    @blp.response(200)
    def get(self, args, exam_id):
        """Classical item analysis: p, corrected point-biserial, upper-lower D, distractors, alpha, SEM."""
        data = services.analysis(db_session(), current_user(), exam_id)
        if args["format"] == "csv":
            return Response(services.analysis_csv(data), mimetype="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-items.csv"'})
        return data


@blp.route("/exams/<int:exam_id>/calibrate")
class Calibrate(MethodView):
    @require("instructor", "admin")
    @blp.arguments(CalibrateArgsSchema, location="query")
    @blp.response(200)
    def post(self, args, exam_id):
        """Calibrate the exam's items (1PL/2PL/3PL by MML-EM); `write=true` stores a, b, c on the items."""
        session = db_session()
        out = services.calibrate_exam(session, current_user(), exam_id, model=args["model"], write=args["write"])
        session.commit()
        return out

