"""Schemas of the account API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from item_bank.schemas import PageArgsSchema, PageMetaSchema, StrictSchema

from .models import ROLES


class CredentialsSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(lambda: UserSchema())


class AccommodationsSchema(StrictSchema):
    extra_time_pct = fields.Integer(validate=validate.Range(min=0, max=400))
    large_text = fields.Boolean()
    high_contrast = fields.Boolean()
    notes = fields.String(validate=validate.Length(max=1000))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    is_active = fields.Boolean()
    accommodations = fields.Dict()
    created_at = fields.DateTime()


class UserCreateSchema(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    role = fields.String(load_default="learner", validate=validate.OneOf(ROLES))
    accommodations = fields.Nested(AccommodationsSchema, load_default=dict)


class UserUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(max=200))
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean()
    accommodations = fields.Nested(AccommodationsSchema)


class UserListArgsSchema(PageArgsSchema):
    role = fields.String(validate=validate.OneOf(ROLES))
    q = fields.String(validate=validate.Length(max=200))


class UserPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(UserSchema))


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class SessionLoginSchema(Schema):
    user = fields.Nested(UserSchema)
    csrf_token = fields.String()
