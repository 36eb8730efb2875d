"""Conformance with what others issue: the OB 3.0 validator's credentials, the spec's test vectors, W3C's vectors.

All files are read in place from ../shared/fixtures (never copied here). The
test-vector keys are published test keys; the tests vouch for them explicitly
through ``keys=``, as a relying party would for an issuer it knows.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credentials.contexts import ContextLoader
from credentials.keys import IssuerKey, KeyMaterialError, b58decode, public_from_multikey
from credentials.proofs import canonicalize, create_data_integrity_proof
from credentials.verify import failed_codes, verify
from tests._fixtures import fixture_path

pytestmark = pytest.mark.fixtures

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
TEST_KEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"  # 1EdTech's published test key


def ob3(*parts: str) -> Path:
    return fixture_path("openbadges", "v3", *parts)


def load(path: Path):
    return json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def fixture_loader() -> ContextLoader:
    """Installed contexts, plus the fixture copies of contexts we do not ship (read in place)."""
    offline = ("openbadges", "contexts-offline")
    return ContextLoader({
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": fixture_path(*offline, "ob-v3p0-3.0.3.json"),
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": fixture_path(*offline, "ob-v3p0-3.0.2.json"),
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": fixture_path(*offline, "ob-v3p0-3.0.1.json"),
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": fixture_path(*offline, "ob-v3p0-extensions.json"),
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json": fixture_path(*offline, "ob-v3p0.json"),
        "https://www.w3.org/ns/credentials/examples/v2": fixture_path("vc", "contexts", "credentials-examples-v2.jsonld"),
    }, use_env=False)


@pytest.fixture(scope="module")
def schema() -> dict:
    return load(ob3("schema", "ob_v3p0_achievementcredential_schema.json"))


def vouched_keys(credential: dict) -> dict:
    """Trust the key an https or did:key verification method names, when it is a valid multikey.

    A test-only shortcut for the published test keys: a real relying party gets
    an https issuer's keys from its JWKS, never from the credential itself.
    """
    proofs = credential.get("proof") or []
    proofs = [proofs] if isinstance(proofs, dict) else proofs
    keys = {}
    for proof in proofs:
        method = proof.get("verificationMethod")
        if not isinstance(method, str):
            continue
        if method.startswith("https://"):
            candidate = method.partition("#")[2]
        elif method.startswith("did:key:"):
            candidate = method.partition("#")[0][len("did:key:"):]
        else:
            continue
        try:
            public_from_multikey(candidate)
        except KeyMaterialError:
            continue
        keys[method] = candidate
    return keys


def check_of(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


# --- the OB 3.0 eddsa-rdfc-2022 test vector ----------------------------------------------------

def test_we_reproduce_the_ob3_test_vector(fixture_loader):
    vector = load(ob3("test-vectors", "ob3-eddsa-rdfc-2022-vector.json"))
    unsigned = vector["unsignedCredential"]
    expected = vector["signedCredential"]["proof"]
    assert canonicalize(unsigned, fixture_loader) == ob3("test-vectors", "obv3p0", "document-canon.txt").read_text()
    assert hashlib.sha256(canonicalize(unsigned, fixture_loader).encode()).hexdigest() == vector["documentHashHex"]
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["privateKeyHex"])[:32])
    key = IssuerKey.from_private(private)
    assert key.multikey == vector["publicKeyMultibase"]
    proof = create_data_integrity_proof(
        unsigned, key, created=datetime(2010, 1, 1, 19, 23, 24, tzinfo=timezone.utc),
        verification_method=vector["verificationMethod"], loader=fixture_loader)
    assert proof["proofValue"] == vector["proofValue"] == expected["proofValue"]  # Ed25519 is deterministic


def test_we_verify_the_ob3_test_vector(fixture_loader, schema):
    vector = load(ob3("test-vectors", "ob3-eddsa-rdfc-2022-vector.json"))
    signed = vector["signedCredential"]
    report = verify(signed, now=NOW, loader=fixture_loader, schema=schema,
                    keys={vector["verificationMethod"]: vector["publicKeyMultibase"]})
    assert report["valid"], report
    assert "single proof object" in check_of(report, "schema")["message"]


# --- the 1EdTech validator's credentials ---------------------------------------------------------

VALID = ["simple.json", "complete.json", "simple-did-key-method.json", "simple-did-web-method.json",
         "simple-multiple-proofs.json", "simple-context-alias.json", "simple-context-version.json"]


@pytest.mark.parametrize("name", VALID)
def test_validator_valid_credentials_are_accepted(name, fixture_loader, schema):
    credential = load(ob3("validator-tests", name))
    report = verify(credential, now=NOW, loader=fixture_loader, schema=schema, keys=vouched_keys(credential))
    assert report["valid"], report
    assert check_of(report, "proof")["ok"] is True
    assert check_of(report, "schema")["ok"] is True


def test_validator_endorsement_verifies_as_a_vc(fixture_loader):
    credential = load(ob3("validator-tests", "endorsement-valid.json"))
    as_vc = verify(credential, now=NOW, loader=fixture_loader, keys=vouched_keys(credential), expect="vc")
    assert as_vc["valid"], as_vc
    as_badge = verify(credential, now=NOW, loader=fixture_loader, keys=vouched_keys(credential))
    assert failed_codes(as_badge) == ["structure_invalid"]  # an endorsement is not an OpenBadgeCredential


#: simple-err-* file -> (the code that must be among the failures, the check it belongs to, words in its message)
ERRORS = {
    "simple-err-context.json": ("structure_invalid", "structure", "credentials/v2"),
    "simple-err-type.json": ("structure_invalid", "structure", "OpenBadgeCredential"),
    "simple-err-issuer.json": ("issuer_missing", "issuer", "no issuer"),
    "simple-err-issuer-type.json": ("structure_invalid", "structure", "issuer.type"),
    "simple-err-issuer-parentorg-type.json": ("structure_invalid", "structure", "issuer.parentOrg.type"),
    "simple-err-issuer-otheridentifier-type.json": ("structure_invalid", "structure", "issuer.otherIdentifier[1]"),
    "simple-err-credential-subject-type.json": ("structure_invalid", "structure", "credentialSubject.type"),
    "simple-err-credential-subject-identifier-type.json": ("structure_invalid", "structure", "identifier[0].type"),
    "simple-err-credential-subject-profile-type.json": ("structure_invalid", "structure", "credentialSubject.source"),
    "simple-err-credential-subject-result-type.json": ("structure_invalid", "structure", "result[1].type"),
    "simple-err-credential-subject-achievement-result-description-type.json":
        ("structure_invalid", "structure", "resultDescription"),
    "simple-err-evidence-type.json": ("structure_invalid", "structure", "evidence[1].type"),
    "simple-err-expired.json": ("expired", "dates", "expired"),
    "simple-err-issued.json": ("not_yet_valid", "dates", "valid only from"),
    "simple-err-proof-value.json": ("proof_signature_invalid", "proof", "does not verify"),
    "simple-err-proof-method.json": ("proof_method_unresolvable", "proof", "no key"),
    "simple-err-proof-method-no-scheme.json": ("proof_method_invalid", "proof", "not a DID or URL"),
    "simple-err-proof-method-unknown-scheme.json": ("proof_method_invalid", "proof", "not a DID or URL"),
    "simple-err-proof-method-unknown-did-method.json": ("proof_method_unresolvable", "proof", "did:example"),
}


def test_every_simple_err_file_is_listed():
    on_disk = {p.name for p in ob3("validator-tests").glob("simple-err-*.json")}
    assert on_disk == set(ERRORS)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_validator_error_credentials_are_rejected_for_the_right_reason(name, fixture_loader, schema):
    credential = load(ob3("validator-tests", name))
    report = verify(credential, now=NOW, loader=fixture_loader, schema=schema, keys=vouched_keys(credential))
    code, check_name, words = ERRORS[name]
    assert not report["valid"]
    assert code in failed_codes(report), report
    failing = check_of(report, check_name)
    assert failing["code"] == code and words in failing["message"], failing


def test_validator_revoked_credential_is_reported_revoked(fixture_loader):
    folder = ob3("validator-tests", "bit-string-list")
    status_list = load(folder / "testlist")
    for name in ("credential-status-revoked.json", "credential-status-revoked-blank-nodes.json"):
        credential = load(folder / name)
        url = credential["credentialStatus"]["statusListCredential"]
        keys = {**vouched_keys(credential), **vouched_keys(status_list)}
        fetched = []

        def fetch(requested: str) -> dict:
            fetched.append(requested)
            if requested != url:
                raise LookupError(requested)
            return status_list

        report = verify(credential, now=NOW, loader=fixture_loader, keys=keys, status_fetcher=fetch)
        assert fetched == [url]
        assert check_of(report, "proof")["ok"] is True
        assert check_of(report, "status")["code"] == "status_revoked", report
        assert not report["valid"]


def test_validator_jwt_without_a_key_is_decoded_but_not_accepted(fixture_loader):
    token = ob3("validator-tests", "simple.jwt").read_text().strip()
    report = verify(token, now=NOW, loader=fixture_loader)
    assert report["format"] == "jwt" and report["credential"]["type"][-1] == "OpenBadgeCredential"
    assert check_of(report, "proof")["code"] == "proof_unsupported"  # RS256, no published key
    assert not report["valid"]


@pytest.mark.parametrize("name", ["minimal_valid_obv3.json", "spec-complete-example.json"])
def test_unsigned_examples_pass_the_schema_but_not_the_proof(name, fixture_loader, schema):
    report = verify(load(ob3("examples", name)), now=NOW, loader=fixture_loader, schema=schema)
    assert check_of(report, "schema")["ok"] is True
    assert failed_codes(report)[0] == "proof_missing" and not report["valid"]


# --- W3C vc-di-eddsa test vectors ------------------------------------------------------------------

def vc_vectors(*parts: str) -> Path:
    return fixture_path("vc", "vc-di-eddsa-test-vectors", *parts)


def private_from_multibase(multibase: str) -> Ed25519PrivateKey:
    raw = b58decode(multibase[1:])
    assert raw[:2] == b"\x80\x26"  # multicodec ed25519-priv
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


def test_we_reproduce_the_w3c_eddsa_rdfc_2022_vector(fixture_loader):
    pair = load(vc_vectors("keyPair.json"))
    unsigned = load(vc_vectors("unsigned.json"))
    signed = load(vc_vectors("eddsa-rdfc-2022", "signedDataInt.json"))
    assert canonicalize(unsigned, fixture_loader) == vc_vectors("eddsa-rdfc-2022", "canonDocDataInt.txt").read_text()
    key = IssuerKey.from_private(private_from_multibase(pair["privateKeyMultibase"]))
    assert key.multikey == pair["publicKeyMultibase"]
    proof = create_data_integrity_proof(unsigned, key, created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=timezone.utc),
                                        loader=fixture_loader)
    assert proof["verificationMethod"] == signed["proof"]["verificationMethod"]
    assert proof["proofValue"] == signed["proof"]["proofValue"]


@pytest.mark.parametrize("path", [("eddsa-rdfc-2022", "signedDataInt.json"),
                                  ("proof-set-chain", "signedProofSet1.json"),
                                  ("proof-set-chain", "signedProofSet2.json")])
def test_w3c_signed_vectors_verify(path, fixture_loader):
    credential = load(vc_vectors(*path))
    # did:key resolves offline; the issuer is an https URL, so the relying party vouches for the keys.
    report = verify(credential, now=NOW, loader=fixture_loader, expect="vc", keys=vouched_keys(credential))
    assert report["valid"], report
    alone = verify(credential, now=NOW, loader=fixture_loader, expect="vc")
    assert check_of(alone, "proof")["ok"] is True and check_of(alone, "issuer")["code"] == "issuer_mismatch"


def test_w3c_vector_tampered_fails(fixture_loader):
    credential = load(vc_vectors("eddsa-rdfc-2022", "signedDataInt.json"))
    credential["credentialSubject"]["alumniOf"] = "The School of Forgeries"
    report = verify(credential, now=NOW, loader=fixture_loader, expect="vc", keys=vouched_keys(credential))
    assert check_of(report, "proof")["code"] == "proof_signature_invalid"


@pytest.mark.parametrize("path", [("Ed25519Signature2020", "signedEdSig.json"), ("eddsa-jcs-2022", "signedJCS.json")])
def test_other_suites_are_reported_unsupported(path, fixture_loader):
    report = verify(load(vc_vectors(*path)), now=NOW, loader=fixture_loader, expect="vc")
    assert check_of(report, "proof")["code"] == "proof_unsupported" and not report["valid"]
