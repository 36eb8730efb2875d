"""Schemas of the `signal` socket event and the proctoring REST API."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from marshmallow import Schema, ValidationError, fields, validate, validates

from item_bank.schemas import StrictSchema

from .policy import CLIENT_KINDS

MAX_DETAIL_BYTES = 1024


class ClientTime(fields.Field):
    """When the browser saw it: an ISO 8601 instant with its zone, or milliseconds since the epoch (Date.now())."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN202
        if isinstance(value, bool):
            raise ValidationError("must be an ISO 8601 instant or epoch milliseconds")
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or not 0 < value < 1e14:
                raise ValidationError("epoch milliseconds out of range")
            return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        if isinstance(value, str) and len(value) <= 40:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValidationError("not an ISO 8601 instant") from None
            if parsed.tzinfo is None:
                raise ValidationError("the instant needs a time zone (e.g. Z)")
            return parsed.astimezone(timezone.utc)
        raise ValidationError("must be an ISO 8601 instant or epoch milliseconds")


class SignalSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(CLIENT_KINDS))
    at = ClientTime(load_default=None, allow_none=True)
    detail = fields.Dict(keys=fields.String(validate=validate.Length(max=40)), load_default=dict)
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))

    @validates("detail")
    def _small(self, value, **_kwargs):  # noqa: ANN001
        if len(value) > 20:
            raise ValidationError("at most 20 keys")
        for v in value.values():
            if isinstance(v, (dict, list)):
                raise ValidationError("values are strings, numbers, booleans or null")
            if isinstance(v, float) and not math.isfinite(v):
                raise ValidationError("numbers must be finite")
        if len(json.dumps(value)) > MAX_DETAIL_BYTES:
            raise ValidationError(f"at most {MAX_DETAIL_BYTES} bytes of JSON")


class ReviewSchema(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(["confirmed", "dismissed"]))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class MonitorReviewSchema(ReviewSchema):
    flag_id = fields.Integer(required=True, strict=True)


class FlagListArgsSchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(["open", "confirmed", "dismissed"]))


class CollusionArgsSchema(StrictSchema):
    alpha = fields.Float(load_default=0.05, validate=validate.Range(min=1e-9, max=0.5))
    min_identical = fields.Integer(load_default=3, validate=validate.Range(min=1, max=1000))


class FlagSchema(Schema):
    id = fields.Integer()
    session_id = fields.String()
    exam_id = fields.Integer()
    rule = fields.String()
    severity = fields.String()
    status = fields.String()
    count = fields.Integer()
    detail = fields.Dict()
    note = fields.String(allow_none=True)
    reviewer_id = fields.Integer(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()
    reviewed_at = fields.String(allow_none=True)


class FlagListSchema(Schema):
    flags = fields.List(fields.Nested(FlagSchema))


class NoticeSchema(Schema):
    level = fields.String()
    is_recorded = fields.Boolean()
    records = fields.List(fields.String())
    webcam = fields.Boolean()
    snapshot_interval_s = fields.Integer(allow_none=True)
    consent_required = fields.Boolean()
    fullscreen_required = fields.Boolean()
    automatic_actions = fields.List(fields.String())
    retention_days = fields.Integer()
    text = fields.String()


class PolicySchema(Schema):
    exam_id = fields.Integer()
    version = fields.Integer()
    level = fields.String()
    settings = fields.Dict()
    problems = fields.Dict(metadata={"description": "stored settings that were ignored, and why"})


class ConsentSchema(Schema):
    session_id = fields.String()
    consented_at = fields.String()
    level = fields.String()


class SnapshotSchema(Schema):
    id = fields.Integer()
    session_id = fields.String()
    at = fields.String()
    size = fields.Integer()
    content_type = fields.String()


class SnapshotListSchema(Schema):
    snapshots = fields.List(fields.Nested(SnapshotSchema))


class ReportSchema(Schema):
    session = fields.Dict()
    policy = fields.Dict()
    counts = fields.Dict()
    flags = fields.List(fields.Nested(FlagSchema))
    signals = fields.List(fields.Dict())
    snapshots = fields.List(fields.Dict())
    timeline = fields.List(fields.Dict())
    chain = fields.Dict()


class SummarySchema(Schema):
    exam_id = fields.Integer()
    attempts = fields.Integer()
    flagged_attempts = fields.Integer()
    open_flags = fields.Integer()
    median_risk = fields.Float()
    max_risk = fields.Float()
    flags_by_rule = fields.Dict()
    signals_by_kind = fields.Dict()
    sessions = fields.List(fields.Dict())


class CollusionSchema(Schema):
    exam_id = fields.Integer()
    attempts = fields.Integer()
    tests = fields.Integer()
    alpha = fields.Float()
    min_identical = fields.Integer()
    method = fields.Dict()
    pairs = fields.List(fields.Dict())
