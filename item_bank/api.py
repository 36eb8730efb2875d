"""REST blueprint of the item bank: banks, sharing, items, versions, search, media.

Views are thin: parse with a schema, call one service, commit, return.
"""

from __future__ import annotations

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from io import BytesIO

from . import interchange, services
from .delivery import delivery_view
from .errors import NotFound, ValidationFailed
from .models import ItemVersion
from .orm import utcnow
from .schemas import (
    BankCreateSchema, BankListArgsSchema, BankPageSchema, BankSchema, BankUpdateSchema, ItemAuthoringSchema,
    ItemDeliverySchema, ItemPageSchema, ItemSearchArgsSchema, ItemVersionAuthoringSchema, MediaSchema,
    QtiImportReportSchema, ShareOutSchema, ShareSchema,
)
from .models import Media
from .web import author, caller, request_session

#: Checks fn(session, user, media) -> bool that let a non-author see a media file (the engine registers one:
#: a learner whose attempt's form shows the file).
MEDIA_VIEWERS: list = []

blp = Blueprint("bank", __name__, url_prefix="/api/v1", description="Item banks, items and their versions")


def bank_out(session, user, bank) -> dict:
    return {"id": bank.id, "name": bank.name, "description": bank.description, "owner_id": bank.owner_id,
            "permission": services.bank_permission(session, user, bank), "created_at": bank.created_at}


def version_out(version: ItemVersion) -> dict:
    item = version.item
    return {"item_id": item.id, "bank_id": item.bank_id, "external_id": item.external_id, "version": version.version,
            "latest_version": item.latest_version, "status": version.status,
            **services.version_as_dict(version), "created_at": version.created_at,
            "published_at": version.published_at, "retired_at": version.retired_at}


@blp.route("/banks")
class Banks(MethodView):
    @blp.arguments(BankListArgsSchema, location="query")
    @blp.response(200, BankPageSchema)
    def get(self, args):
        """List the banks the caller owns or that are shared with them."""
        user, session = author(), request_session()
        rows, total = services.list_banks(session, user, page=args["page"], per_page=args["per_page"], q=args.get("q"))
        return {"items": [bank_out(session, user, b) for b in rows], "page": args["page"], "per_page": args["per_page"],
                "total": total}

    @blp.arguments(BankCreateSchema)
    @blp.response(201, BankSchema)
    def post(self, data):
        """Create a bank owned by the caller."""
        user, session = author(), request_session()
        bank = services.create_bank(session, user, **data)
        session.commit()
        return bank_out(session, user, bank)


@blp.route("/banks/<int:bank_id>")
class BankById(MethodView):
    @blp.response(200, BankSchema)
    def get(self, bank_id):
        """One bank."""
        user, session = author(), request_session()
        return bank_out(session, user, services.get_bank(session, user, bank_id))

    @blp.arguments(BankUpdateSchema)
    @blp.response(200, BankSchema)
    def patch(self, data, bank_id):
        """Rename or describe a bank (edit permission)."""
        user, session = author(), request_session()
        bank = services.update_bank(session, user, bank_id, **data)
        session.commit()
        return bank_out(session, user, bank)


@blp.route("/banks/<int:bank_id>/shares")
class BankShares(MethodView):
    @blp.response(200, ShareOutSchema(many=True))
    def get(self, bank_id):
        """Who the bank is shared with (owner or admin)."""
        user, session = author(), request_session()
        return [{"user_id": uid, "email": email, "permission": perm}
                for uid, email, perm in services.list_shares(session, user, bank_id)]

    @blp.arguments(ShareSchema)
    @blp.response(200, ShareOutSchema)
    def put(self, data, bank_id):
        """Share the bank with an instructor, for reading or editing (owner or admin)."""
        user, session = author(), request_session()
        target = current_app.extensions["exam_engine.find_user"](session, data["email"])
        if target is None:
            raise NotFound(f"no user {data['email']}", code="user_not_found")
        share = services.share_bank(session, user, bank_id, target_user=target, permission=data["permission"])
        session.commit()
        return {"user_id": target.id, "email": target.email, "permission": share.permission}


