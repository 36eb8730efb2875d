"""Marshmallow schemas of the bank API; names say their audience (authoring vs delivery)."""

from __future__ import annotations

from collections.abc import Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from .validation import ITEM_TYPES


MAX_ID = 2**31 - 1


def Id(**kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    """A database id: a positive 32-bit integer."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _nul_paths(value, path: str = "") -> list[str]:  # noqa: ANN001
    """Where a NUL character hides in a JSON value (no database stores it in text)."""
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, Mapping):  # dicts, and webargs' proxies of query strings and forms
        found = []
        for k, v in value.items():
            key = f"{path}.{k}" if path else str(k)
            found += ([key] if "\x00" in str(k) else []) + _nul_paths(v, key)
        return found
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _nul_paths(v, f"{path}[{i}]")]
    return []


class StrictSchema(Schema):
    """Unknown keys are refused; so are NUL characters anywhere in the input."""

    class Meta:
        unknown = RAISE
        ordered = True

    @pre_load
    def _refuse_nul(self, data, **_kwargs):  # noqa: ANN001, ANN202
        bad = _nul_paths(data)
        if bad:
            raise ValidationError({p: ["must not contain NUL characters"] for p in bad[:20]})
        return data


class PageArgsSchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PageMetaSchema(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class BankCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=5000))


class BankUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000))


class BankSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    owner_id = fields.Integer()
    permission = fields.String(metadata={"description": "the caller's permission: own, edit or read"})
    created_at = fields.DateTime()


class BankListArgsSchema(PageArgsSchema):
    q = fields.String(validate=validate.Length(max=200))


class BankPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(BankSchema))


class ShareSchema(StrictSchema):
    email = fields.Email(required=True)
    permission = fields.String(required=True, validate=validate.OneOf(["read", "edit"]))


class ShareOutSchema(Schema):
    user_id = fields.Integer()
    email = fields.String()
    permission = fields.String()


class ItemAuthoringSchema(StrictSchema):
    """An item as an author writes it (docs/items.md); type-specific rules are checked by the service."""

    type = fields.String(required=True, validate=validate.OneOf(ITEM_TYPES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    stem = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    interaction = fields.Dict(keys=fields.String(), load_default=dict)
    scoring = fields.Dict(keys=fields.String(), required=True)
    metadata = fields.Dict(keys=fields.String(), load_default=dict)
    external_id = fields.String(validate=validate.Length(min=1, max=200), load_default=None)


class ItemVersionAuthoringSchema(Schema):
    """A version with its key, for authors."""

    item_id = fields.Integer()
    bank_id = fields.Integer()
    external_id = fields.String(allow_none=True)
    version = fields.Integer()
    latest_version = fields.Integer()
    status = fields.String()
    type = fields.String()
    title = fields.String()
    stem = fields.String()
    interaction = fields.Dict()
    scoring = fields.Dict()
    metadata = fields.Dict()
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)


class ItemDeliverySchema(Schema):
    """An item as a learner receives it: no scoring, no key."""

    item_id = fields.Raw()
    type = fields.String()
    title = fields.String()
    stem = fields.String()
    interaction = fields.Dict()
    points = fields.Float()
    estimated_time_s = fields.Integer(allow_none=True)


class ItemSearchArgsSchema(PageArgsSchema):
    bank_id = fields.List(Id(), load_default=list)
    tag = fields.List(fields.String(), load_default=list)
    objective = fields.List(fields.String(), load_default=list)
    type = fields.List(fields.String(validate=validate.OneOf(ITEM_TYPES)), load_default=list)
    status = fields.String(load_default="any", validate=validate.OneOf(["draft", "published", "retired", "any"]))
    difficulty_min = fields.Float(validate=validate.Range(min=0, max=1))
    difficulty_max = fields.Float(validate=validate.Range(min=0, max=1))
    q = fields.String(validate=validate.Length(max=200))


class ItemPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(ItemVersionAuthoringSchema))


class MediaSchema(Schema):
    id = fields.Integer()
    bank_id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    url = fields.String()


class QtiImportReportSchema(Schema):
    """What a QTI import did, item by item (nothing is dropped silently)."""

    bank_id = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    items = fields.List(fields.Dict())
    exams = fields.List(fields.Dict())
    tests = fields.List(fields.Dict())
