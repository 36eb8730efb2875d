"""Keys: base58, did:key, PEM and JWK files, the environment, rotation, JWKS."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from credentials.keys import (
    KEY_ENV,
    KEYRING_ENV,
    IssuerKey,
    KeyMaterialError,
    KeyRing,
    b58decode,
    b58encode,
    load_key,
    load_key_from_env,
    multikey_from_public,
    public_from_multikey,
    resolve_did_key,
    save_key,
)


@pytest.mark.parametrize("raw, text", [
    (b"", ""),
    (b"\0", "1"),
    (b"\0\0\x01", "112"),
    (b"hello world", "StV1DL6CwTryKyV"),
    (bytes.fromhex("0000287fb4cd"), "11233QC4"),
])
def test_base58_known_values(raw, text):
    assert b58encode(raw) == text
    assert b58decode(text) == raw


def test_base58_round_trips_random_bytes():
    for size in (1, 2, 31, 32, 33, 64):
        for _ in range(20):
            raw = os.urandom(size)
            assert b58decode(b58encode(raw)) == raw


def test_base58_refuses_characters_outside_the_alphabet():
    for bad in ("0", "O", "I", "l", "+"):
        with pytest.raises(ValueError):
            b58decode("abc" + bad)


def test_multikey_of_the_published_test_vector_key():
    # The OB 3.0 eddsa-rdfc-2022 test vector's public key and its published multikey.
    raw = bytes.fromhex("4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5")
    key = Ed25519PublicKey.from_public_bytes(raw)
    assert multikey_from_public(key) == "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
    assert public_from_multikey("z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi").public_bytes_raw() == raw


def test_did_key_resolves_offline():
    key = IssuerKey.generate()
    assert key.did.startswith("did:key:z6Mk")
    assert key.verification_method == f"{key.did}#{key.multikey}"
    for name in (key.did, key.verification_method):
        assert resolve_did_key(name).public_bytes_raw() == key.public_key.public_bytes_raw()
    other = IssuerKey.generate()
    with pytest.raises(KeyMaterialError):
        resolve_did_key(f"{key.did}#{other.multikey}")
    for bad in ("did:web:example.org", "did:key:zNotBase58!", "did:key:z" + "1" * 40, "did:key:u6Mk"):
        with pytest.raises(KeyMaterialError):
            resolve_did_key(bad)


def test_pem_and_jwk_files_round_trip(tmp_path):
    key = IssuerKey.generate()
    for fmt, passphrase in (("pem", None), ("pem", b"s3cret"), ("jwk", None)):
        path = tmp_path / f"issuer.{fmt}"
        save_key(key, path, fmt=fmt, passphrase=passphrase)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        loaded = load_key(path, passphrase)
        assert loaded.kid == key.kid and loaded.can_sign
        assert loaded.sign(b"x") == key.sign(b"x")  # Ed25519 is deterministic
    public = IssuerKey.from_pem(key.public_only().to_pem())
    assert public.kid == key.kid and not public.can_sign


def test_jwk_has_kid_and_no_private_part_unless_asked():
    key = IssuerKey.generate()
    jwk = key.public_jwk()
    assert jwk["kid"] == key.verification_method
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA" and "d" not in jwk
    assert IssuerKey.from_jwk(key.private_jwk()).can_sign
    mismatched = dict(key.private_jwk(), x=IssuerKey.generate().public_jwk()["x"])
    with pytest.raises(KeyMaterialError):
        IssuerKey.from_jwk(mismatched)


def test_key_from_the_environment(tmp_path):
    key = IssuerKey.generate()
    assert load_key_from_env({}) is None
    assert load_key_from_env({KEY_ENV: key.to_pem().decode()}).kid == key.kid
    assert load_key_from_env({KEY_ENV: json.dumps(key.private_jwk())}).kid == key.kid
    path = tmp_path / "k.pem"
    save_key(key, path)
    assert load_key_from_env({KEY_ENV: str(path)}).kid == key.kid
    ring = KeyRing.from_env({KEY_ENV: key.to_pem().decode()})
    assert ring is not None and ring.current.kid == key.kid


def test_retired_keys_cannot_sign():
    with pytest.raises(KeyMaterialError):
        IssuerKey.generate().public_only().sign(b"x")


def test_rotation_keeps_old_public_keys(tmp_path):
    ring = KeyRing.generate()
    first = ring.current
    second = ring.rotate()
    assert ring.current.kid == second.kid != first.kid
    assert [k.kid for k in ring.keys] == [second.kid, first.kid]
    assert not ring.get(first.kid).can_sign  # the old private half is gone
    assert ring.get(first.multikey) is not None  # found by fragment too
    jwks = ring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [second.kid, first.kid]
    assert all("d" not in k for k in jwks["keys"])

    path = tmp_path / "ring.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = KeyRing.load(path)
    assert again.current.kid == second.kid and again.current.can_sign
    assert again.jwks() == jwks
    assert KeyRing.from_env({KEYRING_ENV: str(path)}).current.kid == second.kid
    assert KeyRing.from_env({KEYRING_ENV: ring.to_json()}).current.kid == second.kid
    assert KeyRing.from_env({}) is None


def test_a_ring_needs_one_signing_key():
    with pytest.raises(KeyMaterialError):
        KeyRing([])
    with pytest.raises(KeyMaterialError):
        KeyRing([IssuerKey.generate().public_only()])
    with pytest.raises(KeyMaterialError):
        KeyRing([IssuerKey.generate(), IssuerKey.generate()])
    a, b = IssuerKey.generate(), IssuerKey.generate()
    assert KeyRing([a, b], current_kid=b.kid).current.kid == b.kid
