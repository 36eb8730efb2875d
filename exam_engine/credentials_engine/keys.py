"""Where the issuer's key ring comes from: the environment, else a 0600 file under KEYS_DIR.

Never in the repository or the database. The ring is read again when its file
changes, so a `keys rotate` run beside a serving worker takes effect without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from credentials.keys import KEY_ENV, KEYRING_ENV, IssuerKey, KeyRing
from item_bank.errors import DomainError

RING_FILE = "issuer-keyring.json"


class NoIssuerKey(DomainError):
    """No key ring is configured: credentials stay pending until one is."""

    code = "issuer_key_missing"
    status = 503


def ring_path(app: Flask) -> Path:
    return Path(app.config["KEYS_DIR"]) / RING_FILE


def env_configured(environ: os._Environ | dict | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get(KEYRING_ENV) or env.get(KEY_ENV))


def load_ring(app: Flask) -> KeyRing | None:
    """The ring from the environment, else from KEYS_DIR (cached until the file changes), else None."""
    if env_configured():
        cached = app.extensions.get("exam_engine.credentials.env_ring")
        if cached is None:
            cached = KeyRing.from_env()
            app.extensions["exam_engine.credentials.env_ring"] = cached
        return cached
    path = ring_path(app)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = app.extensions.get("exam_engine.credentials.file_ring")
    if cached is not None and cached[0] == (str(path), stamp):
        return cached[1]
    ring = KeyRing.load(path)
    app.extensions["exam_engine.credentials.file_ring"] = ((str(path), stamp), ring)
    return ring


def require_ring(app: Flask) -> KeyRing:
    ring = load_ring(app)
    if ring is None:
        raise NoIssuerKey(f"no issuer key: run `exam-engine keys generate` (writes {ring_path(app)}) "
                          f"or set {KEYRING_ENV}")
    return ring


def generate_ring(app: Flask, *, force: bool = False) -> tuple[KeyRing, Path]:
    """Write a new one-key ring to KEYS_DIR (mode 0600); refuses to overwrite unless `force`."""
    path = ring_path(app)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists: use `keys rotate` (or --force to discard it)")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if force and path.exists():
        path.unlink()
    ring = KeyRing.generate()
    ring.save(path)
    return ring, path


def ensure_ring(app: Flask) -> tuple[KeyRing, bool]:
    """The configured ring, generating one into KEYS_DIR when none exists (the demo); (ring, created)."""
    ring = load_ring(app)
    if ring is not None:
        return ring, False
    ring, _ = generate_ring(app)
    return ring, True


def rotate_ring(app: Flask, *, keep_private: bool = True) -> tuple[KeyRing, IssuerKey, Path]:
    """A new current key; old keys stay in the ring so old credentials (and their status lists) still verify.

    With `keep_private` (the default) an old key keeps its private half so the status lists of
    the credentials it signed can still be re-signed when one of them is revoked; it never signs
    a new credential. Without it (a compromised key) only its public half is kept: its lists
    are frozen as last published.
    """
    path = ring_path(app)
    if env_configured():
        raise RuntimeError(f"the ring comes from {KEYRING_ENV}/{KEY_ENV}: rotate it where that secret is kept")
    if not path.exists():
        raise FileNotFoundError(f"no key ring at {path}: run `exam-engine keys generate` first")
    ring = KeyRing.load(path)
    new_key = IssuerKey.generate()
    if keep_private:
        ring = KeyRing([new_key, *ring.keys], current_kid=new_key.kid)
    else:
        ring.rotate(new_key)
    tmp = path.with_suffix(".tmp")
    if tmp.exists():
        tmp.unlink()
    ring.save(tmp)
    os.replace(tmp, path)
    return ring, new_key, path


def signing_key_for(ring: KeyRing, issuer_id: str) -> IssuerKey | None:
    """The private key whose did:key is `issuer_id` (old keys sign their own status lists)."""
    for key in ring.keys:
        if key.did == issuer_id and key.can_sign:
            return key
    return None
