"""Verifying a credential offline: proof, structure, schema, issuer, dates, status; a report of each check.

``verify(credential)`` takes a dict (JSON with an embedded Data Integrity
proof) or a compact VC-JWT string and returns::

    {"valid": bool, "format": "ldp" | "jwt", "credential": {...} | None,
     "checks": [{"name": ..., "ok": True | False | None, "code": ..., "message": ...}]}

``ok`` is None when a check could not be made (no status fetcher, status
list unreachable, no JSON Schema configured): that does not make the
credential invalid, but the report says so. ``valid`` is True when at least a
proof was verified and no check failed. Check names and codes are stable (see
``CHECKS`` and ``CODES``); messages are for people.

Nothing here touches the network: did:key is resolved offline; keys of https
issuers come from the caller (``keys``: a JWKS, a list of JWKs, a KeyRing or
``{verification method: key}``); the status list comes from the caller's
``status_fetcher(url)``.
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema

from credentials.contexts import ContextLoader
from credentials.keys import (
    IssuerKey,
    KeyMaterialError,
    KeyRing,
    coerce_public_key,
    public_key_bytes,
    resolve_did_key,
    verify_signature,
)
from credentials.model import parse_datetime
from credentials.proofs import (
    ProofError,
    check_data_integrity_proof,
    credential_from_jwt_payload,
    decode_jwt,
    dropped_terms,
)
from credentials.status_list import StatusListError, read_status

SCHEMA_ENV = "EXAM_ENGINE_OB_SCHEMA"

CHECKS = ("proof", "structure", "schema", "issuer", "dates", "status")

#: Every code a check can report, with what it means.
CODES = {
    "ok": "the check passed",
    "proof_missing": "no proof (neither an embedded proof nor a JWT)",
    "proof_malformed": "the proof or JWT cannot be parsed",
    "proof_unsupported": "no proof of a supported type (eddsa-rdfc-2022, EdDSA JWT)",
    "proof_method_invalid": "the verification method is not a DID or URL",
    "proof_method_unresolvable": "the verification method cannot be resolved offline nor found in the given keys",
    "proof_purpose_invalid": "the proof's purpose is not assertionMethod",
    "proof_signature_invalid": "the signature does not verify: the credential or the signature was changed",
    "context_unavailable": "the credential names a JSON-LD context with no local copy",
    "structure_invalid": "the credential breaks an Open Badges 3.0 / VC 2.0 rule",
    "schema_invalid": "the credential fails the OB 3.0 JSON Schema",
    "schema_unavailable": "no OB 3.0 JSON Schema configured: not checked",
    "schema_not_applicable": "verifying a plain VC (expect='vc'): the OB schema does not apply",
    "issuer_missing": "the credential names no issuer",
    "issuer_mismatch": "the signing key does not belong to the credential's issuer",
    "dates_invalid": "a date cannot be parsed",
    "not_yet_valid": "validFrom is in the future",
    "expired": "validUntil is in the past",
    "status_none": "no credentialStatus: nothing to check",
    "status_revoked": "the status list says the credential is revoked",
    "status_suspended": "the status list says the credential is suspended",
    "status_unchecked": "the status could not be checked (no fetcher, or the list is unreachable)",
    "status_invalid": "the credentialStatus entry or the status list is malformed or not authentic",
}

StatusFetcher = Callable[[str], Any]


def check(name: str, ok: bool | None, code: str, message: str) -> dict[str, Any]:
    """One entry of a report."""
    return {"name": name, "ok": ok, "code": code, "message": message}


class TrustedKeys:
    """Public keys the caller vouches for (an https issuer's JWKS, for instance)."""

    def __init__(self, keys: Any = None):
        self._entries: list[tuple[str | None, Any]] = []
        if keys is None:
            return
        if isinstance(keys, TrustedKeys):
            self._entries = list(keys._entries)
        elif isinstance(keys, KeyRing):
            self._entries = [(k.kid, k.public_key) for k in keys.keys]
        elif isinstance(keys, IssuerKey):
            self._entries = [(keys.kid, keys.public_key)]
        elif isinstance(keys, Mapping) and "keys" in keys and isinstance(keys["keys"], list):
            self._add_jwks(keys["keys"])
        elif isinstance(keys, Mapping):
            self._entries = [(vm, coerce_public_key(value)) for vm, value in keys.items()]
        elif isinstance(keys, Iterable):
            self._add_jwks(list(keys))
        else:
            raise TypeError(f"cannot read keys from {type(keys).__name__}")

    def _add_jwks(self, jwks: list[Any]) -> None:
        for jwk in jwks:
            try:
                self._entries.append((jwk.get("kid"), coerce_public_key(jwk)))
            except KeyMaterialError:
                continue  # a JWKS may hold keys of other types: they cannot sign what we verify

    def __bool__(self) -> bool:
        return bool(self._entries)

    def find(self, method: str) -> Any:
        """The key for a verification method: exact kid, then kid whose fragment matches."""
        for kid, key in self._entries:
            if kid == method:
                return key
        fragment = method.partition("#")[2]
        if fragment:
            for kid, key in self._entries:
                if kid and kid.partition("#")[2] == fragment:
                    return key
        return None


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) and issuer else None


