"""The tool's RSA key pair: the private key in a file under KEYS_DIR (or the environment), never in the database.

Every worker loads the same key (one file on shared storage, or the same
EXAM_ENGINE_LTI_PRIVATE_KEY); the public half is recorded in `lti_tool_keys` so the
JWKS keeps publishing a key after a rotation until it is retired.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import LtiToolKey

KEY_FILE = "lti_tool_key.pem"
ENV_VAR = "EXAM_ENGINE_LTI_PRIVATE_KEY"


@dataclass(frozen=True)
class ToolKey:
    kid: str
    private_pem: str
    public_pem: str
    public_jwk: dict


def _from_pem(private_pem: str) -> ToolKey:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ValueError("the LTI tool key must be an RSA key of at least 2048 bits")
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    jwk = JWK.from_pem(public_pem.encode())
    kid = jwk.thumbprint()
    public_jwk = {**json.loads(jwk.export_public()), "kid": kid, "alg": "RS256", "use": "sig"}
    return ToolKey(kid=kid, private_pem=private_pem, public_pem=public_pem, public_jwk=public_jwk)


def _generate(path: Path) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when two workers race, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text()
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    return pem


def load_tool_key(config: dict) -> ToolKey:
    """The current key: LTI_PRIVATE_KEY (setting or environment), else KEYS_DIR/lti_tool_key.pem (made on first use)."""
    pem = config.get("LTI_PRIVATE_KEY") or os.environ.get(ENV_VAR)
    if not pem:
        path = Path(config["KEYS_DIR"]) / KEY_FILE
        pem = path.read_text() if path.exists() else _generate(path)
    return _from_pem(pem)


def record_public_key(session: Session, key: ToolKey, now: datetime) -> None:
    """Remember the public half so the JWKS keeps it after a rotation."""
    if session.get(LtiToolKey, key.kid) is None:
        session.add(LtiToolKey(kid=key.kid, public_jwk=key.public_jwk, created_at=now))
        session.flush()


def jwks(session: Session, key: ToolKey, now: datetime) -> dict:
    """The tool's public key set: the current key and every recorded key not retired."""
    record_public_key(session, key, now)
    rows = session.scalars(select(LtiToolKey).where(LtiToolKey.retired_at.is_(None)).order_by(LtiToolKey.created_at))
    keys = {row.kid: row.public_jwk for row in rows}
    keys[key.kid] = key.public_jwk
    return {"keys": list(keys.values())}
