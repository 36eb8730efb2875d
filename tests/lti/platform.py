"""A test LMS: a second Flask app that plays the LTI 1.3 platform over real HTTP.

It has its own RSA key and serves: the OIDC authorisation endpoint (signs the id_token
the test asked for and answers with the auto-posted form), its JWKS, the OAuth2 token
endpoint (checks the tool's signed client assertion against the tool's JWKS, fetched over
HTTP), AGS line items and scores, NRPS memberships (two pages), and the deep-linking return
endpoint (checks the tool's signed response). `down = True` makes every service answer 503.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, jsonify, request
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}


def sign(payload: dict, key: rsa.RSAPrivateKey, header: dict) -> str:
    """A JWT with exactly `header` (plus alg, which PyJWT always writes)."""
    return jwt.encode(payload, pem(key), algorithm="RS256", headers=header)


class Served:
    """A WSGI app served on a free loopback port in a thread."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class TestPlatform:
    """The platform's state: registration with the tool, pending launches, issued tokens, received scores."""

    __test__ = False
    issuer_path = ""

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self.key = key or new_rsa_key()
        self.kid = "platform-key-1"
        self.client_id = "tool-client-1"
        self.deployment_id = "deployment-1"
        self.tool_jwks_url: str | None = None
        self.tool_launch_url: str | None = None
        self.lock = threading.Lock()
        self.pending: dict[str, dict] = {}
        self.tokens: dict[str, list[str]] = {}
        self.scores: list[dict] = []
        self.line_items: dict[str, dict] = {}
        self.token_requests = 0
        self.deep_link_responses: list[dict] = []
        self.members: dict[str, list[dict]] = {}
        self.down = False
        self.app = self._build()
        self.served = Served(self.app)
        self.url = self.served.url

    # --- what tests use -----------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.url

    def registration(self) -> dict:
        """What an admin enters in the tool for this platform."""
        return {"name": "Test LMS", "issuer": self.issuer, "client_id": self.client_id,
                "deployment_ids": [self.deployment_id], "auth_login_url": f"{self.url}/auth",
                "auth_token_url": f"{self.url}/token", "key_set_url": f"{self.url}/jwks"}

    def claims(self, *, sub: str = "student-1", roles: list[str] | None = None, context_id: str = "course-1",
               resource_link_id: str = "link-1", message_type: str = "LtiResourceLinkRequest",
               with_lineitem: bool = True, **extra: Any) -> dict:
        """A realistic resource-link launch (AGS and NRPS claims included)."""
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub,
            "name": f"User {sub}", "given_name": "User", "family_name": sub, "email": f"{sub}@school.example",
            f"{CLAIM}deployment_id": self.deployment_id, f"{CLAIM}message_type": message_type,
            f"{CLAIM}version": "1.3.0", f"{CLAIM}target_link_uri": self.tool_launch_url,
            f"{CLAIM}roles": roles if roles is not None else ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            f"{CLAIM}context": {"id": context_id, "label": "BIO101", "title": "Biology 101"},
            f"{CLAIM}resource_link": {"id": resource_link_id, "title": "Final exam"},
            NRPS: {"context_memberships_url": f"{self.url}/memberships/{context_id}", "service_versions": ["2.0"]},
        }
        ags = {"scope": [LINEITEM_SCOPE, SCORE_SCOPE], "lineitems": f"{self.url}/lineitems/{context_id}"}
        if with_lineitem:
            item_id = f"{context_id}-{resource_link_id}"
            with self.lock:
                self.line_items.setdefault(item_id, {"id": f"{self.url}/lineitems/{context_id}/{item_id}",
                                                     "label": "Final exam", "scoreMaximum": 100,
                                                     "resourceLinkId": resource_link_id})
            ags["lineitem"] = f"{self.url}/lineitems/{context_id}/{item_id}"
        claims[AGS] = ags
        if message_type == "LtiDeepLinkingRequest":
            for k in (f"{CLAIM}resource_link", AGS):
                claims.pop(k, None)
            claims[DL] = {"deep_link_return_url": f"{self.url}/deep-link-return", "accept_types": ["ltiResourceLink"],
                          "accept_presentation_document_targets": ["iframe", "window"], "data": "opaque-42"}
        claims.update(extra)
        return claims

    def expect_launch(self, claims: dict | None, *, header: dict | None = None, key: rsa.RSAPrivateKey | None = None,
                      keep: tuple[str, ...] = (), raw_token: str | None = None) -> str:
        """Arm the next login: returns the login_hint; the auth endpoint will sign these claims.

        The nonce of the authorisation request replaces the payload's unless "nonce" is in `keep`;
        exp and iat are made current unless kept.
        """
        hint = secrets.token_hex(8)
        with self.lock:
            self.pending[hint] = {"claims": claims, "header": header, "key": key, "keep": keep, "raw": raw_token}
        return hint

    def scores_for(self, user_id: str) -> list[dict]:
        with self.lock:
            return [s for s in self.scores if s["score"]["userId"] == user_id]

    # --- the app ---------------------------------------------------------------------------------

    def _bearer(self, scope: str) -> None:
        token = request.headers.get("Authorization", "")[7:]
        with self.lock:
            scopes = self.tokens.get(token)
        if scopes is None or scope not in scopes:
            abort(401)

    def _build(self) -> Flask:
        app = Flask("test_platform")
        platform = self

        @app.before_request
        def outage():  # noqa: ANN202
            if platform.down and request.path not in ("/auth",):
                return jsonify({"error": "temporarily unavailable"}), 503
            return None

        @app.get("/jwks")
        def jwks():  # noqa: ANN202
            return jsonify({"keys": [public_jwk(platform.key, platform.kid)]})

        @app.get("/auth")
        def auth():  # noqa: ANN202
            args = request.args
            assert args["scope"] == "openid" and args["response_type"] == "id_token"
            assert args["response_mode"] == "form_post" and args["prompt"] == "none"
            with platform.lock:
                spec = platform.pending.pop(args["login_hint"], None)
            if spec is None or args["redirect_uri"] != platform.tool_launch_url:
                abort(400)
            if spec["raw"] is None and args["client_id"] != platform.client_id:
                abort(400)
            if spec["raw"] is not None:
                token = spec["raw"]
            else:
                payload = dict(spec["claims"])
                now = int(time.time())
                if "exp" not in spec["keep"]:
                    payload["exp"] = now + 300
                if "iat" not in spec["keep"]:
                    payload["iat"] = now - 5
                if "nonce" not in spec["keep"]:
                    payload["nonce"] = args["nonce"]
                header = spec["header"] if spec["header"] is not None else {"kid": platform.kid}
                token = sign(payload, spec["key"] or platform.key, header)
            return (f'<form method="post" action="{args["redirect_uri"]}">'
                    f'<input type="hidden" name="id_token" value="{token}">'
                    f'<input type="hidden" name="state" value="{args["state"]}"></form>')

        @app.post("/token")
        def token():  # noqa: ANN202
            form = request.form
            assert form["grant_type"] == "client_credentials"
            assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            assertion = form["client_assertion"]
            kid = jwt.get_unverified_header(assertion)["kid"]
            keys = requests.get(platform.tool_jwks_url, timeout=10).json()["keys"]
            jwk = next((k for k in keys if k["kid"] == kid), None)
            if jwk is None:
                return jsonify({"error": "invalid_client"}), 401
            claims = jwt.decode(assertion, RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"],
                                audience=f"{platform.url}/token")
            if claims["iss"] != platform.client_id or claims["sub"] != platform.client_id:
                return jsonify({"error": "invalid_client"}), 401
            access = secrets.token_urlsafe(16)
            with platform.lock:
                platform.tokens[access] = form["scope"].split()
                platform.token_requests += 1
            return jsonify({"access_token": access, "token_type": "Bearer", "expires_in": 3600,
                            "scope": form["scope"]})

        @app.route("/lineitems/<context>", methods=["GET", "POST"])
        def lineitems(context):  # noqa: ANN001, ANN202
            if request.method == "GET":
                platform._bearer(LINEITEM_SCOPE)
                with platform.lock:
                    items = [i for k, i in platform.line_items.items() if k.startswith(f"{context}-")]
                return jsonify(items), 200, {"Content-Type": "application/vnd.ims.lis.v2.lineitemcontainer+json"}
            platform._bearer(LINEITEM_SCOPE)
            body = json.loads(request.get_data())
            item_id = f"{context}-created-{len(platform.line_items)}"
            item = {**body, "id": f"{platform.url}/lineitems/{context}/{item_id}"}
            with platform.lock:
                platform.line_items[item_id] = item
            return jsonify(item), 201, {"Content-Type": "application/vnd.ims.lis.v2.lineitem+json"}

        @app.post("/lineitems/<context>/<item_id>/scores")
        def scores(context, item_id):  # noqa: ANN001, ANN202
            platform._bearer(SCORE_SCOPE)
            assert request.content_type == "application/vnd.ims.lis.v1.score+json"
            with platform.lock:
                if item_id not in platform.line_items:
                    abort(404)
                platform.scores.append({"line_item": item_id, "score": json.loads(request.get_data())})
            return "", 204

        @app.get("/memberships/<context>")
        def memberships(context):  # noqa: ANN001, ANN202
            platform._bearer(NRPS_SCOPE)
            members = platform.members.get(context, [])
            page = int(request.args.get("page", 1))
            half = (len(members) + 1) // 2
            body = {"id": request.url, "context": {"id": context, "title": "Biology 101"},
                    "members": members[:half] if page == 1 else members[half:]}
            headers = {"Content-Type": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"}
            if page == 1:
                headers["Link"] = f'<{platform.url}/memberships/{context}?page=2>; rel="next"'
            return jsonify(body), 200, headers

        @app.post("/deep-link-return")
        def deep_link_return():  # noqa: ANN202
            token = request.form["JWT"]
            kid = jwt.get_unverified_header(token)["kid"]
            keys = requests.get(platform.tool_jwks_url, timeout=10).json()["keys"]
            jwk = next(k for k in keys if k["kid"] == kid)
            claims = jwt.decode(token, RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"], audience=platform.issuer)
            with platform.lock:
                platform.deep_link_responses.append(claims)
            return "content placed"

        return app

    def stop(self) -> None:
        self.served.stop()


class Browser:
    """A user agent: follows the OIDC dance between tool and platform, posting auto-submitted forms."""

    def __init__(self, tool_url: str, platform: TestPlatform) -> None:
        self.tool_url = tool_url
        self.platform = platform
        self.http = requests.Session()
        self.last_form: dict | None = None

    def login(self, hint: str, *, iss: str | None = None, client_id: str | None = None) -> requests.Response:
        params = {"iss": iss or self.platform.issuer, "login_hint": hint, "target_link_uri": f"{self.tool_url}/lti/launch",
                  "client_id": client_id or self.platform.client_id, "lti_message_hint": "msg-" + hint}
        return self.http.get(f"{self.tool_url}/lti/login?{urlencode(params)}", allow_redirects=False, timeout=20)

    def launch(self, claims: dict | None, **arm: Any) -> requests.Response:
        """The whole flow: login initiation -> platform auth -> form post of the id_token to the tool."""
        hint = self.platform.expect_launch(claims, **arm)
        resp = self.login(hint)
        assert resp.status_code == 302, resp.text
        form = self.http.get(resp.headers["Location"], timeout=20)
        assert form.status_code == 200, form.text
        self.last_form = parse_form(form.text)
        return self.post_form(self.last_form)

    def post_form(self, form: dict) -> requests.Response:
        return self.http.post(form["action"], data=form["fields"], allow_redirects=False, timeout=20)


def parse_form(html: str) -> dict:
    """The action and hidden fields of an auto-submitted form."""
    from html.parser import HTMLParser

    out: dict = {"action": None, "fields": {}}

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            a = dict(attrs)
            if tag == "form":
                out["action"] = a.get("action")
            elif tag == "input" and a.get("type") == "hidden":
                out["fields"][a["name"]] = a.get("value", "")

    Parser().feed(html)
    return out
