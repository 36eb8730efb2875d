"""Glue between pylti1p3 (the protocol) and our database and errors.

pylti1p3 does the OIDC login redirect, the id_token checks (registration, key from the
platform's JWKS, signature and expiry, deployment, message claims), the deep-linking
response JWT and the AGS/NRPS calls with OAuth2 client-credentials tokens. We give it:
- `DbToolConf`: registrations and deployments from `lti_platforms`;
- `DbSessionService`: nonces in `lti_nonces`, consumed once by a conditional UPDATE (replays
  are refused whatever worker serves them);
- `ToolMessageLaunch`: the library's checks in our order (signature before the nonce is
  spent), each failure mapped to a stable error code;
- `ToolServiceConnector`: access tokens cached per registration until they expire.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any, Callable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.contrib.flask import FlaskCookieService, FlaskMessageLaunch, FlaskOIDCLogin, FlaskSessionService
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException, LtiKeyException, OIDCException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .errors import LaunchRefused
from .keys import ToolKey
from .models import LtiNonce, LtiPlatform

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
NONCE_TTL_S = 600
MIN_RSA_BITS = 2048


def registration_for(platform: LtiPlatform, key: ToolKey) -> Registration:
    """The library's view of a platform registration, with our key pair."""
    reg = (Registration().set_issuer(platform.issuer).set_client_id(platform.client_id)
           .set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
           .set_key_set_url(platform.key_set_url).set_key_set(platform.key_set)
           .set_tool_private_key(key.private_pem).set_tool_public_key(key.public_pem))
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    return reg


class DbToolConf(ToolConfAbstract):
    """Registrations looked up in the database; every issuer may hold several client ids."""

    def __init__(self, session: Session, key: ToolKey) -> None:
        self.session = session
        self.key = key
        self.platform: LtiPlatform | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> LtiPlatform | None:
        stmt = select(LtiPlatform).where(LtiPlatform.issuer == iss, LtiPlatform.is_active.is_(True))
        if client_id:
            return self.session.scalar(stmt.where(LtiPlatform.client_id == client_id))
        # Login initiation without client_id: only unambiguous when the issuer has one registration.
        rows = self.session.scalars(stmt.limit(2)).all()
        return rows[0] if len(rows) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss: str, client_id: str | None, *args: Any, **kwargs: Any):  # noqa: ANN201
        self.platform = self.find_platform(iss, client_id)
        return registration_for(self.platform, self.key) if self.platform else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None,
                                  *args: Any, **kwargs: Any) -> Deployment | None:
        platform = self.platform or self.find_platform(iss, client_id)
        if platform is None or deployment_id not in (platform.deployment_ids or []):
            return None
        return Deployment().set_deployment_id(deployment_id)


class DbSessionService(FlaskSessionService):
    """Nonces in the database: issued at login, spent once at launch."""

    def __init__(self, request: Any, session: Session, now: datetime) -> None:
        super().__init__(request)
        self.db = session
        self.now = now

    def save_nonce(self, nonce: str) -> None:
        self.db.add(LtiNonce(nonce=nonce, created_at=self.now, expires_at=self.now + timedelta(seconds=NONCE_TTL_S)))
        self.db.flush()

    def check_nonce(self, nonce: str) -> bool:
        # The conditional UPDATE is the claim: of two launches with one nonce, one sees rowcount 1.
        claimed = self.db.execute(update(LtiNonce).where(LtiNonce.nonce == nonce, LtiNonce.used_at.is_(None),
                                                         LtiNonce.expires_at > self.now)
                                  .values(used_at=self.now)).rowcount
        return claimed == 1

    def save_launch_data(self, key: str, jwt_body: Any) -> None:
        """Launches are stored by the launch service with the user they resolved to."""


class ToolOIDCLogin(FlaskOIDCLogin):
    """The library's login initiation, with our nonce store."""


def _code_of_signature_error(exc: Exception) -> tuple[str, str]:
    cause = exc.__cause__
    if isinstance(exc, LtiKeyException):
        return "lti_unknown_key", "no key of the platform matches the token's kid and alg"
    if isinstance(cause, jwt.ExpiredSignatureError):
        return "lti_token_expired", "the id_token has expired"
    if isinstance(cause, jwt.ImmatureSignatureError):
        return "lti_token_not_yet_valid", "the id_token is not valid yet (iat or nbf in the future)"
    if isinstance(cause, jwt.MissingRequiredClaimError):
        return "lti_missing_claim", f"the id_token lacks a required claim: {cause.claim}"
    if isinstance(cause, jwt.InvalidSignatureError):
        return "lti_bad_signature", "the id_token's signature does not verify with the platform's key"
    return "lti_bad_signature", f"the id_token cannot be verified: {exc}"


