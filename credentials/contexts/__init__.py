"""JSON-LD contexts served from local copies only: a pyld document loader that never fetches.

RDF canonicalisation resolves every ``@context`` a credential names. Fetching
them at run time would let a context host change what a signature covers (and
would break offline verification), so the loader serves exact, pinned copies
and refuses every other URL.

Where the copies come from, first match wins:

1. ``extra``: a mapping ``{url: path or parsed document}`` given by the caller;
2. directories: ``EXAM_ENGINE_CONTEXTS`` (``os.pathsep``-separated) or the
   ``directories`` argument; each holds an ``index.json`` ``{url: filename}``;
3. this folder: the W3C VC 2.0 context (W3C Software and Document License);
4. the ``openbadgeslib`` distribution, which ships the 1EdTech Open Badges 3.0
   contexts (we install it, we do not copy its files).

A URL whose published bytes we know is pinned by SHA-256: a copy that differs
is refused, wherever it comes from (``verify_pins=False`` turns that off).
See docs/credentials.md for the licensing reasons behind this layout.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Callable

CONTEXTS_ENV = "EXAM_ENGINE_CONTEXTS"

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3P0_3_0_3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"

#: SHA-256 of the published bytes of the contexts we know.
PINNED_SHA256: dict[str, str] = {
    VC_V2: "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json":
        "5f3d9dd6288ef437ff8286cf95ffbff609c748a66f24a1e9450c45ca64be1571",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json":
        "00666ad080ba407687ed1846b7f5e7495f5019042b202a727de47c48a1755c53",
    OB_V3P0_3_0_3: "3d34f4d4ef1bce691106e63798beb5e7b862ba841423f5ee1e53ab7ddf3bca84",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json":
        "87c06c81bc2317663bf288d740d94fddd2818c4342b186270ff6371dfaa63f93",
    "https://w3id.org/security/data-integrity/v2":
        "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4",
    "https://w3id.org/security/multikey/v1":
        "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
}

_BUNDLED = {VC_V2: "credentials-v2.jsonld"}

# File names inside openbadgeslib's package ``openbadgeslib.ob3.contexts``.
# The unversioned ``.../v3p0/context.json`` is deliberately absent: its content
# changed over time, so no single copy is right for every credential.
_OPENBADGESLIB_PACKAGE = "openbadgeslib.ob3.contexts"
_OPENBADGESLIB = {
    VC_V2: "credentials-v2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob-v3p0-context-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob-v3p0-context-3.0.2.json",
    OB_V3P0_3_0_3: "ob-v3p0-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
    "https://w3id.org/security/data-integrity/v2": "security-data-integrity-v2.json",
    "https://w3id.org/security/multikey/v1": "security-multikey-v1.json",
}


class ContextUnavailable(Exception):
    """A credential names a context that has no local copy (or whose copy fails its pin)."""

    code = "context_unavailable"

    def __init__(self, url: str, reason: str):
        super().__init__(f"JSON-LD context {url}: {reason}")
        self.url = url


def _read_openbadgeslib(filename: str) -> bytes | None:
    try:
        return resources.files(_OPENBADGESLIB_PACKAGE).joinpath(filename).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None


def _env_directories() -> list[Path]:
    value = os.environ.get(CONTEXTS_ENV, "")
    return [Path(p) for p in value.split(os.pathsep) if p]


class ContextLoader:
    """A pyld ``documentLoader`` that serves local context copies and refuses everything else."""

    def __init__(
        self,
        extra: Mapping[str, str | os.PathLike[str] | Mapping[str, Any]] | None = None,
        directories: Iterable[str | os.PathLike[str]] | None = None,
        *,
        use_env: bool = True,
        verify_pins: bool = True,
    ):
        self._extra = dict(extra or {})
        dirs = [Path(d) for d in (directories or [])]
        if use_env:
            dirs.extend(_env_directories())
        self._directories = dirs
        self._verify_pins = verify_pins
        self._cache: dict[str, Any] = {}

    def _directory_bytes(self, url: str) -> bytes | None:
        for directory in self._directories:
            index = directory / "index.json"
            if not index.is_file():
                continue
            names = json.loads(index.read_text("utf-8"))
            if url in names:
                return (directory / names[url]).read_bytes()
        return None

    def _raw(self, url: str) -> bytes | Mapping[str, Any] | None:
        if url in self._extra:
            found = self._extra[url]
            if isinstance(found, Mapping):
                return found
            return Path(found).read_bytes()
        found_bytes = self._directory_bytes(url)
        if found_bytes is not None:
            return found_bytes
        if url in _BUNDLED:
            return resources.files(__name__).joinpath(_BUNDLED[url]).read_bytes()
        if url in _OPENBADGESLIB:
            return _read_openbadgeslib(_OPENBADGESLIB[url])
        return None

    def document(self, url: str) -> Any:
        """The parsed context document for ``url``; raises ContextUnavailable."""
        if url in self._cache:
            return self._cache[url]
        raw = self._raw(url)
        if raw is None:
            raise ContextUnavailable(url, "no local copy (contexts are never fetched at run time)")
        if isinstance(raw, Mapping):
            document = dict(raw)
        else:
            pin = PINNED_SHA256.get(url)
            if self._verify_pins and pin and hashlib.sha256(raw).hexdigest() != pin:
                raise ContextUnavailable(url, "local copy does not match the pinned SHA-256")
            document = json.loads(raw.decode("utf-8"))
        self._cache[url] = document
        return document

    def available(self, url: str) -> bool:
        """True when ``url`` can be served."""
        try:
            self.document(url)
        except ContextUnavailable:
            return False
        return True

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        """The pyld document-loader protocol."""
        return {"contextUrl": None, "documentUrl": url, "document": self.document(url)}


_default: ContextLoader | None = None


def default_loader() -> ContextLoader:
    """The process-wide loader (reads EXAM_ENGINE_CONTEXTS on first use, not at import)."""
    global _default
    if _default is None:
        _default = ContextLoader()
    return _default


DocumentLoader = Callable[[str, Any], dict[str, Any]]
