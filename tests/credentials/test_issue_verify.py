"""Issuing and verifying both proof formats, checked by our verifier and by independent code."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld

from credentials.issue import IssuingError, issue_credential, issuer_profile, sign_jwt
from credentials.keys import IssuerKey, b64url, b64url_decode
from credentials.model import hash_identity, identity_matches
from credentials.verify import CODES, failed_codes, verify
from tests.credentials.conftest import EMAIL, NOW, SALT, demo_credential


def check_of(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


# --- an independent eddsa-rdfc-2022 verifier, written from the vc-di-eddsa steps -------------

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58btc(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + _ALPHABET.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def spec_verify_eddsa_rdfc_2022(document: dict, public_key_multibase: str, loader) -> bool:
    """vc-di-eddsa §3.3: transform (RDFC-1.0), hash (SHA-256), proof config, verify (Ed25519)."""
    doc = copy.deepcopy(document)
    proof = doc.pop("proof")[0]
    proof_value = proof.pop("proofValue")
    proof["@context"] = doc["@context"]
    opts = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader}
    transformed = jsonld.normalize(doc, opts)
    canonical_config = jsonld.normalize(proof, opts)
    hash_data = hashlib.sha256(canonical_config.encode()).digest() + hashlib.sha256(transformed.encode()).digest()
    multicodec_key = _base58btc(public_key_multibase[1:])
    assert multicodec_key[:2] == b"\xed\x01"
    assert proof_value[0] == "z"
    try:
        Ed25519PublicKey.from_public_bytes(multicodec_key[2:]).verify(_base58btc(proof_value[1:]), hash_data)
    except InvalidSignature:
        return False
    return True


# --- what we issue -------------------------------------------------------------------------

def test_issued_credential_verifies_in_both_formats(issued, loader):
    for form in (issued.credential, issued.jwt):
        report = verify(form, now=NOW, loader=loader)
        assert report["valid"], report
        assert [c["name"] for c in report["checks"]] == ["proof", "structure", "schema", "issuer", "dates", "status"]
        assert check_of(report, "status")["code"] == "status_unchecked"  # no fetcher: reported, not fatal
        assert check_of(report, "status")["ok"] is None
    assert verify(issued.credential, now=NOW, loader=loader)["format"] == "ldp"
    assert verify(issued.jwt, now=NOW, loader=loader)["format"] == "jwt"


def test_verify_accepts_json_text_and_bytes(issued, loader):
    text = json.dumps(issued.credential)
    assert verify(text, now=NOW, loader=loader)["valid"]
    assert verify(issued.jwt.encode(), now=NOW, loader=loader)["valid"]


def test_proof_is_an_array_with_the_did_key_method(issued, ring):
    proofs = issued.credential["proof"]
    assert isinstance(proofs, list) and len(proofs) == 1
    assert proofs[0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert proofs[0]["verificationMethod"] == ring.current.verification_method
    assert issued.credential["issuer"]["id"] == ring.current.did


@pytest.mark.fixtures
def test_issued_credential_validates_against_the_official_schema(issued, ob_schema, loader):
    import jsonschema

    jsonschema.Draft201909Validator(ob_schema).validate(issued.credential)
    payload = json.loads(b64url_decode(issued.jwt.split(".")[1]))
    jsonschema.Draft201909Validator(ob_schema).validate(payload["vc"])
    report = verify(issued.credential, now=NOW, loader=loader, schema=ob_schema)
    assert check_of(report, "schema") == {"name": "schema", "ok": True, "code": "ok",
                                          "message": check_of(report, "schema")["message"]}


def test_the_plain_email_is_never_in_the_credential(issued):
    assert EMAIL not in json.dumps(issued.credential)
    assert EMAIL not in issued.jwt and EMAIL not in b64url_decode(issued.jwt.split(".")[1]).decode()
    identity = issued.credential["credentialSubject"]["identifier"][0]
    assert identity["hashed"] is True and identity["salt"] == SALT
    assert identity["identityHash"] == hash_identity(EMAIL, SALT)
    assert identity_matches(identity, " Learner@Example.org ")
    assert not identity_matches(identity, "someone@example.org")


def test_evidence_carries_the_attempt_and_its_hash_chain_head(issued):
    evidence = issued.credential["evidence"][0]
    assert evidence["id"] == "https://exam.example.org/sessions/981"
    assert evidence["hashChainHead"] == "sha256:" + "ab" * 32
    assert evidence["hashChainHead"] in evidence["description"]


def test_independent_data_integrity_verification(issued, ring, loader):
    assert spec_verify_eddsa_rdfc_2022(issued.credential, ring.current.multikey, loader)
    tampered = copy.deepcopy(issued.credential)
    tampered["credentialSubject"]["creditsEarned"] = 50.0
    assert not spec_verify_eddsa_rdfc_2022(tampered, ring.current.multikey, loader)


# Two independent JOSE libraries: PyJWT (a runtime dependency, always there) and joserfc (a test
# dependency; skipped where it is not installed). Our JWT code uses neither.

def test_independent_jwt_verification_with_pyjwt(issued, ring):
    import jwt as pyjwt

    key = pyjwt.PyJWK(ring.current.public_jwk())
    claims = pyjwt.decode(issued.jwt, key.key, algorithms=["EdDSA"], options={"verify_sub": False})
    assert pyjwt.get_unverified_header(issued.jwt)["kid"] == ring.current.verification_method
    assert claims["iss"] == ring.current.did and claims["jti"] == issued.id
    assert claims["vc"] == {k: v for k, v in issued.credential.items() if k != "proof"}
    header, payload, signature = issued.jwt.split(".")
    forged = json.loads(b64url_decode(payload))
    forged["vc"]["credentialSubject"]["creditsEarned"] = 60.0
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(".".join([header, b64url(json.dumps(forged).encode()), signature]), key.key,
                     algorithms=["EdDSA"])


# joserfc warns that RFC 9864 deprecates "EdDSA" in favour of "Ed25519"; OB 3.0 still names
# EdDSA, so we issue it and silence that one warning here only.
JOSERFC_EDDSA = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")


@JOSERFC_EDDSA
def test_independent_jwt_verification_with_joserfc(issued, ring):
    pytest.importorskip("joserfc", reason="joserfc (test dependency) is not installed")
    from joserfc import jwt
    from joserfc.jwk import KeySet, OKPKey

    key = OKPKey.import_key(ring.current.public_jwk())
    token = jwt.decode(issued.jwt, key, algorithms=["EdDSA"])
    assert token.header["alg"] == "EdDSA"
    assert token.header["kid"] == ring.current.verification_method
    assert token.claims["iss"] == ring.current.did
    assert token.claims["jti"] == issued.credential["id"]
    assert token.claims["nbf"] == int(NOW.timestamp())
    unsigned = {k: v for k, v in issued.credential.items() if k != "proof"}
    assert token.claims["vc"] == unsigned
    # The published key set works the same way, found by kid.
    jwks = KeySet.import_key_set(ring.jwks())
    assert jwt.decode(issued.jwt, jwks, algorithms=["EdDSA"]).claims["vc"]["id"] == issued.id


@JOSERFC_EDDSA
def test_independent_library_rejects_a_tampered_jwt(issued, ring):
    pytest.importorskip("joserfc", reason="joserfc (test dependency) is not installed")
    from joserfc import jwt
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import OKPKey

    header, payload, signature = issued.jwt.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["vc"]["credentialSubject"]["creditsEarned"] = 60.0
    forged = ".".join([header, b64url(json.dumps(claims).encode()), signature])
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, OKPKey.import_key(ring.current.public_jwk()), algorithms=["EdDSA"])


# --- tampering: every change fails -------------------------------------------------------------

CLAIM_CHANGES = {
    "name": lambda c: c.update(name="Advanced Statistics"),
    "score": lambda c: c["credentialSubject"]["result"][0].update(value="50"),
    "credits": lambda c: c["credentialSubject"].update(creditsEarned=30.0),
    "identity": lambda c: c["credentialSubject"]["identifier"][0].update(identityHash=hash_identity("x@y.org", SALT)),
    "achievement": lambda c: c["credentialSubject"]["achievement"].update(name="Calculus"),
    "evidence head": lambda c: c["evidence"][0].update(hashChainHead="sha256:" + "cd" * 32),
    "valid until": lambda c: c.update(validUntil="2099-01-01T00:00:00Z"),
    "status index": lambda c: c["credentialStatus"].update(statusListIndex="18"),
    "issuer name": lambda c: c["issuer"].update(name="Evil University"),
}


@pytest.mark.parametrize("change", sorted(CLAIM_CHANGES))
def test_changing_a_claim_breaks_the_embedded_proof(issued, loader, change):
    tampered = copy.deepcopy(issued.credential)
    CLAIM_CHANGES[change](tampered)
    report = verify(tampered, now=NOW, loader=loader)
    assert not report["valid"]
    assert check_of(report, "proof")["code"] == "proof_signature_invalid"


@pytest.mark.parametrize("change", sorted(CLAIM_CHANGES))
def test_changing_a_claim_breaks_the_jwt(issued, loader, change):
    header, payload, signature = issued.jwt.split(".")
    claims = json.loads(b64url_decode(payload))
    CLAIM_CHANGES[change](claims["vc"])
    forged = ".".join([header, b64url(json.dumps(claims).encode()), signature])
    report = verify(forged, now=NOW, loader=loader)
    assert not report["valid"]
    assert check_of(report, "proof")["code"] == "proof_signature_invalid"


def test_changing_the_proof_options_breaks_the_proof(issued, loader):
    tampered = copy.deepcopy(issued.credential)
    tampered["proof"][0]["created"] = "2030-01-01T00:00:00Z"
    assert failed_codes(verify(tampered, now=NOW, loader=loader))[0] == "proof_signature_invalid"


def test_changing_the_signature_fails(issued, loader):
    tampered = copy.deepcopy(issued.credential)
    value = tampered["proof"][0]["proofValue"]
    tampered["proof"][0]["proofValue"] = value[:10] + ("2" if value[10] != "2" else "3") + value[11:]
    assert check_of(verify(tampered, now=NOW, loader=loader), "proof")["code"] == "proof_signature_invalid"

    header, payload, signature = issued.jwt.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[0] ^= 1
    report = verify(".".join([header, payload, b64url(bytes(raw))]), now=NOW, loader=loader)
    assert check_of(report, "proof")["code"] == "proof_signature_invalid"


def test_swapping_the_key_fails(issued, unsigned, ring, loader):
    other = IssuerKey.generate()
    # The proof now names another did:key: its key did not make the signature.
    tampered = copy.deepcopy(issued.credential)
    tampered["proof"][0]["verificationMethod"] = other.verification_method
    assert check_of(verify(tampered, now=NOW, loader=loader), "proof")["code"] == "proof_signature_invalid"
    # Re-signed by another key while still claiming our issuer: the proof holds, the issuer check does not.
    forged = issue_credential.__wrapped__ if hasattr(issue_credential, "__wrapped__") else None
    assert forged is None
    from credentials.proofs import attach_proof, create_data_integrity_proof, encode_jwt

    resigned = attach_proof(unsigned, create_data_integrity_proof(unsigned, other, created=NOW, loader=loader))
    report = verify(resigned, now=NOW, loader=loader)
    assert check_of(report, "proof")["ok"] is True
    assert check_of(report, "issuer")["code"] == "issuer_mismatch" and not report["valid"]
    report = verify(encode_jwt(unsigned, other, issued_at=NOW), now=NOW, loader=loader)
    assert check_of(report, "issuer")["code"] == "issuer_mismatch" and not report["valid"]
    # The JWT header kid swapped for another key.
    header, payload, signature = issued.jwt.split(".")
    head = json.loads(b64url_decode(header))
    head["kid"] = other.verification_method
    forged_jwt = ".".join([b64url(json.dumps(head).encode()), payload, signature])
    assert check_of(verify(forged_jwt, now=NOW, loader=loader), "proof")["code"] == "proof_signature_invalid"


def test_removing_the_proof_fails(issued, loader):
    bare = {k: v for k, v in issued.credential.items() if k != "proof"}
    report = verify(bare, now=NOW, loader=loader)
    assert not report["valid"] and check_of(report, "proof")["code"] == "proof_missing"


def test_a_malformed_jwt_is_reported_not_raised(loader):
    for token in ("not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        report = verify(token, now=NOW, loader=loader)
        assert not report["valid"]
        assert check_of(report, "proof")["code"] in {"proof_malformed", "proof_unsupported"}


def test_unsigned_alg_none_is_refused(issued, loader):
    _, payload, _ = issued.jwt.split(".")
    token = b64url(json.dumps({"alg": "none"}).encode()) + "." + payload + "."
    report = verify(token, now=NOW, loader=loader)
    assert check_of(report, "proof")["code"] == "proof_unsupported" and not report["valid"]


# --- dates ---------------------------------------------------------------------------------------

def test_dates_are_checked_against_the_callers_now(ring, loader):
    issued = issue_credential(demo_credential(ring, valid_until=NOW + timedelta(days=365)), ring,
                              issued_at=NOW, loader=loader)
    for form in (issued.credential, issued.jwt):
        assert verify(form, now=NOW + timedelta(days=1), loader=loader)["valid"]
        early = verify(form, now=NOW - timedelta(seconds=1), loader=loader)
        assert check_of(early, "dates")["code"] == "not_yet_valid" and not early["valid"]
        late = verify(form, now=NOW + timedelta(days=366), loader=loader)
        assert check_of(late, "dates")["code"] == "expired" and not late["valid"]


# --- issuers -------------------------------------------------------------------------------------

def test_https_issuer_needs_its_key_set(ring, loader):
    profile = issuer_profile(ring, "Example University", issuer_id="https://exam.example.org/issuer")
    issued = issue_credential(demo_credential(ring, issuer=profile), ring, issued_at=NOW, loader=loader)
    for form in (issued.credential, issued.jwt):
        alone = verify(form, now=NOW, loader=loader)
        assert check_of(alone, "proof")["ok"] and check_of(alone, "issuer")["code"] == "issuer_mismatch"
        with_jwks = verify(form, now=NOW, loader=loader, keys=ring.jwks())
        assert with_jwks["valid"], with_jwks


def test_issuing_refuses_a_did_key_issuer_that_is_not_the_signing_key(ring, loader):
    other = IssuerKey.generate()
    credential = demo_credential(ring)
    with pytest.raises(IssuingError):
        issue_credential(credential, other, issued_at=NOW, loader=loader)
    with pytest.raises(IssuingError):
        sign_jwt(credential, ring.current.public_only(), issued_at=NOW)
    with pytest.raises(IssuingError):
        issue_credential(issue_credential(credential, ring, issued_at=NOW, loader=loader).credential, ring,
                         issued_at=NOW, loader=loader)


def test_issuing_is_deterministic_for_idempotent_retries(unsigned, ring, loader):
    first = issue_credential(unsigned, ring, issued_at=NOW, loader=loader)
    again = issue_credential(copy.deepcopy(unsigned), ring, issued_at=NOW, loader=loader)
    assert first.credential == again.credential and first.jwt == again.jwt


def test_key_rotation_keeps_old_credentials_verifiable(ring, loader):
    profile = issuer_profile(ring, "Example University", issuer_id="https://exam.example.org/issuer")
    old = issue_credential(demo_credential(ring, issuer=profile), ring, issued_at=NOW, loader=loader)
    ring.rotate()
    new = issue_credential(demo_credential(ring, issuer=profile), ring, issued_at=NOW, loader=loader)
    assert old.verification_method != new.verification_method
    published = json.loads(json.dumps(ring.jwks()))  # what /.well-known/jwks.json serves
    assert all("d" not in k for k in published["keys"])
    for issued in (old, new):
        assert verify(issued.credential, now=NOW, loader=loader, keys=published)["valid"]
        assert verify(issued.jwt, now=NOW, loader=loader, keys=published)["valid"]


def test_issuing_refuses_claims_that_the_proof_would_not_cover(ring, loader):
    credential = demo_credential(ring)
    credential["credentialSubject"]["favouriteColour"] = "blue"  # no JSON-LD term: would go unsigned
    with pytest.raises(IssuingError, match="favouriteColour"):
        issue_credential(credential, ring, issued_at=NOW, loader=loader)


def test_verify_names_claims_outside_the_signature(issued, loader):
    padded = copy.deepcopy(issued.credential)
    padded["credentialSubject"]["favouriteColour"] = "blue"
    report = verify(padded, now=NOW, loader=loader)
    assert check_of(report, "proof")["ok"] is True  # JSON-LD ignores it, so the signature still holds
    assert "favouriteColour" in check_of(report, "proof")["message"]


def test_package_level_api_and_text_report(issued, loader):
    import credentials
    from credentials.verify import format_report

    import credentials.verify as verify_module

    report = credentials.verify(issued.jwt, now=NOW, loader=loader)
    assert verify_module is credentials.verify and verify_module.format_report is format_report
    text = format_report(report)
    assert text.startswith("VALID (jwt)") and "proof" in text and "status_unchecked" in text


GARBAGE = [
    {}, {"@context": 5}, {"@context": [{"@version": 2}]}, {"proof": "x"}, {"type": 5, "credentialSubject": [{"type": 5}]},
    {"issuer": [1], "validFrom": "yesterday"}, {"credentialStatus": [5]}, "garbage", "{not json", "a.b", "a.b.c.d",
]


@pytest.mark.parametrize("junk", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_gives_a_report_never_an_exception(junk, loader):
    key = IssuerKey.generate()
    proof = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofPurpose": "assertionMethod",
             "verificationMethod": key.verification_method, "proofValue": "z" + "2" * 88}
    if isinstance(junk, dict):
        junk = {"@context": ["https://www.w3.org/ns/credentials/v2"], "proof": [proof], **junk}
    report = verify(junk, now=NOW, loader=loader)
    assert report["valid"] is False
    assert all(c["code"] in CODES for c in report["checks"])


def test_issuer_profile_document_lists_every_key(ring, loader):
    from credentials.issue import issuer_profile_document

    first = ring.current
    ring.rotate()
    profile = issuer_profile(ring, "Example University", issuer_id="https://exam.example.org/issuer")
    document = issuer_profile_document(profile, ring)
    assert document["id"] == "https://exam.example.org/issuer" and document["type"] == ["Profile"]
    assert document["assertionMethod"] == [ring.current.verification_method, first.verification_method]
    assert [m["publicKeyMultibase"] for m in document["verificationMethod"]] == [ring.current.multikey, first.multikey]
    # The keys listed there are the keys a verifier can be given.
    keys = {m["id"]: m["publicKeyMultibase"] for m in document["verificationMethod"]}
    issued = issue_credential(demo_credential(ring, issuer=profile), ring, issued_at=NOW, loader=loader)
    assert verify(issued.credential, now=NOW, loader=loader, keys=keys)["valid"]
