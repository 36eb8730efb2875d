"""Public pages: verify a credential (paste a JWT or JSON, or upload a file) and a page per credential.

They call the public verification API (`POST /api/v1/credentials/verify`,
`GET /api/v1/credentials/{id}/verification`); nobody needs an account.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template

bp = Blueprint("public", __name__)

#: The last part of a credential id (a UUID or similar): a safe alphabet only.
BARE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@bp.get("/verify")
def verify():
    """Check any credential: its proof, issuer, dates and revocation status."""
    return render_template("web/public/verify.html")


@bp.get("/verify/<credential_id>")
def credential(credential_id: str):
    """The public page of one of our credentials, with its live verification report."""
    if not BARE_ID_RE.match(credential_id):
        abort(404)
    return render_template("web/public/credential.html", credential_id=credential_id)