def _resolve(method: Any, trusted: TrustedKeys) -> tuple[Any, bool]:
    """(public key, vouched for by the caller). Raises ProofError."""
    if not isinstance(method, str) or not method:
        raise ProofError("proof_method_invalid", "the proof names no verification method")
    key = trusted.find(method)
    if key is not None:
        return key, True
    scheme = method.partition(":")[0]
    if ":" not in method or scheme not in ("did", "https", "http", "urn"):
        raise ProofError("proof_method_invalid", f"verification method {method!r} is not a DID or URL")
    if method.startswith("did:key:"):
        try:
            return resolve_did_key(method), False
        except KeyMaterialError as exc:
            raise ProofError("proof_method_unresolvable", f"{method}: {exc}") from exc
    if method.startswith("did:"):
        raise ProofError("proof_method_unresolvable",
                         f"DID method of {method!r} cannot be resolved offline; pass its keys")
    raise ProofError("proof_method_unresolvable", f"no key given for {method!r} (pass the issuer's JWKS)")


def _controller_matches(method: str, issuer_id: str | None) -> bool:
    return issuer_id is not None and method.partition("#")[0] == issuer_id


def _check_ldp(credential: Mapping[str, Any], trusted: TrustedKeys, loader: ContextLoader | None,
               ) -> tuple[dict[str, Any], list[tuple[str, bool]]]:
    """The proof check of an embedded proof, and (method, vouched) of each verified proof."""
    proofs = credential.get("proof")
    if proofs is None:
        return check("proof", False, "proof_missing", "the credential carries no proof"), []
    if isinstance(proofs, Mapping):
        proofs = [proofs]
    if not isinstance(proofs, list) or not all(isinstance(p, Mapping) for p in proofs):
        return check("proof", False, "proof_malformed", "proof must be an object or an array of objects"), []
    supported = [p for p in proofs if p.get("type") == "DataIntegrityProof" and p.get("cryptosuite") == "eddsa-rdfc-2022"]
    if not supported:
        kinds = ", ".join(sorted({f"{p.get('type')}/{p.get('cryptosuite')}" for p in proofs}))
        return check("proof", False, "proof_unsupported", f"no eddsa-rdfc-2022 proof (found {kinds})"), []
    verified: list[tuple[str, bool]] = []
    for proof in supported:
        method = proof.get("verificationMethod")
        try:
            if proof.get("proofPurpose") != "assertionMethod":
                raise ProofError("proof_purpose_invalid",
                                 f"proofPurpose is {proof.get('proofPurpose')!r}, not 'assertionMethod'")
            key, vouched = _resolve(method, trusted)
            if not check_data_integrity_proof(credential, proof, key, loader=loader):
                raise ProofError("proof_signature_invalid", f"the signature by {method} does not verify")
        except ProofError as exc:
            return check("proof", False, exc.code, str(exc)), []
        verified.append((method, vouched))
    skipped = len(proofs) - len(supported)
    note = f"; {skipped} proof(s) of other types ignored" if skipped else ""
    uncovered = dropped_terms({k: v for k, v in credential.items() if k != "proof"}, loader)
    if uncovered:
        # Valid as signed, but these claims are outside the signature: say so, ignore them.
        note += "; not covered by the proof (no JSON-LD definition), ignore: " + ", ".join(uncovered)
    methods = ", ".join(m for m, _ in verified)
    return check("proof", True, "ok", f"eddsa-rdfc-2022 proof by {methods} verifies{note}"), verified


