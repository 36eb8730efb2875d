"""Safe reading of untrusted QTI input: hardened XML parsing and zip/directory limits.

Every refusal raises `QtiImportError` with a stable code:
- ``qti_malformed_xml``: not well-formed XML;
- ``qti_external_entity``: a DOCTYPE declaring entities (XXE, billion laughs);
- ``qti_unsafe_path``: a zip entry or file escaping the package (``..``,
  absolute, drive letters, symlinks);
- ``qti_too_large``: a file, the total, the entry count or a compression
  ratio above the limits (zip bombs);
- ``qti_bad_zip``: a corrupt or encrypted zip.
"""

from __future__ import annotations

import os
import posixpath
import stat
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from lxml import etree

from .errors import QtiImportError

MiB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """Ceilings on what an import reads; the defaults fit a 5,000-item bank with media."""

    #: largest single XML document (item, test, manifest)
    max_xml_bytes: int = 16 * MiB
    #: largest single media file
    max_file_bytes: int = 64 * MiB
    #: total uncompressed size of everything read
    max_total_bytes: int = 1024 * MiB
    #: number of zip entries / files in a folder
    max_entries: int = 50_000
    #: uncompressed/compressed ratio above which an entry is a bomb (checked above `ratio_floor_bytes`)
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * MiB
    #: largest zip file accepted at all
    max_archive_bytes: int = 1024 * MiB


DEFAULT_LIMITS = ImportLimits()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(data: bytes, name: str = "document", limits: ImportLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted XML bytes safely and return the root; refuse entities, DTD tricks and huge input."""
    if len(data) > limits.max_xml_bytes:
        raise QtiImportError("qti_too_large", f"{name}: {len(data)} bytes, above the {limits.max_xml_bytes}-byte limit for one XML file")
    head = data[:65536]
    if b"<!ENTITY" in head or (b"<!DOCTYPE" in head and (b" SYSTEM " in head or b" PUBLIC " in head)):
        raise QtiImportError("qti_external_entity", f"{name}: declares entities or an external DTD; refused (XXE)")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        text = str(exc).lower()
        if ("entity" in text or "dtd" in text) and "not defined" not in text:
            raise QtiImportError("qti_external_entity", f"{name}: refers to an entity or DTD that is not allowed ({exc})") from None
        raise QtiImportError("qti_malformed_xml", f"{name}: not well-formed XML ({exc})") from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise QtiImportError("qti_malformed_xml", f"{name}: cannot be parsed as XML ({exc})") from None
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and (list(dtd.entities()) or dtd.system_url or docinfo.system_url):
        raise QtiImportError("qti_external_entity", f"{name}: declares entities or an external DTD; refused (XXE)")
    if docinfo.system_url or docinfo.public_id:
        raise QtiImportError("qti_external_entity", f"{name}: refers to an external DTD; refused")
    for node in root.iter(etree.Entity):
        raise QtiImportError("qti_external_entity", f"{name}: uses the entity &{node.name}; refused")
    return root


def clean_member_path(name: str) -> str:
    """Normalise a package path; refuse absolute paths, drive letters and `..` escapes."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":") or "\x00" in raw:
        raise QtiImportError("qti_unsafe_path", f"package entry {name!r} is an absolute path; refused")
    norm = posixpath.normpath(raw)
    if norm == ".." or norm.startswith("../"):
        raise QtiImportError("qti_unsafe_path", f"package entry {name!r} escapes the package folder; refused")
    return "" if norm == "." else norm


def resolve_ref(base_file: str, href: str) -> str | None:
    """Package path that `href` (relative to `base_file`) points to; None for URLs or escaping paths."""
    href = href.split("#", 1)[0].split("?", 1)[0].strip()
    if not href or "://" in href or href.startswith(("data:", "mailto:", "//")):
        return None
    if href.startswith("/"):
        return None
    from urllib.parse import unquote
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), unquote(href)))
    if joined == ".." or joined.startswith("../"):
        return None
    return joined


