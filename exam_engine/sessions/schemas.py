"""Payload schemas of the /exam socket events and the session REST views."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from item_bank.schemas import StrictSchema

SEQ = dict(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))


class TimeSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


def _client_id() -> fields.String:
    """The client instance (one page load): its reconnects release its own previous connection."""
    return fields.String(load_default=None, validate=validate.Length(min=16, max=64))


class JoinSchema(TimeSchema):
    client_id = _client_id()


class StartSchema(StrictSchema):
    exam_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))
    client_id = _client_id()


class AnswerSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    item_id = fields.Integer(required=True, strict=True)
    #: Shape by item type (docs/items.md); checked by the scoring library. null clears.
    response = fields.Raw(required=True, allow_none=True)
    seq = fields.Integer(**SEQ)


class FlagSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    item_id = fields.Integer(required=True, strict=True)
    flagged = fields.Boolean(required=True)
    seq = fields.Integer(**SEQ)


class NavigateSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    position = fields.Integer(required=True, strict=True)
    seq = fields.Integer(**SEQ)


class SubmitSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    seq = fields.Integer(**SEQ)


class SessionSummarySchema(Schema):
    id = fields.String()
    exam_id = fields.Integer()
    exam_version_id = fields.Integer()
    user_id = fields.Integer()
    attempt_no = fields.Integer()
    status = fields.String()
    started_at = fields.DateTime()
    deadline_at = fields.DateTime(allow_none=True)
    remaining_s = fields.Float(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    end_reason = fields.String(allow_none=True)
    n_items = fields.Integer()
    position = fields.Integer()
    is_connected = fields.Boolean()
    log_head = fields.String()
    log_length = fields.Integer()


class ResultSchema(Schema):
    session_id = fields.String()
    exam_id = fields.Integer()
    status = fields.String()
    score = fields.Float()
    max_score = fields.Float()
    percentage = fields.Float()
    passed = fields.Boolean(allow_none=True)
    pending = fields.Boolean()
    sections = fields.Dict()
    items = fields.Dict()
    log_head = fields.String(allow_none=True)
    order = fields.List(fields.String(), metadata={"description": "item ids in the learner's order"})
    theta = fields.Float(allow_none=True, metadata={"description": "ability estimate (adaptive exams)"})
    theta_se = fields.Float(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    scored_at = fields.DateTime(allow_none=True)


class OwnAttemptSchema(SessionSummarySchema):
    title = fields.String()
    is_released = fields.Boolean()
    score = fields.Float(allow_none=True)
    max_score = fields.Float(allow_none=True)
    percentage = fields.Float(allow_none=True)
    passed = fields.Boolean(allow_none=True)