def _check_jwt(token: str, trusted: TrustedKeys) -> tuple[dict[str, Any], dict[str, Any] | None,
                                                          dict[str, Any], list[tuple[str, bool]]]:
    """(proof check, credential, payload, verified methods) of a compact VC-JWT."""
    try:
        header, payload, signing_input, signature = decode_jwt(token)
        credential = credential_from_jwt_payload(payload)
    except ProofError as exc:
        return check("proof", False, "proof_malformed", str(exc)), None, {}, []
    if header.get("alg") not in ("EdDSA", "Ed25519"):  # RFC 9864 names Ed25519 outright
        return (check("proof", False, "proof_unsupported", f"JWT alg {header.get('alg')!r}; only EdDSA is supported"),
                credential, payload, [])
    method = header.get("kid")
    if not method:
        issuer = payload.get("iss") or _issuer_id(credential)
        method = issuer if isinstance(issuer, str) and issuer.startswith("did:key:") else None
    try:
        key, vouched = _resolve(method, trusted)
    except ProofError as exc:
        return check("proof", False, exc.code, str(exc)), credential, payload, []
    if not verify_signature(coerce_public_key(key), signature, signing_input):
        return (check("proof", False, "proof_signature_invalid", f"the JWT signature by {method} does not verify"),
                credential, payload, [])
    verified = check("proof", True, "ok", f"EdDSA JWT signature by {method} verifies")
    return verified, credential, payload, [(method, vouched)]


_TYPED_PATHS: list[tuple[tuple[str, ...], str]] = [
    (("issuer",), "Profile"),
    (("credentialSubject",), "AchievementSubject"),
    (("credentialSubject", "achievement"), "Achievement"),
    (("credentialSubject", "identifier", "*"), "IdentityObject"),
    (("credentialSubject", "result", "*"), "Result"),
    (("credentialSubject", "source"), "Profile"),
    (("credentialSubject", "achievement", "resultDescription", "*"), "ResultDescription"),
    (("credentialSubject", "achievement", "creator"), "Profile"),
    (("credentialSubject", "achievement", "alignment", "*"), "Alignment"),
    (("evidence", "*"), "Evidence"),
    (("issuer", "parentOrg"), "Profile"),
    (("issuer", "otherIdentifier", "*"), "IdentifierEntry"),
]


def _walk(value: Any, path: tuple[str, ...], where: str = "") -> Iterable[tuple[str, Any]]:
    if not path:
        yield where, value
        return
    head, rest = path[0], path[1:]
    if head == "*":
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            yield from _walk(item, rest, f"{where}[{i}]")
    elif isinstance(value, Mapping) and head in value:
        yield from _walk(value[head], rest, f"{where}.{head}" if where else head)


