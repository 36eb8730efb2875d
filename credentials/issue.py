"""Signing an OpenBadgeCredential in both formats: embedded Data Integrity proof and VC-JWT.

``issue_credential`` is what the service layer calls once an attempt's final
result is a pass: it takes the unsigned credential (``model.build_credential``),
the issuer's key ring and the issuing instant, and returns the signed JSON and
the compact JWT. It is deterministic: Ed25519 signatures are, and so is the
canonical form, so re-issuing the same credential at the same instant yields
the same bytes (handy for idempotent retries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credentials.contexts import OB_V3P0_3_0_3, VC_V2, ContextLoader
from credentials.keys import IssuerKey, KeyRing
from credentials.model import Profile
from credentials.proofs import attach_proof, create_data_integrity_proof, dropped_terms, encode_jwt

MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"


class IssuingError(ValueError):
    """The credential cannot be signed as asked (e.g. issuer and key disagree)."""


@dataclass(frozen=True)
class IssuedCredential:
    """A signed credential: JSON with an embedded proof, and the same credential as a VC-JWT."""

    credential: dict[str, Any]  # with "proof": [DataIntegrityProof]
    jwt: str
    verification_method: str

    @property
    def id(self) -> str:
        """The credential's id."""
        return self.credential["id"]


def issuer_profile(keyring_or_key: KeyRing | IssuerKey, name: str, *, url: str | None = None,
                   issuer_id: str | None = None, **extra: Any) -> Profile:
    """The issuer Profile; its id defaults to the current key's did:key (offline-verifiable)."""
    key = keyring_or_key.current if isinstance(keyring_or_key, KeyRing) else keyring_or_key
    return Profile(id=issuer_id or key.did, name=name, url=url, **extra)


def issuer_profile_document(profile: Profile, keys: KeyRing) -> dict[str, Any]:
    """The issuer's public Profile document (served at an https issuer's id) listing its keys.

    Every key, current first, as a Multikey whose id is its did:key verification
    method, so a verifier that fetches the profile finds the same keys as in
    /.well-known/jwks.json.
    """
    document = {"@context": [VC_V2, OB_V3P0_3_0_3, MULTIKEY_V1], **profile.to_json()}
    document["verificationMethod"] = [
        {"id": k.verification_method, "type": "Multikey", "controller": k.did, "publicKeyMultibase": k.multikey}
        for k in keys.keys
    ]
    document["assertionMethod"] = [k.verification_method for k in keys.keys]
    return document


def _signing_key(keys: KeyRing | IssuerKey) -> IssuerKey:
    key = keys.current if isinstance(keys, KeyRing) else keys
    if not key.can_sign:
        raise IssuingError("the signing key has no private half")
    return key


def _check_issuer(credential: Mapping[str, Any], key: IssuerKey) -> None:
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not isinstance(issuer_id, str) or not issuer_id:
        raise IssuingError("the credential has no issuer id")
    if issuer_id.startswith("did:key:") and issuer_id != key.did:
        raise IssuingError("a did:key issuer must be the signing key's own DID")
    if not issuer_id.startswith(("did:", "https://", "http://")):
        raise IssuingError("the issuer id must be a DID or an https URL")


def sign_data_integrity(credential: Mapping[str, Any], keys: KeyRing | IssuerKey, *, created: datetime,
                        loader: ContextLoader | None = None) -> dict[str, Any]:
    """The credential with an eddsa-rdfc-2022 proof appended to its ``proof`` array."""
    key = _signing_key(keys)
    _check_issuer(credential, key)
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    dropped = dropped_terms(unsigned, loader)
    if dropped:
        raise IssuingError("these properties have no JSON-LD definition, so no proof would cover them: "
                           + ", ".join(dropped))
    return attach_proof(credential, create_data_integrity_proof(credential, key, created=created, loader=loader))


def sign_jwt(credential: Mapping[str, Any], keys: KeyRing | IssuerKey, *, issued_at: datetime) -> str:
    """The credential (without any embedded proof) as a compact EdDSA VC-JWT."""
    key = _signing_key(keys)
    _check_issuer(credential, key)
    return encode_jwt(credential, key, issued_at=issued_at)


def issue_credential(credential: Mapping[str, Any], keys: KeyRing | IssuerKey, *, issued_at: datetime,
                     loader: ContextLoader | None = None) -> IssuedCredential:
    """Sign an unsigned credential in both formats with the ring's current key."""
    if "proof" in credential:
        raise IssuingError("the credential is already signed")
    key = _signing_key(keys)
    return IssuedCredential(
        credential=sign_data_integrity(credential, key, created=issued_at, loader=loader),
        jwt=sign_jwt(credential, key, issued_at=issued_at),
        verification_method=key.verification_method,
    )
