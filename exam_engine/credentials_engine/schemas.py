"""Schemas of the credentials API: achievements as instructors write them, the wallet, revocation, verification."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from item_bank.schemas import Id, StrictSchema

from .models import ACHIEVEMENT_TYPES

URL = validate.URL(schemes={"http", "https"}, require_tld=False)


class AlignmentSchema(StrictSchema):
    """A skill or competency of a framework (OB 3.0 Alignment)."""

    targetName = fields.String(required=True, validate=validate.Length(min=1, max=200))  # noqa: N815
    targetUrl = fields.String(required=True, validate=[validate.Length(max=500), URL])  # noqa: N815
    targetFramework = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))  # noqa: N815
    targetCode = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))  # noqa: N815


class PathwayRuleSchema(StrictSchema):
    """Earned by holding `required` (all when null) of `components`, and at least `min_credits` credits."""

    components = fields.List(Id(), required=True, validate=validate.Length(min=1, max=100))
    required = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=100))
    min_credits = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10_000))

    @validates_schema
    def _k_of_n(self, data, **_kwargs):  # noqa: ANN001
        if len(set(data["components"])) != len(data["components"]):
            raise ValidationError("a component is listed twice", "components")
        if data.get("required") is not None and data["required"] > len(data["components"]):
            raise ValidationError("required cannot exceed the number of components", "required")


class AchievementWriteSchema(StrictSchema):
    """An achievement as an instructor writes it."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    criteria = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    criteria_url = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=500), URL])
    image = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=500), URL])
    achievement_type = fields.String(load_default="Badge", validate=validate.OneOf(ACHIEVEMENT_TYPES))
    credits = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10_000))
    credit_framework = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=50))
    level = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    field_of_study = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    alignments = fields.List(fields.Nested(AlignmentSchema), load_default=list, validate=validate.Length(max=50))
    pathway = fields.Nested(PathwayRuleSchema, load_default=None, allow_none=True)

    @validates_schema
    def _framework(self, data, **_kwargs):  # noqa: ANN001
        if data.get("credit_framework") and data.get("credits") is None:
            raise ValidationError("a credit framework needs credits", "credits")


class AchievementSchema(Schema):
    id = fields.Integer()
    owner_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    criteria = fields.String()
    criteria_url = fields.String(allow_none=True)
    image = fields.String(allow_none=True)
    achievement_type = fields.String()
    credits = fields.Float(allow_none=True)
    credit_framework = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    field_of_study = fields.String(allow_none=True)
    alignments = fields.List(fields.Dict())
    pathway = fields.Dict(allow_none=True)
    exam_ids = fields.List(fields.Integer(), metadata={"description": "exams whose live version awards it"})
    url = fields.String(metadata={"description": "its public Open Badges Achievement JSON"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AchievementListArgsSchema(StrictSchema):
    owner_id = Id(load_default=None, allow_none=True)


class AchievementListSchema(Schema):
    items = fields.List(fields.Nested(AchievementSchema))


class CredentialSummarySchema(Schema):
    """One credential in the learner's wallet."""

    id = fields.String()
    kind = fields.String(metadata={"description": "exam or pathway"})
    state = fields.String()
    achievement_id = fields.Integer()
    achievement_name = fields.String()
    achievement_type = fields.String()
    credits = fields.Float(allow_none=True)
    credit_framework = fields.String(allow_none=True)
    session_id = fields.String(allow_none=True)
    components = fields.List(fields.String())
    issued_at = fields.DateTime()
    is_revoked = fields.Boolean()
    revoked_at = fields.DateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)
    public_url = fields.String()
    json_url = fields.String()
    jwt_url = fields.String()


class CredentialDetailSchema(CredentialSummarySchema):
    credential = fields.Dict(metadata={"description": "the signed OpenBadgeCredential"})
    jwt = fields.String(metadata={"description": "the same credential as a VC-JWT"})


class WalletArgsSchema(StrictSchema):
    user_id = Id(load_default=None, allow_none=True, metadata={"description": "admins: another learner's wallet"})


class WalletSchema(Schema):
    items = fields.List(fields.Nested(CredentialSummarySchema))


class RevokeSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class RevokedSchema(Schema):
    revoked = fields.List(fields.Nested(CredentialSummarySchema),
                          metadata={"description": "the credential and the pathway credentials resting on it"})


class VerifyRequestSchema(StrictSchema):
    credential = fields.Raw(required=True, metadata={"description": "a credential (JSON object) or a compact VC-JWT"})
    check_status = fields.Boolean(load_default=True)

    @validates_schema
    def _shape(self, data, **_kwargs):  # noqa: ANN001
        value = data.get("credential")
        if not isinstance(value, (dict, str)) or (isinstance(value, str) and not 0 < len(value) <= 200_000):
            raise ValidationError("a JSON object or a compact JWT", "credential")


class CheckSchema(Schema):
    name = fields.String()
    ok = fields.Boolean(allow_none=True)
    code = fields.String()
    message = fields.String()


class VerificationReportSchema(Schema):
    valid = fields.Boolean()
    format = fields.String(metadata={"description": "ldp (embedded proof) or jwt"})
    credential = fields.Dict(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema))