def structure_errors(credential: Mapping[str, Any], expect: str = "openbadge") -> list[str]:
    """Open Badges 3.0 / VC 2.0 rules checked without the JSON Schema (our own reading of the specs).

    ``expect='vc'`` applies the VC 2.0 rules only.
    """
    errors: list[str] = []
    context = credential.get("@context")
    types = credential.get("type")
    types = [types] if isinstance(types, str) else (types if isinstance(types, list) else [])
    if not isinstance(context, list) or not context or context[0] != "https://www.w3.org/ns/credentials/v2":
        errors.append("@context must start with https://www.w3.org/ns/credentials/v2")
    if expect == "vc":
        if "VerifiableCredential" not in types:
            errors.append("type must include VerifiableCredential")
        for field in ("issuer", "credentialSubject"):
            if not credential.get(field):
                errors.append(f"{field} is required")
        return errors
    if not errors and (len(context) < 2 or not (isinstance(context[1], str)
                                   and context[1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/context"))):
        errors.append("@context[1] must be an Open Badges 3.0 context")
    if "VerifiableCredential" not in types or not ({"OpenBadgeCredential", "AchievementCredential"} & set(types)):
        errors.append("type must include VerifiableCredential and OpenBadgeCredential (or AchievementCredential)")
    for field in ("id", "issuer", "validFrom", "credentialSubject"):
        if not credential.get(field):
            errors.append(f"{field} is required")
    for path, expected in _TYPED_PATHS:
        for where, node in _walk(credential, path):
            if not isinstance(node, Mapping):
                continue
            node_type = node.get("type")
            node_types = [node_type] if isinstance(node_type, str) else (node_type if isinstance(node_type, list) else [])
            if expected not in node_types:
                errors.append(f"{where}.type must include {expected!r} (found {node_type!r})")
    return errors


_schema_cache: dict[str, Any] = {}


def load_schema(path: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The OB 3.0 AchievementCredential JSON Schema from ``path`` or EXAM_ENGINE_OB_SCHEMA; None if neither."""
    location = path or os.environ.get(SCHEMA_ENV)
    if not location:
        return None
    key = str(location)
    if key not in _schema_cache:
        _schema_cache[key] = json.loads(Path(location).read_text("utf-8"))
    return _schema_cache[key]


def _check_schema(credential: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return check("schema", None, "schema_unavailable",
                     f"no OB 3.0 JSON Schema configured (set {SCHEMA_ENV}); structure checked only")
    document = dict(credential)
    note = ""
    if isinstance(document.get("proof"), Mapping):
        # VC 2.0 allows a single proof object; the OB schema wants a set, so check it as one.
        document["proof"] = [document["proof"]]
        note = " (a single proof object was checked as a one-element proof set)"
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        return check("schema", False, "schema_invalid", f"{len(errors)} schema error(s); first at {where}: "
                     f"{first.message[:300]}")
    return check("schema", True, "ok", "valid against the OB 3.0 AchievementCredential JSON Schema" + note)


def _check_issuer(credential: Mapping[str, Any], payload: Mapping[str, Any] | None,
                  verified: list[tuple[str, bool]]) -> dict[str, Any]:
    issuer_id = _issuer_id(credential)
    if issuer_id is None:
        return check("issuer", False, "issuer_missing", "the credential names no issuer id")
    if payload:
        if payload.get("iss") not in (None, issuer_id):
            return check("issuer", False, "issuer_mismatch",
                         f"JWT iss {payload.get('iss')!r} is not the issuer {issuer_id!r}")
        if payload.get("jti") not in (None, credential.get("id")):
            return check("issuer", False, "issuer_mismatch", "JWT jti differs from the credential id")
    for method, vouched in verified:
        if not (vouched or _controller_matches(method, issuer_id)):
            return check("issuer", False, "issuer_mismatch",
                         f"key {method} is not the issuer's ({issuer_id}): not its DID, and not in the given keys")
    if not verified:
        return check("issuer", None, "proof_missing", f"issuer {issuer_id}: no verified proof to bind it to")
    return check("issuer", True, "ok", f"signed by issuer {issuer_id}")


def _check_dates(credential: Mapping[str, Any], payload: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    try:
        start_text = credential.get("validFrom") or credential.get("issuanceDate")
        end_text = credential.get("validUntil") or credential.get("expirationDate")
        start = parse_datetime(start_text) if start_text else None
        end = parse_datetime(end_text) if end_text else None
    except (TypeError, ValueError) as exc:
        return check("dates", False, "dates_invalid", f"unreadable date: {exc}")
    if payload:
        if isinstance(payload.get("nbf"), (int, float)):
            nbf = datetime.fromtimestamp(payload["nbf"], timezone.utc)
            start = max(start, nbf) if start else nbf
        if isinstance(payload.get("exp"), (int, float)):
            exp = datetime.fromtimestamp(payload["exp"], timezone.utc)
            end = min(end, exp) if end else exp
    if start is not None and now < start:
        return check("dates", False, "not_yet_valid", f"valid only from {start.isoformat()}")
    if end is not None and now >= end:
        return check("dates", False, "expired", f"expired at {end.isoformat()}")
    window = f"from {start.isoformat() if start else '-'} until {end.isoformat() if end else '-'}"
    return check("dates", True, "ok", f"valid at {now.isoformat()} ({window})")


def _check_status(credential: Mapping[str, Any], fetcher: StatusFetcher | None, trusted: TrustedKeys,
                  loader: ContextLoader | None, now: datetime, depth: int) -> dict[str, Any]:
    entries = credential.get("credentialStatus")
    if not entries:
        return check("status", True, "status_none", "no credentialStatus")
    entries = entries if isinstance(entries, list) else [entries]
    messages = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("type") != "BitstringStatusListEntry":
            kind = entry.get("type") if isinstance(entry, Mapping) else type(entry).__name__
            return check("status", None, "status_unchecked", f"status of type {kind!r} is not supported")
        url = entry.get("statusListCredential")
        if not isinstance(url, str) or not url:
            return check("status", False, "status_invalid", "the status entry names no statusListCredential")
        if fetcher is None or depth > 0:
            return check("status", None, "status_unchecked", f"status list {url} not checked (no fetcher given)")
        try:
            fetched = fetcher(url)
        except Exception as exc:  # the fetcher is the caller's I/O: any failure means "could not check"
            return check("status", None, "status_unchecked", f"status list {url} unavailable: {exc}")
        if fetched is None:
            return check("status", None, "status_unchecked", f"status list {url} unavailable")
        list_report = verify(fetched, now=now, keys=trusted, loader=loader, _depth=depth + 1, _status_list=True)
        list_credential = list_report["credential"] or {}
        if not list_report["valid"]:
            failed = [c["code"] for c in list_report["checks"] if c["ok"] is False]
            return check("status", False, "status_invalid", f"status list {url} does not verify ({', '.join(failed)})")
        if _issuer_id(list_credential) != _issuer_id(credential):
            return check("status", False, "status_invalid", "the status list was issued by someone else")
        try:
            is_set = read_status(list_credential, entry)
        except StatusListError as exc:
            return check("status", False, "status_invalid", str(exc))
        purpose = entry.get("statusPurpose")
        if is_set and purpose == "revocation":
            return check("status", False, "status_revoked", f"revoked (bit {entry.get('statusListIndex')} of {url})")
        if is_set and purpose == "suspension":
            return check("status", False, "status_suspended", f"suspended (bit {entry.get('statusListIndex')} of {url})")
        messages.append(f"{purpose} bit {entry.get('statusListIndex')} of {url} is clear")
    return check("status", True, "ok", "; ".join(messages))


def verify(
    credential: Mapping[str, Any] | str | bytes,
    *,
    now: datetime | None = None,
    keys: Any = None,
    status_fetcher: StatusFetcher | None = None,
    schema: Mapping[str, Any] | None = None,
    loader: ContextLoader | None = None,
    expect: str = "openbadge",
    _depth: int = 0,
    _status_list: bool = False,
) -> dict[str, Any]:
    """Verify a credential (dict with an embedded proof, or a compact VC-JWT) and report every check.

    ``now`` defaults to the current UTC time; ``keys`` are keys the caller
    trusts (for https issuers); ``status_fetcher(url)`` returns the status
    list credential (dict or JWT) or raises / returns None when unreachable;
    ``schema`` is the OB 3.0 JSON Schema (default: EXAM_ENGINE_OB_SCHEMA);
    ``expect`` is 'openbadge' (default) or 'vc' for any VC 2.0 credential.
    """
    if expect not in ("openbadge", "vc"):
        raise ValueError("expect must be 'openbadge' or 'vc'")
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    trusted = TrustedKeys(keys)
    payload: dict[str, Any] | None = None
    if isinstance(credential, bytes):
        credential = credential.decode("utf-8")
    if isinstance(credential, str):
        text = credential.strip()
        if text.startswith("{"):
            try:
                credential = json.loads(text)
            except ValueError as exc:
                return _report("ldp", None, [check("proof", False, "proof_malformed", f"not JSON: {exc}")])
    if isinstance(credential, str):
        fmt = "jwt"
        proof_check, document, payload, verified = _check_jwt(credential, trusted)
        if document is None:
            return _report(fmt, None, [proof_check])
    elif isinstance(credential, Mapping):
        fmt = "ldp"
        document = dict(credential)
        proof_check, verified = _check_ldp(document, trusted, loader)
    else:
        raise TypeError("verify() takes a dict or a compact JWT string")

    checks = [proof_check]
    if not _status_list:
        errors = structure_errors(document, expect)
        standard = "VC 2.0" if expect == "vc" else "Open Badges 3.0"
        checks.append(check("structure", not errors, "structure_invalid" if errors else "ok",
                            "; ".join(errors) if errors else f"follows the {standard} structure"))
        if expect == "vc":
            checks.append(check("schema", None, "schema_not_applicable", "plain VC: the OB 3.0 schema does not apply"))
        else:
            checks.append(_check_schema(document, schema if schema is not None else load_schema()))
    checks.append(_check_issuer(document, payload, verified))
    checks.append(_check_dates(document, payload, now))
    if not _status_list:
        checks.append(_check_status(document, status_fetcher, trusted, loader, now, _depth))
    return _report(fmt, document, checks)


def _report(fmt: str, document: dict[str, Any] | None, checks: list[dict[str, Any]]) -> dict[str, Any]:
    valid = any(c["name"] == "proof" and c["ok"] for c in checks) and not any(c["ok"] is False for c in checks)
    return {"valid": valid, "format": fmt, "credential": document, "checks": checks}


def failed_codes(report: Mapping[str, Any]) -> list[str]:
    """The codes of the checks that failed."""
    return [c["code"] for c in report["checks"] if c["ok"] is False]


def same_key(a: Any, b: Any) -> bool:
    """True when two key representations are the same Ed25519 public key."""
    return public_key_bytes(coerce_public_key(a)) == public_key_bytes(coerce_public_key(b))


def format_report(report: Mapping[str, Any]) -> str:
    """A report as lines of text, for the command line (``exam-engine verify``)."""
    marks = {True: "ok  ", False: "FAIL", None: "??  "}
    lines = [f"{'VALID' if report['valid'] else 'INVALID'} ({report['format']})"]
    credential = report.get("credential") or {}
    if credential.get("id"):
        lines.append(f"credential {credential['id']}")
    for item in report["checks"]:
        lines.append(f"  [{marks[item['ok']]}] {item['name']:<9} {item['code']}: {item['message']}")
    return "\n".join(lines)


class _CallableModule(types.ModuleType):
    """Lets ``credentials.verify(...)`` call ``verify`` while ``credentials.verify`` stays this module."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return verify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
