"""Issuer keys: Ed25519 generation, PEM/JWK files, did:key, and a key ring that rotates.

The current key signs; retired keys keep only their public half so that every
credential signed in the past still verifies. A key is named by its
verification method, ``did:key:z6Mk...#z6Mk...``, which anyone can resolve
offline; the same string is the JWK ``kid`` and the VC-JWT header ``kid``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ENV = "EXAM_ENGINE_ISSUER_KEY"
KEYRING_ENV = "EXAM_ENGINE_ISSUER_KEYRING"

#: multicodec prefix of an Ed25519 public key (varint of 0xed).
ED25519_MULTICODEC = b"\xed\x01"

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


class KeyMaterialError(ValueError):
    """A key or key identifier that cannot be parsed or resolved."""


def b58encode(data: bytes) -> str:
    """Base58 (Bitcoin alphabet) encoding; leading zero bytes become '1'."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Inverse of b58encode; raises ValueError on a character outside the alphabet."""
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError(f"invalid base58 character {char!r}")
        number = number * 58 + _B58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def multikey_from_public(key: Ed25519PublicKey) -> str:
    """Multikey form: 'z' + base58btc(0xed01 + raw key), e.g. 'z6Mk...'."""
    return "z" + b58encode(ED25519_MULTICODEC + public_key_bytes(key))


def public_from_multikey(multikey: str) -> Ed25519PublicKey:
    """Parse a 'z6Mk...' Ed25519 multikey."""
    if not multikey.startswith("z"):
        raise KeyMaterialError("multikey must be base58btc multibase ('z' prefix)")
    try:
        raw = b58decode(multikey[1:])
    except ValueError as exc:
        raise KeyMaterialError(str(exc)) from exc
    if not raw.startswith(ED25519_MULTICODEC) or len(raw) != 34:
        raise KeyMaterialError("not an Ed25519 multikey (multicodec 0xed01 + 32 bytes)")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def did_key_from_public(key: Ed25519PublicKey) -> str:
    """The did:key identifier of a public key."""
    return "did:key:" + multikey_from_public(key)


def verification_method_for(key: Ed25519PublicKey) -> str:
    """The did:key verification method URL: ``did:key:z...#z...``."""
    multikey = multikey_from_public(key)
    return f"did:key:{multikey}#{multikey}"


def resolve_did_key(did_or_method: str) -> Ed25519PublicKey:
    """Public key of a did:key identifier or verification method, resolved offline."""
    if not did_or_method.startswith("did:key:"):
        raise KeyMaterialError(f"not a did:key: {did_or_method!r}")
    did, _, fragment = did_or_method.partition("#")
    multikey = did[len("did:key:"):]
    if fragment and fragment != multikey:
        raise KeyMaterialError("did:key fragment does not name the DID's own key")
    return public_from_multikey(multikey)