@blp.route("/banks/<int:bank_id>/shares/<int:user_id>")
class BankShareById(MethodView):
    @blp.response(204)
    def delete(self, bank_id, user_id):
        """Stop sharing the bank with a user."""
        user, session = author(), request_session()
        services.unshare_bank(session, user, bank_id, user_id)
        session.commit()


@blp.route("/banks/<int:bank_id>/items")
class BankItems(MethodView):
    @blp.arguments(ItemAuthoringSchema)
    @blp.response(201, ItemVersionAuthoringSchema)
    def post(self, data, bank_id):
        """Create an item (version 1, draft) in a bank."""
        user, session = author(), request_session()
        external_id = data.pop("external_id", None)
        version = services.create_item(session, user, bank_id, data, external_id=external_id, now=utcnow())
        session.commit()
        return version_out(version)


@blp.route("/items")
class Items(MethodView):
    @blp.arguments(ItemSearchArgsSchema, location="query")
    @blp.response(200, ItemPageSchema)
    def get(self, args):
        """Search items: by bank, tags (all), objectives (any), type, status, difficulty range and stem text."""
        user, session = author(), request_session()
        query = services.PoolQuery(bank_ids=tuple(args["bank_id"]), tags=tuple(args["tag"]),
                                   objectives=tuple(args["objective"]), types=tuple(args["type"]),
                                   status=None if args["status"] == "any" else args["status"],
                                   difficulty_min=args.get("difficulty_min"), difficulty_max=args.get("difficulty_max"),
                                   text=args.get("q"))
        rows, total = services.search_items(session, user, query, page=args["page"], per_page=args["per_page"])
        return {"items": [version_out(v) for v in rows], "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/items/<int:item_id>")
class ItemById(MethodView):
    @blp.response(200, ItemVersionAuthoringSchema)
    def get(self, item_id):
        """The latest version of an item, with its key (authors only)."""
        user, session = author(), request_session()
        return version_out(services.get_version(session, user, item_id))

    @blp.arguments(ItemAuthoringSchema)
    @blp.response(200, ItemVersionAuthoringSchema)
    def put(self, data, item_id):
        """Edit an item: a draft changes in place; a published item gets a new draft version."""
        user, session = author(), request_session()
        data.pop("external_id", None)
        version = services.update_item(session, user, item_id, data, now=utcnow())
        session.commit()
        return version_out(version)

    @blp.response(204)
    def delete(self, item_id):
        """Delete an item never published."""
        user, session = author(), request_session()
        services.delete_draft(session, user, item_id)
        session.commit()


@blp.route("/items/<int:item_id>/publish")
class ItemPublish(MethodView):
    @blp.response(200, ItemVersionAuthoringSchema)
    def post(self, item_id):
        """Publish the latest draft: it is frozen from now on."""
        user, session = author(), request_session()
        version = services.publish_item(session, user, item_id, now=utcnow())
        session.commit()
        return version_out(version)


@blp.route("/items/<int:item_id>/versions")
class ItemVersions(MethodView):
    @blp.response(200, ItemVersionAuthoringSchema(many=True))
    def get(self, item_id):
        """The history of an item, oldest first."""
        user, session = author(), request_session()
        return [version_out(v) for v in services.list_versions(session, user, item_id)]


@blp.route("/items/<int:item_id>/versions/<int:version>")
class ItemVersionById(MethodView):
    @blp.response(200, ItemVersionAuthoringSchema)
    def get(self, item_id, version):
        """One version of an item."""
        user, session = author(), request_session()
        return version_out(services.get_version(session, user, item_id, version))


@blp.route("/items/<int:item_id>/versions/<int:version>/retire")
class ItemVersionRetire(MethodView):
    @blp.response(200, ItemVersionAuthoringSchema)
    def post(self, item_id, version):
        """Retire a published version: no new exam draws it; attempts that pinned it keep it."""
        user, session = author(), request_session()
        row = services.retire_version(session, user, item_id, version, now=utcnow())
        session.commit()
        return version_out(row)