class ToolMessageLaunch(FlaskMessageLaunch):
    """The library's launch, validated in our order with our error codes."""

    def __init__(self, request: Any, tool_config: DbToolConf, session_service: DbSessionService,
                 requests_session: Any = None) -> None:
        super().__init__(request, tool_config, session_service=session_service,
                         cookie_service=FlaskCookieService(request), requests_session=requests_session)
        # Audience is checked against the registration below (aud may be a list, then azp decides).
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})

    def _step(self, fn: Callable, code: str | Callable[[Exception], tuple[str, str]], message: str = "") -> None:
        try:
            fn()
        except (LtiException, OIDCException, AssertionError, KeyError, TypeError, ValueError) as exc:
            if callable(code):
                c, m = code(exc)
            else:
                c, m = code, f"{message}: {exc}" if message else str(exc)
            raise LaunchRefused(m, code=c) from exc

    def validate(self) -> ToolMessageLaunch:
        """Every check of an LTI 1.3 launch; raises LaunchRefused with a stable code."""
        self._validated = True
        try:
            self._step(self.validate_state, "lti_state_invalid", "the state does not match this browser's login")
            self._step(self.validate_jwt_format, "lti_token_malformed", "the id_token is not a JWT")
            self._check_registration()
            self._step(self.validate_jwt_signature, _code_of_signature_error)
            self._step(self.validate_nonce, "lti_nonce_invalid", "the nonce is unknown, expired or already used")
            self._check_claims()
            self._step(self.validate_deployment, "lti_unknown_deployment", "the deployment is not registered")
            self._step(self.validate_message, "lti_invalid_message", "the message is invalid")
        except Exception:
            self._validated = False
            raise
        return self

    def _check_registration(self) -> None:
        body = self._jwt.get("body") or {}
        iss = body.get("iss")
        if not iss:
            raise LaunchRefused("the id_token has no issuer", code="lti_missing_claim", details={"claim": "iss"})
        aud = body.get("aud")
        auds = aud if isinstance(aud, list) else [aud] if aud else []
        if not auds:
            raise LaunchRefused("the id_token has no audience", code="lti_missing_claim", details={"claim": "aud"})
        conf: DbToolConf = self._tool_config
        client_id = body.get("azp") if len(auds) > 1 else auds[0]
        if len(auds) > 1 and client_id not in auds:
            raise LaunchRefused("azp must be one of the audiences", code="lti_wrong_audience")
        platform = conf.find_platform(iss, client_id)
        if platform is None:
            known_issuer = conf.session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == iss)) is not None
            if known_issuer:
                raise LaunchRefused("the id_token is not addressed to this tool (audience)", code="lti_wrong_audience")
            raise LaunchRefused("no platform is registered with this issuer", code="lti_unknown_platform")
        conf.platform = platform
        self._registration = registration_for(platform, conf.key)

    def get_client_id(self) -> str:
        body = self._jwt.get("body") or {}
        aud = body.get("aud")
        if isinstance(aud, list) and len(aud) > 1:
            return body.get("azp")
        return aud[0] if isinstance(aud, list) else aud

    def _check_claims(self) -> None:
        """Required claims first (a precise code), then the library's message validators."""
        body = self._jwt.get("body") or {}
        for claim in ("sub", f"{CLAIM}message_type", f"{CLAIM}version", f"{CLAIM}roles", f"{CLAIM}deployment_id"):
            if claim not in body or body[claim] in (None, ""):
                if claim == "sub" and body.get(f"{CLAIM}message_type") == "LtiDeepLinkingRequest":
                    continue
                raise LaunchRefused(f"the id_token lacks the claim {claim}", code="lti_missing_claim",
                                    details={"claim": claim})
        if body[f"{CLAIM}version"] != "1.3.0":
            raise LaunchRefused(f"LTI version {body[f'{CLAIM}version']!r} is not 1.3.0", code="lti_wrong_version")
        message_type = body[f"{CLAIM}message_type"]
        if message_type == "LtiResourceLinkRequest":
            if not (body.get(f"{CLAIM}resource_link") or {}).get("id"):
                raise LaunchRefused("the launch has no resource_link id", code="lti_missing_claim",
                                    details={"claim": f"{CLAIM}resource_link"})
            services = ("https://purl.imsglobal.org/spec/lti-ags/claim/endpoint",
                        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice")
            # Grades and rosters belong to a course: a service claim without a context cannot be honoured.
            if any(s in body for s in services) and not (body.get(f"{CLAIM}context") or {}).get("id"):
                raise LaunchRefused("the launch offers course services but has no context", code="lti_missing_claim",
                                    details={"claim": f"{CLAIM}context"})
        elif message_type != "LtiDeepLinkingRequest":
            raise LaunchRefused(f"message type {message_type!r} is not supported", code="lti_unsupported_message")

    def get_public_key(self) -> tuple[str, str]:
        """The platform's key for this token; RSA keys under 2048 bits are refused (NIST SP 800-131A)."""
        public_pem, alg = super().get_public_key()
        key = serialization.load_pem_public_key(public_pem.encode() if isinstance(public_pem, str) else public_pem)
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise LaunchRefused(f"the platform's key is {key.key_size} bits; at least {MIN_RSA_BITS} are required",
                                code="lti_weak_key")
        return public_pem, alg

    def save_launch_data(self) -> ToolMessageLaunch:
        return self


class ToolServiceConnector(ServiceConnector):
    """AGS/NRPS calls; access tokens cached per registration and scopes until shortly before they expire."""

    _cache: dict[str, tuple[str, float]] = {}
    _lock = threading.Lock()

    def _scope_key(self, scopes: Any) -> str:
        # The library keys by issuer and scopes; one issuer may have several client ids (Canvas).
        return f"{self._registration.get_client_id()}|{super()._scope_key(scopes)}"

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        with self._lock:
            hit = self._cache.get(scope_key)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        return None

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        ttl = max(0.0, float(expires_in or 0) - 30)
        if ttl > 0:
            with self._lock:
                self._cache[scope_key] = (access_token, time.monotonic() + ttl)

    @classmethod
    def clear_cache(cls) -> None:
        with cls._lock:
            cls._cache.clear()