def public_jwk(key: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    """RFC 8037 OKP JWK of a public key."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_key_bytes(key))}
    if kid:
        jwk["kid"] = kid
    jwk.update({"alg": "EdDSA", "use": "sig"})
    return jwk


def public_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Public key of an OKP/Ed25519 JWK."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "x" not in jwk:
        raise KeyMaterialError("JWK is not an OKP Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


def coerce_public_key(value: Any) -> Ed25519PublicKey:
    """Accept an Ed25519PublicKey, an IssuerKey, a multikey string, a did:key or a JWK."""
    if isinstance(value, Ed25519PublicKey):
        return value
    if isinstance(value, IssuerKey):
        return value.public_key
    if isinstance(value, str):
        return resolve_did_key(value) if value.startswith("did:key:") else public_from_multikey(value)
    if isinstance(value, Mapping):
        return public_from_jwk(value)
    raise KeyMaterialError(f"cannot use {type(value).__name__} as an Ed25519 public key")


def verify_signature(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``key``'s Ed25519 signature of ``data``."""
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class IssuerKey:
    """One Ed25519 issuer key; ``private_key`` is None for a retired, verify-only key."""

    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None = field(default=None, repr=False)

    @classmethod
    def generate(cls) -> IssuerKey:
        """A fresh random key."""
        private = Ed25519PrivateKey.generate()
        return cls(public_key=private.public_key(), private_key=private)

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> IssuerKey:
        """Wrap a cryptography private key."""
        return cls(public_key=private.public_key(), private_key=private)

    @property
    def can_sign(self) -> bool:
        """True when the private half is present."""
        return self.private_key is not None

    @property
    def multikey(self) -> str:
        """'z6Mk...' form of the public key."""
        return multikey_from_public(self.public_key)

    @property
    def did(self) -> str:
        """did:key of the public key."""
        return did_key_from_public(self.public_key)

    @property
    def verification_method(self) -> str:
        """did:key verification method; also the JWK and JWT ``kid``."""
        return verification_method_for(self.public_key)

    kid = verification_method

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``."""
        if self.private_key is None:
            raise KeyMaterialError("this key is retired (public only) and cannot sign")
        return self.private_key.sign(data)

    def public_only(self) -> IssuerKey:
        """The same key without its private half."""
        return IssuerKey(public_key=self.public_key)

    def public_jwk(self) -> dict[str, str]:
        """Public JWK with ``kid`` = verification method."""
        return public_jwk(self.public_key, self.kid)

    def private_jwk(self) -> dict[str, str]:
        """JWK including the private ``d``: for key files only, never publish."""
        if self.private_key is None:
            raise KeyMaterialError("no private key")
        jwk = self.public_jwk()
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        jwk["d"] = b64url(raw)
        return jwk

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM of the private key (encrypted when a passphrase is given)."""
        if self.private_key is None:
            return self.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        encryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> IssuerKey:
        """From an OKP Ed25519 JWK, private (with ``d``) or public."""
        public = public_from_jwk(jwk)
        if "d" not in jwk:
            return cls(public_key=public)
        private = Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))
        if public_key_bytes(private.public_key()) != public_key_bytes(public):
            raise KeyMaterialError("JWK 'd' and 'x' do not match")
        return cls.from_private(private)

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> IssuerKey:
        """From a PKCS#8 private or SubjectPublicKeyInfo public PEM."""
        if b"PUBLIC KEY" in data and b"PRIVATE" not in data:
            public = serialization.load_pem_public_key(data)
            if not isinstance(public, Ed25519PublicKey):
                raise KeyMaterialError("PEM is not an Ed25519 public key")
            return cls(public_key=public)
        private = serialization.load_pem_private_key(data, password=passphrase)
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyMaterialError("PEM is not an Ed25519 private key")
        return cls.from_private(private)

    @classmethod
    def from_text(cls, text: str | bytes, passphrase: bytes | None = None) -> IssuerKey:
        """From PEM or JWK JSON text (what a key file or the environment holds)."""
        data = text.encode() if isinstance(text, str) else text
        stripped = data.strip()
        if stripped.startswith(b"{"):
            return cls.from_jwk(json.loads(stripped))
        if stripped.startswith(b"-----BEGIN"):
            return cls.from_pem(stripped, passphrase)
        raise KeyMaterialError("key text is neither a PEM nor a JWK")


def load_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> IssuerKey:
    """Load one key from a PEM or JWK file."""
    return IssuerKey.from_text(Path(path).read_bytes(), passphrase)