@blp.route("/items/<int:item_id>/preview")
class ItemPreview(MethodView):
    @blp.response(200, ItemDeliverySchema)
    def get(self, item_id):
        """The latest version exactly as a learner will receive it (no key)."""
        user, session = author(), request_session()
        version = services.get_version(session, user, item_id)
        return delivery_view(item_id, services.version_as_dict(version))


@blp.route("/banks/<int:bank_id>/media")
class BankMedia(MethodView):
    @blp.response(200, MediaSchema(many=True))
    def get(self, bank_id):
        """The media files of a bank."""
        user, session = author(), request_session()
        return [media_out(m) for m in services.list_media(session, user, bank_id)]

    @blp.response(201, MediaSchema)
    def post(self, bank_id):
        """Upload an image or sound (multipart field `file`); size and type are limited."""
        user, session = author(), request_session()
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("send the file as multipart field `file`", code="media_missing")
        data = upload.read(current_app.config["MEDIA_MAX_BYTES"] + 1)
        media = services.upload_media(session, user, bank_id, filename=upload.filename or "file",
                                      content_type=upload.mimetype or "", data=data,
                                      max_bytes=current_app.config["MEDIA_MAX_BYTES"])
        session.commit()
        return media_out(media)


def media_out(media) -> dict:
    return {"id": media.id, "bank_id": media.bank_id, "filename": media.filename, "content_type": media.content_type,
            "size": media.size, "sha256": media.sha256, "url": f"/api/v1/banks/{media.bank_id}/media/{media.id}/{media.filename}"}


@blp.route("/banks/<int:bank_id>/qti")
class BankQti(MethodView):
    @blp.response(200, QtiImportReportSchema)
    def post(self, bank_id):
        """Import a QTI 3.0 / 2.x package (zip) or item file (multipart field `file`); returns the per-item report.

        `?publish=true` publishes what was imported; re-importing updates (new versions), never duplicates.
        """
        user, session = author(), request_session()
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("send the package as multipart field `file`", code="qti_missing")
        data = upload.read(current_app.config.get("QTI_MAX_BYTES", 200 * 1024 * 1024) + 1)
        report = interchange.import_into_bank(session, user, bank_id, data, now=utcnow(),
                                              publish=request.args.get("publish", "false").lower() == "true",
                                              max_media_bytes=current_app.config["MEDIA_MAX_BYTES"])
        session.commit()
        return report

    def get(self, bank_id):
        """Export the bank's items as a QTI 3.0 content package (zip); `?status=published` for published only."""
        user, session = author(), request_session()
        status = request.args.get("status")
        if status not in (None, "published", "draft", "retired"):
            raise ValidationFailed("status must be published, draft or retired", code="validation_error")
        data = interchange.export_bank(session, user, bank_id, status=status,
                                       xsd_dir=current_app.config.get("QTI_XSD_DIR"))
        return send_file(BytesIO(data), mimetype="application/zip", as_attachment=True,
                         download_name=f"bank-{bank_id}-qti3.zip")


@blp.route("/banks/<int:bank_id>/media/<int:media_id>/<path:filename>")
class MediaFile(MethodView):
    def get(self, bank_id, media_id, filename):
        """The bytes of a media file: for the bank's authors, and for learners whose attempt shows it."""
        user, session = caller(), request_session()
        if user.role in ("instructor", "admin"):
            media = services.get_media(session, user, bank_id, media_id)
        else:
            media = session.get(Media, media_id)
            allowed = media is not None and media.bank_id == bank_id and any(
                check(session, user, media) for check in MEDIA_VIEWERS)
            if not allowed:
                raise NotFound("no such media file", code="media_not_found")
        resp = send_file(BytesIO(media.data), mimetype=media.content_type, download_name=media.filename)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "default-src 'none'"
        return resp
