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

A URL whose published content we know is pinned by the SHA-256 of its JSON in
canonical form (sorted keys, no spaces), so that whitespace does not matter
but any change of meaning does: a copy that differs is refused, wherever it
comes from (``verify_pins=False`` turns that off).
See docs/credentials.md for the licensing reasons behind this layout.

Notice for ``credentials-v2.jsonld`` (also in NOTICE.md beside it; repeated
here because this file ships in every build): the W3C Verifiable Credentials
Data Model 2.0 context, https://www.w3.org/ns/credentials/v2, redistributed
unmodified. Copyright © World Wide Web Consortium. This work is distributed
under the W3C® Software and Document License
(https://www.w3.org/copyright/software-license-2023/) in the hope that it
will be useful, but without any warranty; without even the implied warranty
of merchantability or fitness for a particular purpose.
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

#: SHA-256 of ``canonical_json(document)`` for the contexts we know.
PINNED_SHA256: dict[str, str] = {
    VC_V2: "b463c8d6a066214123ddd9827b135e1b50e1fc73322cc52a9b12a4f1fc7d86cf",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json":
        "8bb2354552b70cbdf2066f6d3e24bc5c2be2619145737580ad2aebdc366e77d5",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json":
        "bdd1d11a55a660322f24660862a1d430ee80cce584465f750909daa43684357c",
    OB_V3P0_3_0_3: "04b1136ddc4eda9a8966bc7ef182789f233a26739473140ef75d6968c29a2966",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json":
        "15f4c347c6fe4380d9b6b93795859e33747ef48d5c55b91a71c52fb51c7bcbd7",
    "https://w3id.org/security/data-integrity/v2":
        "7ba3c50acf2689d5e07927267343eb353249c7c22a9f2d00307cc970e855e305",
    "https://w3id.org/security/multikey/v1":
        "be20c3ee6af6e9c4102e66a85c26617831218e32216bdf050f870e389e737cdc",
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


def canonical_json(document: Any) -> bytes:
    """Sorted-keys, compact UTF-8 JSON: what the pins hash."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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
        self._resolved: dict[Any, Any] = {}  # pyld's resolved-context cache, private to this loader

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
        try:
            document = dict(raw) if isinstance(raw, Mapping) else json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ContextUnavailable(url, f"local copy is not JSON: {exc}") from exc
        pin = PINNED_SHA256.get(url)
        if self._verify_pins and pin and hashlib.sha256(canonical_json(document)).hexdigest() != pin:
            raise ContextUnavailable(url, "local copy differs from the pinned content (SHA-256)")
        self._cache[url] = document
        return document

    def available(self, url: str) -> bool:
        """True when ``url`` can be served."""
        try:
            self.document(url)
        except ContextUnavailable:
            return False
        return True

    def pyld_options(self) -> dict[str, Any]:
        """Options that make pyld use this loader, with a resolved-context cache of its own.

        pyld otherwise keeps resolved contexts in one module-wide cache; a
        private one keeps what each loader served (and refused) its own.
        """
        options: dict[str, Any] = {"documentLoader": self}
        try:
            from pyld.context_resolver import ContextResolver
        except ImportError:  # pragma: no cover - very old pyld
            return options
        options["contextResolver"] = ContextResolver(self._resolved, self)
        return options

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
