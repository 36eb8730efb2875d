"""Schemas of exam definitions and of the exam API."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from item_bank.schemas import Id, PageArgsSchema, PageMetaSchema, StrictSchema
from item_bank.validation import ITEM_TYPES

IDENT = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$", error="must be an identifier")


class PoolQuerySchema(StrictSchema):
    bank_ids = fields.List(Id(), load_default=list)
    #: Restrict the pool to these items (e.g. a QTI section's selection).
    item_ids = fields.List(Id(), load_default=list)
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)
    objectives = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)
    types = fields.List(fields.String(validate=validate.OneOf(ITEM_TYPES)), load_default=list)
    difficulty_min = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    difficulty_max = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    text = fields.String(validate=validate.Length(max=200), allow_none=True)


class SectionSchema(StrictSchema):
    id = fields.String(required=True, validate=IDENT)
    title = fields.String(load_default="", validate=validate.Length(max=200))
    #: Fixed items (item ids); their newest published version is pinned at publication.
    items = fields.List(Id(), load_default=None, allow_none=True)
    #: Or N random items from a pool query.
    pool = fields.Nested(PoolQuerySchema, load_default=None, allow_none=True)
    draw = fields.Integer(validate=validate.Range(min=1, max=500), load_default=None, allow_none=True)
    shuffle_items = fields.Boolean(load_default=False)
    #: Optional minimum for this section to pass (percentage of the section's points).
    min_score_pct = fields.Float(validate=validate.Range(min=0, max=100), load_default=None, allow_none=True)

    @validates_schema
    def _one_source(self, data, **_kwargs):  # noqa: ANN001
        has_items, has_pool = bool(data.get("items")), data.get("pool") is not None
        if has_items == has_pool:
            raise ValidationError("a section has either `items` or a `pool` with `draw`", "items")
        if has_pool and not data.get("draw"):
            raise ValidationError("a pool section needs `draw` (how many items to draw)", "draw")


class PassSchema(StrictSchema):
    mode = fields.String(load_default="percentage", validate=validate.OneOf(["percentage", "points"]))
    cut_score = fields.Float(required=True, validate=validate.Range(min=0))


class ProctoringPolicySchema(StrictSchema):
    level = fields.String(load_default="none", validate=validate.OneOf(["none", "record_only", "standard", "strict"]))
    settings = fields.Dict(keys=fields.String(), load_default=dict)


class MarkingSchema(StrictSchema):
    """How essays are marked: one or two independent markers and how their marks combine."""

    required_markers = fields.Integer(load_default=1, validate=validate.Range(min=1, max=2))
    rule = fields.String(load_default="average", validate=validate.OneOf(["average", "highest", "lowest", "first"]))
    max_difference = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    third_rule = fields.String(load_default="closest_pair", validate=validate.OneOf(["closest_pair", "third_decides"]))


class AdaptiveSchema(StrictSchema):
    """Adaptive (CAT) delivery: items chosen one at a time by maximum information from the sections' pools."""

    max_length = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))
    min_length = fields.Integer(load_default=5, validate=validate.Range(min=1, max=200))
    target_se = fields.Float(load_default=0.3, allow_none=True, validate=validate.Range(min=0.05, max=2))
    randomesque = fields.Integer(load_default=3, validate=validate.Range(min=1, max=20))
    #: Section id -> share of the test for content balancing (default: in proportion to the pools).
    blueprint = fields.Dict(keys=fields.String(), values=fields.Float(validate=validate.Range(min=0, max=1)),
                            load_default=None, allow_none=True)


class ExamDefinitionSchema(StrictSchema):
    """An exam as an instructor writes it."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    sections = fields.List(fields.Nested(SectionSchema), required=True, validate=validate.Length(min=1, max=50))
    shuffle_options = fields.Boolean(load_default=True)
    time_limit_s = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=10, max=7 * 24 * 3600))
    grace_s = fields.Integer(load_default=3, validate=validate.Range(min=0, max=120))
    navigation = fields.String(load_default="free", validate=validate.OneOf(["free", "linear"]))
    presentation = fields.String(load_default="one_at_a_time", validate=validate.OneOf(["one_at_a_time", "all"]))
    opens_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    closes_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    on_close = fields.String(load_default="keep_time", validate=validate.OneOf(["keep_time", "end_at_close"]))
    max_attempts = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=100))
    cooldown_s = fields.Integer(load_default=0, validate=validate.Range(min=0, max=365 * 24 * 3600))
    pass_policy = fields.Nested(PassSchema, data_key="pass", load_default=None, allow_none=True)
    release = fields.String(load_default="immediate", validate=validate.OneOf(["immediate", "after_close", "manual"]))
    second_connection = fields.String(load_default="takeover", validate=validate.OneOf(["takeover", "refuse"]))
    proctoring = fields.Nested(ProctoringPolicySchema, load_default=None, allow_none=True)
    achievement_id = fields.Integer(load_default=None, allow_none=True)
    adaptive = fields.Nested(AdaptiveSchema, load_default=None, allow_none=True)
    marking = fields.Nested(MarkingSchema, load_default=None, allow_none=True)

    @validates_schema
    def _checks(self, data, **_kwargs):  # noqa: ANN001
        if data.get("opens_at") and data.get("closes_at") and data["opens_at"] >= data["closes_at"]:
            raise ValidationError("must be after opens_at", "closes_at")
        ids = [s["id"] for s in data.get("sections", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("section ids must be unique", "sections")
        if data.get("pass_policy") and data["pass_policy"]["mode"] == "percentage" and data["pass_policy"]["cut_score"] > 100:
            raise ValidationError("a percentage cut must be within 0..100", "pass")


class ExamWriteSchema(StrictSchema):
    definition = fields.Nested(ExamDefinitionSchema, required=True)
    external_id = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class ExamSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    latest_version = fields.Integer()
    live_version = fields.Integer(allow_none=True)
    status = fields.String()
    title = fields.String()
    description = fields.String()
    owner_id = fields.Integer()
    time_limit_s = fields.Integer(allow_none=True)
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    max_attempts = fields.Integer(allow_none=True)
    attempts_used = fields.Integer(allow_none=True)
    attempts_left = fields.Integer(allow_none=True)
    active_session_id = fields.String(allow_none=True)
    navigation = fields.String()
    presentation = fields.String()
    n_items = fields.Integer(allow_none=True)
    is_open = fields.Boolean()
    can_start = fields.Boolean()
    cannot_start_reason = fields.String(allow_none=True)
    definition = fields.Dict(metadata={"description": "present for the exam's authors only"})
    published_at = fields.DateTime(allow_none=True)


class ExamListArgsSchema(PageArgsSchema):
    q = fields.String(validate=validate.Length(max=200))


class ExamPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(ExamSchema))


class ExaminerAssignSchema(StrictSchema):
    email = fields.Email(required=True)
