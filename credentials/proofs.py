"""The two proof formats: Data Integrity ``eddsa-rdfc-2022`` and VC-JWT (EdDSA).

Data Integrity (W3C vc-di-eddsa, "eddsa-rdfc-2022"):
  proof config = the proof's options without ``proofValue``, with the
  document's ``@context``; both it and the document without ``proof`` are
  canonicalised with RDFC-1.0 (URDNA2015, pyld) and hashed with SHA-256; the
  Ed25519 signature covers ``sha256(config) || sha256(document)`` and is
  carried as ``proofValue`` = 'z' + base58btc(signature).

VC-JWT (the Open Badges 3.0 JWT format): header ``{"alg": "EdDSA", "typ":
"JWT", "kid": verification method}``, payload ``{"vc": credential, "iss",
"jti", "sub", "nbf", "iat", "exp"}``. A payload that is itself a credential
(VC-JOSE-COSE, ``typ: vc+jwt``) is accepted when verifying.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pyld import jsonld

from credentials.contexts import ContextLoader, ContextUnavailable, default_loader
from credentials.keys import IssuerKey, b58decode, b58encode, b64url, b64url_decode, verify_signature
from credentials.model import format_datetime, parse_datetime

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"


class ProofError(ValueError):
    """A proof that is malformed or uses something we do not support; ``code`` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _find_context_error(exc: BaseException) -> ContextUnavailable | None:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:
        if isinstance(current, ContextUnavailable):
            return current
        details = getattr(current, "details", None)
        if isinstance(details, Mapping):
            cause = details.get("cause")
            if isinstance(cause, BaseException):
                current = cause
                seen += 1
                continue
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def canonicalize(document: Mapping[str, Any], loader: ContextLoader | None = None) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document, contexts served locally."""
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", **(loader or default_loader()).pyld_options()}
    try:
        return jsonld.normalize(copy.deepcopy(dict(document)), options)
    except jsonld.JsonLdError as exc:
        missing = _find_context_error(exc)
        if missing is not None:
            raise ProofError("context_unavailable", str(missing)) from exc
        raise ProofError("proof_malformed", f"JSON-LD processing failed: {exc}") from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # pyld on input that is not JSON-LD
        raise ProofError("proof_malformed", f"JSON-LD processing failed: {exc!r}") from exc


def dropped_terms(document: Mapping[str, Any], loader: ContextLoader | None = None) -> list[str]:
    """Properties JSON-LD expansion ignores (no term definition): claims no signature would cover."""
    dropped: list[str] = []
    if "on_property_dropped" not in inspect.signature(jsonld.expand).parameters:
        return []  # pyld < 3 has no hook: nothing to report
    try:
        jsonld.expand(copy.deepcopy(dict(document)), (loader or default_loader()).pyld_options(),
                      on_property_dropped=lambda term: dropped.append(str(term)))
    except jsonld.JsonLdError as exc:
        missing = _find_context_error(exc)
        if missing is not None:
            raise ProofError("context_unavailable", str(missing)) from exc
        raise ProofError("proof_malformed", f"JSON-LD processing failed: {exc}") from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # pyld on input that is not JSON-LD
        raise ProofError("proof_malformed", f"JSON-LD processing failed: {exc!r}") from exc
    return sorted(set(dropped))


def _hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any], loader: ContextLoader | None) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config_hash = hashlib.sha256(canonicalize(proof_config, loader).encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonicalize(unsigned, loader).encode("utf-8")).digest()
    return config_hash + document_hash


def _proof_config(document: Mapping[str, Any], proof: Mapping[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = document["@context"]
    return config


def create_data_integrity_proof(
    document: Mapping[str, Any],
    key: IssuerKey,
    *,
    created: datetime,
    proof_purpose: str = "assertionMethod",
    loader: ContextLoader | None = None,
    verification_method: str | None = None,
) -> dict[str, Any]:
    """An ``eddsa-rdfc-2022`` DataIntegrityProof over ``document`` (returned, not attached).

    ``verification_method`` defaults to the key's did:key; an https issuer may name its own key id.
    """
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created),
        "verificationMethod": verification_method or key.verification_method,
        "proofPurpose": proof_purpose,
    }
    data = _hash_data(document, _proof_config(document, proof), loader)
    proof["proofValue"] = "z" + b58encode(key.sign(data))
    return proof


def attach_proof(document: Mapping[str, Any], proof: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with ``proof`` appended to its proof set (always an array)."""
    signed = copy.deepcopy(dict(document))
    existing = signed.get("proof")
    proofs = [] if existing is None else (list(existing) if isinstance(existing, list) else [existing])
    proofs.append(dict(proof))
    signed["proof"] = proofs
    return signed


def check_data_integrity_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    public_key: Any,
    *,
    loader: ContextLoader | None = None,
) -> bool:
    """True when ``proof`` is a valid eddsa-rdfc-2022 signature of ``document`` by ``public_key``.

    Raises ProofError for a proof we cannot evaluate (wrong suite, bad encoding, missing context).
    """
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError("proof_unsupported",
                         f"unsupported proof {proof.get('type')}/{proof.get('cryptosuite')}; "
                         f"only {PROOF_TYPE}/{CRYPTOSUITE} is supported")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proof_malformed", "proofValue must be base58btc multibase ('z...')")
    try:
        signature = b58decode(value[1:])
    except ValueError as exc:
        raise ProofError("proof_malformed", f"proofValue: {exc}") from exc
    if len(signature) != 64:
        return False
    if "@context" not in document:
        raise ProofError("proof_malformed", "document has no @context")
    data = _hash_data(document, _proof_config(document, proof), loader)
    return verify_signature(public_key, signature, data)


# --- VC-JWT ---------------------------------------------------------------------------------

def _epoch(text: str | None) -> int | None:
    return int(parse_datetime(text).timestamp()) if text else None


def encode_jwt(credential: Mapping[str, Any], key: IssuerKey, *, issued_at: datetime) -> str:
    """Compact VC-JWT (EdDSA) of an unsigned credential, OB 3.0 style (``vc`` claim)."""
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    issuer = unsigned.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    payload: dict[str, Any] = {"vc": unsigned, "iss": issuer_id, "jti": unsigned.get("id"),
                               "iat": int(issued_at.timestamp())}
    subject = unsigned.get("credentialSubject")
    if isinstance(subject, Mapping) and subject.get("id"):
        payload["sub"] = subject["id"]
    nbf = _epoch(unsigned.get("validFrom"))
    if nbf is not None:
        payload["nbf"] = nbf
    exp = _epoch(unsigned.get("validUntil"))
    if exp is not None:
        payload["exp"] = exp
    header = {"alg": "EdDSA", "typ": "JWT", "kid": key.verification_method}
    signing_input = (b64url(_json_bytes(header)) + "." + b64url(_json_bytes(payload))).encode("ascii")
    return signing_input.decode("ascii") + "." + b64url(key.sign(signing_input))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Split a compact JWS: (header, payload, signing input, signature). No verification."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ProofError("jwt_malformed", "a compact JWT has three dot-separated parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProofError("jwt_malformed", f"JWT is not base64url JSON: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ProofError("jwt_malformed", "JWT header and payload must be JSON objects")
    return header, payload, (parts[0] + "." + parts[1]).encode("ascii"), signature


def credential_from_jwt_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The credential inside a VC-JWT payload (``vc`` claim, or the payload itself)."""
    if isinstance(payload.get("vc"), Mapping):
        return dict(payload["vc"])
    if "@context" in payload:
        return dict(payload)
    raise ProofError("jwt_malformed", "JWT payload holds no credential (no 'vc' claim)")