def save_key(key: IssuerKey, path: str | os.PathLike[str], *, fmt: str = "pem",
             passphrase: bytes | None = None) -> None:
    """Write a key file readable by its owner only (fmt 'pem' or 'jwk')."""
    data = key.to_pem(passphrase) if fmt == "pem" else json.dumps(key.private_jwk(), indent=2).encode()
    _write_private(Path(path), data)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def load_key_from_env(environ: Mapping[str, str] | None = None, name: str = KEY_ENV) -> IssuerKey | None:
    """The key in an environment variable (PEM or JWK text, or a path to such a file); None if unset."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if not value:
        return None
    if value.lstrip().startswith(("{", "-----BEGIN")):
        return IssuerKey.from_text(value)
    return load_key(value)


class KeyRing:
    """The issuer's keys: one current (signing) key and the retired public keys."""

    def __init__(self, keys: Iterable[IssuerKey], current_kid: str | None = None):
        self._keys: dict[str, IssuerKey] = {}
        for key in keys:
            self._keys[key.kid] = key
        if not self._keys:
            raise KeyMaterialError("a key ring needs at least one key")
        signing = [k for k in self._keys.values() if k.can_sign]
        if current_kid is None:
            if len(signing) != 1:
                raise KeyMaterialError("name the current key: the ring holds %d private keys" % len(signing))
            current_kid = signing[0].kid
        if current_kid not in self._keys or not self._keys[current_kid].can_sign:
            raise KeyMaterialError("the current key must be in the ring with its private half")
        self._current = current_kid

    @classmethod
    def generate(cls) -> KeyRing:
        """A ring with one fresh key."""
        return cls([IssuerKey.generate()])

    @property
    def current(self) -> IssuerKey:
        """The key that signs new credentials."""
        return self._keys[self._current]

    @property
    def keys(self) -> list[IssuerKey]:
        """All keys, current first."""
        return [self.current] + [k for kid, k in self._keys.items() if kid != self._current]

    def get(self, kid: str) -> IssuerKey | None:
        """The key with this kid (verification method), or one whose multikey is the fragment."""
        if kid in self._keys:
            return self._keys[kid]
        fragment = kid.rpartition("#")[2]
        for key in self._keys.values():
            if key.multikey == fragment:
                return key
        return None

    def rotate(self, new_key: IssuerKey | None = None) -> IssuerKey:
        """Make a new (or the given) key current; the old one keeps only its public half."""
        new_key = new_key or IssuerKey.generate()
        if not new_key.can_sign:
            raise KeyMaterialError("the new current key needs its private half")
        self._keys[self._current] = self._keys[self._current].public_only()
        self._keys[new_key.kid] = new_key
        self._current = new_key.kid
        return new_key

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Public JWK Set for /.well-known/jwks.json: every key, current first."""
        return {"keys": [k.public_jwk() for k in self.keys]}

    def to_json(self) -> str:
        """Serialised ring (private JWK of the current key): store it like a private key."""
        entries = [k.private_jwk() if k.can_sign else k.public_jwk() for k in self.keys]
        return json.dumps({"current": self._current, "keys": entries}, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyRing:
        """Inverse of to_json; a bare private JWK or PEM is read as a one-key ring."""
        data = text.decode() if isinstance(text, bytes) else text
        stripped = data.strip()
        if stripped.startswith("-----BEGIN"):
            return cls([IssuerKey.from_text(stripped)])
        parsed = json.loads(stripped)
        if "keys" not in parsed:
            return cls([IssuerKey.from_jwk(parsed)])
        return cls([IssuerKey.from_jwk(j) for j in parsed["keys"]], parsed.get("current"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ring to a file readable by its owner only."""
        _write_private(Path(path), self.to_json().encode())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Read a ring file (or a single PEM/JWK key file)."""
        return cls.from_json(Path(path).read_bytes())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing | None:
        """From EXAM_ENGINE_ISSUER_KEYRING (ring JSON or its path) or EXAM_ENGINE_ISSUER_KEY; None if unset."""
        env = os.environ if environ is None else environ
        ring = env.get(KEYRING_ENV)
        if ring:
            if ring.lstrip().startswith(("{", "-----BEGIN")):
                return cls.from_json(ring)
            return cls.load(ring)
        key = load_key_from_env(env)
        return cls([key]) if key else None