def read_zip(data: bytes, limits: ImportLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read every regular file of a zip into memory, refusing zip slip, symlinks and bombs."""
    if len(data) > limits.max_archive_bytes:
        raise QtiImportError("qti_too_large", f"archive of {len(data)} bytes is above the {limits.max_archive_bytes}-byte limit")
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise QtiImportError("qti_bad_zip", f"not a readable zip archive ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise QtiImportError("qti_too_large", f"archive holds {len(infos)} entries, above the {limits.max_entries} limit")
        # First pass on the declared headers: refuse before inflating anything.
        declared_total = 0
        for info in infos:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise QtiImportError("qti_unsafe_path", f"package entry {info.filename!r} is a symbolic link; refused")
            clean_member_path(info.filename)
            if info.flag_bits & 0x1:
                raise QtiImportError("qti_bad_zip", f"package entry {info.filename!r} is encrypted")
            declared_total += info.file_size
            _check_entry_size(info.filename, info.file_size, info.compress_size, limits)
        if declared_total > limits.max_total_bytes:
            raise QtiImportError("qti_too_large", f"archive expands to {declared_total} bytes, above the {limits.max_total_bytes}-byte limit")
        files: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            path = clean_member_path(info.filename)
            if not path:
                continue
            if path in files:
                raise QtiImportError("qti_unsafe_path", f"package entry {info.filename!r} appears twice; refused")
            cap = limits.max_xml_bytes if path.lower().endswith(".xml") else limits.max_file_bytes
            # Never trust the header: read at most cap+1 bytes and check what really came out.
            try:
                with archive.open(info) as fh:
                    content = fh.read(cap + 1)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                raise QtiImportError("qti_bad_zip", f"package entry {info.filename!r} cannot be read ({exc})") from None
            _check_entry_size(info.filename, len(content), info.compress_size, limits)
            if len(content) > cap:
                raise QtiImportError("qti_too_large", f"package entry {info.filename!r} is above the {cap}-byte limit for one file")
            total += len(content)
            if total > limits.max_total_bytes:
                raise QtiImportError("qti_too_large", f"archive expands to more than {limits.max_total_bytes} bytes; refused")
            files[path] = content
    return files


def _check_entry_size(name: str, size: int, compressed: int, limits: ImportLimits) -> None:
    cap = limits.max_xml_bytes if name.lower().endswith(".xml") else limits.max_file_bytes
    if size > cap:
        raise QtiImportError("qti_too_large", f"package entry {name!r} is {size} bytes, above the {cap}-byte limit for one file")
    if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(compressed, 1):
        raise QtiImportError("qti_too_large", f"package entry {name!r} expands {size / max(compressed, 1):.0f} times; refused as a zip bomb")


def read_directory(root: Path, limits: ImportLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read an unpacked package folder, refusing symlinks and the same limits as a zip."""
    root = root.resolve()
    files: dict[str, bytes] = {}
    total = 0
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                raise QtiImportError("qti_unsafe_path", f"{os.path.join(dirpath, d)} is a symbolic link; refused")
        for fname in filenames:
            full = os.path.join(dirpath, fname)
            if os.path.islink(full):
                raise QtiImportError("qti_unsafe_path", f"{full} is a symbolic link; refused")
            count += 1
            if count > limits.max_entries:
                raise QtiImportError("qti_too_large", f"folder holds more than {limits.max_entries} files")
            rel = clean_member_path(os.path.relpath(full, root))
            size = os.path.getsize(full)
            cap = limits.max_xml_bytes if rel.lower().endswith(".xml") else limits.max_file_bytes
            if size > cap:
                raise QtiImportError("qti_too_large", f"{rel} is {size} bytes, above the {cap}-byte limit for one file")
            total += size
            if total > limits.max_total_bytes:
                raise QtiImportError("qti_too_large", f"folder holds more than {limits.max_total_bytes} bytes")
            files[rel] = Path(full).read_bytes()
    return files
