"""Schemas of the LTI and roster REST API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from item_bank.schemas import StrictSchema

URL = validate.Length(min=8, max=1000)


class PlatformWriteSchema(StrictSchema):
    name = fields.String(validate=validate.Length(max=200))
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=500))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    deployment_ids = fields.List(fields.String(validate=validate.Length(min=1, max=255)), load_default=list)
    auth_login_url = fields.String(required=True, validate=URL)
    auth_token_url = fields.String(required=True, validate=URL)
    auth_audience = fields.String(allow_none=True, validate=URL)
    key_set_url = fields.String(allow_none=True, validate=URL)
    key_set = fields.Dict(allow_none=True)
    is_email_trusted = fields.Boolean()
    is_admin_role_allowed = fields.Boolean()
    is_active = fields.Boolean()


class PlatformUpdateSchema(PlatformWriteSchema):
    issuer = fields.String(validate=validate.Length(min=1, max=500))
    client_id = fields.String(validate=validate.Length(min=1, max=200))
    auth_login_url = fields.String(validate=URL)
    auth_token_url = fields.String(validate=URL)
    deployment_ids = fields.List(fields.String(validate=validate.Length(min=1, max=255)))


class PlatformSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    issuer = fields.String()
    client_id = fields.String()
    deployment_ids = fields.List(fields.String())
    auth_login_url = fields.String()
    auth_token_url = fields.String()
    auth_audience = fields.String(allow_none=True)
    key_set_url = fields.String(allow_none=True)
    key_set = fields.Dict(allow_none=True)
    is_email_trusted = fields.Boolean()
    is_admin_role_allowed = fields.Boolean()
    is_active = fields.Boolean()
    created_at = fields.DateTime()


class ToolInfoSchema(Schema):
    """What an LMS administrator types into the platform's tool registration."""

    login_url = fields.String()
    launch_url = fields.String()
    redirect_uris = fields.List(fields.String())
    deep_linking_url = fields.String()
    jwks_url = fields.String()
    kid = fields.String()


class ResourceLinkSchema(Schema):
    id = fields.Integer()
    platform_id = fields.Integer()
    deployment_id = fields.String()
    resource_link_id = fields.String()
    title = fields.String()
    course_id = fields.Integer(allow_none=True)
    exam_id = fields.Integer(allow_none=True)
    ags_endpoint = fields.Dict(allow_none=True)


class LinkExamSchema(StrictSchema):
    exam_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))


class OutboxArgsSchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(["pending", "sending", "sent"]))


class OutboxRowSchema(Schema):
    id = fields.Integer()
    session_id = fields.String()
    line_item_id = fields.Integer()
    payload = fields.Dict()
    revision = fields.Integer()
    sent_revision = fields.Integer()
    status = fields.String()
    tries = fields.Integer()
    next_try_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class RosterSyncSchema(Schema):
    course_id = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    deactivated = fields.Integer()
    errors = fields.List(fields.Dict())


class RosterFilesSchema(Schema):
    users = fields.Raw(metadata={"type": "string", "format": "binary"})
    enrollments = fields.Raw(metadata={"type": "string", "format": "binary"})
    classes = fields.Raw(metadata={"type": "string", "format": "binary"})


class RosterReportSchema(Schema):
    users = fields.Dict()
    enrollments = fields.Dict()
    classes = fields.Integer()
    errors = fields.List(fields.Dict(), metadata={"description": "one entry per refused row: file, row, code, message"})


class CourseSchema(Schema):
    id = fields.Integer()
    source = fields.String()
    external_id = fields.String()
    title = fields.String()


class MemberSchema(Schema):
    user_id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    is_active = fields.Boolean()
