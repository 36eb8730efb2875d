"""QTI 3.0 / 2.1 / 2.2 import: content packages and single files into our item format.

`import_package` reads the input safely (safety.py), normalises every QTI
document to one shape (normalize.py), converts each item it can into an item
dict of docs/items.md and each assessment test into an exam draft, and writes a
report entry for every item: imported, partial (imported, with what was lost)
or skipped (with why). Nothing is written to a database here.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any, Callable

from lxml import etree

from .assessment_tests import convert_test
from .errors import QtiImportError
from .items import convert_item
from .model import ImportResult
from .normalize import qti_version
from .safety import DEFAULT_LIMITS, ImportLimits, parse_xml, read_directory, read_zip, resolve_ref

Progress = Callable[[int, int, str], None]


def import_package(
    source: bytes | str | Path,
    *,
    progress: Progress | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportResult:
    """Convert a QTI package (zip bytes, zip/XML/folder path) or one XML document into our format.

    Refuses unsafe or malformed input as a whole with `QtiImportError`; reports
    per item what could not be mapped. `progress(done, total, identifier)` is
    called once per item and test.
    """
    files, single = _load(source, limits)
    result = ImportResult()
    if single is not None:
        path, data = single
        root = parse_xml(data, path or "document", limits)
        kind = _root_kind(root, path or "document")
        entries = [(path or "item.xml", kind, root, {})]
        if kind == "manifest":
            raise QtiImportError("qti_not_qti", "a bare imsmanifest.xml: give the package (zip or folder) instead")
    else:
        entries = _package_entries(files, limits)
    total = len(entries)
    seen: dict[str, str] = {}
    path_to_id: dict[str, list[str]] = {}
    imported_ids: set[str] = set()
    tests: list[tuple[str, Any, dict]] = []
    done = 0
    for path, kind, root, meta in entries:
        if kind == "test":
            tests.append((path, root, meta))
            continue
        path_to_id.setdefault(path, [])  # stays empty when the item is skipped
        for item, entry in convert_item(root, path, files, meta):
            if entry.identifier in seen:
                # Packages reuse identifiers across files (e.g. variants of one item): keep both, renamed,
                # so every report entry (and every item) has its own identifier.
                alt = meta.get("resource") or posixpath.splitext(posixpath.basename(path))[0]
                n = 2
                while alt in seen:
                    alt = f"{entry.identifier}-{n}"
                    n += 1
                verb = "imported" if item is not None else "reported"
                entry.reasons.insert(0, f"identifier {entry.identifier!r} already used by {seen[entry.identifier]}; {verb} as {alt!r}")
                entry.identifier = alt
                if item is not None:
                    item.identifier = alt
            seen[entry.identifier] = path
            if item is not None:
                imported_ids.add(item.identifier)
                path_to_id.setdefault(path, []).append(item.identifier)
                result.items.append(item)
                for m in item.media:
                    result.media[m] = files[m]
            result.report.append(entry)
        done += 1
        if progress:
            progress(done, total, entry.identifier)
    for path, root, meta in tests:
        test, entry = convert_test(root, path, path_to_id, imported_ids)
        if test is not None:
            result.tests.append(test)
        result.report.append(entry)
        done += 1
        if progress:
            progress(done, total, entry.identifier)
    return result


def _load(source: bytes | str | Path, limits: ImportLimits) -> tuple[dict[str, bytes], tuple[str | None, bytes] | None]:
    """Files of a package, or one document: ({path: bytes}, None) or ({neighbours}, (path, bytes))."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            return read_zip(data, limits), None
        return {}, (None, data)
    if isinstance(source, str):
        if source.lstrip()[:1] == "<":
            return {}, (None, source.encode("utf-8") if not source.lstrip().startswith("<?xml") else _strip_decl(source))
        source = Path(source)
    path = Path(source)
    if path.is_symlink():
        raise QtiImportError("qti_unsafe_path", f"{path} is a symbolic link; refused")
    if path.is_dir():
        return read_directory(path, limits), None
    if not path.is_file():
        raise QtiImportError("qti_not_qti", f"{path}: no such file")
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(4)
    if head[:2] == b"PK":
        if size > limits.max_archive_bytes:
            raise QtiImportError("qti_too_large", f"{path}: {size} bytes, above the {limits.max_archive_bytes}-byte limit")
        return read_zip(path.read_bytes(), limits), None
    if size > limits.max_xml_bytes:
        raise QtiImportError("qti_too_large", f"{path}: {size} bytes, above the {limits.max_xml_bytes}-byte limit for one XML file")
    return _Neighbours(path.parent, limits), (path.name, path.read_bytes())


def _strip_decl(text: str) -> bytes:
    # A str with an encoding declaration: re-encode as UTF-8 and drop the declaration.
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1).encode("utf-8")


class _Neighbours(dict):
    """Media next to a single item file, read on demand and only inside its folder."""

    def __init__(self, folder: Path, limits: ImportLimits):
        super().__init__()
        self.folder = folder.resolve()
        self.limits = limits

    def __contains__(self, key: object) -> bool:
        return self._read(str(key)) is not None

    def __getitem__(self, key: str) -> bytes:
        data = self._read(key)
        if data is None:
            raise KeyError(key)
        return data

    def _read(self, key: str) -> bytes | None:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        full = (self.folder / key)
        try:
            if full.is_symlink() or not full.resolve().is_relative_to(self.folder) or not full.is_file():
                return None
            if full.stat().st_size > self.limits.max_file_bytes:
                return None
        except OSError:
            return None
        data = full.read_bytes()
        dict.__setitem__(self, key, data)
        return data


def _root_kind(root: etree._Element, name: str) -> str:
    local = etree.QName(root).localname
    if local == "manifest":
        return "manifest"
    if local == "questestinterop":
        raise QtiImportError("qti_unsupported_version", f"{name}: QTI 1.2 (as Canvas and older LMSs export) is not supported; export QTI 2.1, 2.2 or 3.0")
    if qti_version(root) is None:
        raise QtiImportError("qti_not_qti", f"{name}: root <{local}> in namespace {etree.QName(root).namespace!r} is not a QTI 2.x/3.0 document")
    if local in ("qti-assessment-item", "assessmentItem"):
        return "item"
    if local in ("qti-assessment-test", "assessmentTest"):
        return "test"
    raise QtiImportError("qti_not_qti", f"{name}: <{local}> is neither an assessment item nor an assessment test")


def _package_entries(files: dict[str, bytes], limits: ImportLimits) -> list[tuple[str, str, Any, dict]]:
    """(path, kind, root, manifest metadata) of every item and test of a package, items first."""
    manifests = sorted((p for p in files if posixpath.basename(p).lower() == "imsmanifest.xml"), key=lambda p: (p.count("/"), p))
    refs: list[tuple[str, dict]] = []
    if manifests:
        for manifest_path in manifests:
            refs.extend(_manifest_resources(manifest_path, files[manifest_path], limits))
    else:
        refs = [(p, {}) for p in sorted(files) if p.lower().endswith(".xml")]
    entries: list[tuple[str, str, Any, dict]] = []
    listed = set()
    for path, meta in refs:
        if path in listed:
            continue
        listed.add(path)
        if meta.get("qti1"):
            entries.append((path, "qti1", None, meta))
            continue
        if path not in files:
            entries.append((path, "missing", None, meta))
            continue
        root = parse_xml(files[path], path, limits)
        local = etree.QName(root).localname
        if qti_version(root) is None or local not in ("qti-assessment-item", "assessmentItem", "qti-assessment-test", "assessmentTest"):
            if local == "questestinterop":
                entries.append((path, "qti1", root, meta))
            elif manifests and meta.get("type"):
                entries.append((path, "not_item", root, meta))
            continue
        entries.append((path, "item" if "item" in local.lower() else "test", root, meta))
    if not any(k in ("item", "test") for _, k, _, _ in entries):
        if any(k == "qti1" for _, k, _, _ in entries):
            raise QtiImportError("qti_unsupported_version", "the package holds QTI 1.2 only (as Canvas and older LMSs export), which is not supported; export QTI 2.1, 2.2 or 3.0")
        raise QtiImportError("qti_not_qti", "the package holds no QTI assessment item or test")
    entries = [e for e in entries if e[1] != "test"] + [e for e in entries if e[1] == "test"]
    return [e if e[1] in ("item", "test") else (e[0], "item", e[2], {**e[3], "problem": e[1]}) for e in entries]


def _manifest_resources(manifest_path: str, data: bytes, limits: ImportLimits) -> list[tuple[str, dict]]:
    root = parse_xml(data, manifest_path, limits)
    if etree.QName(root).localname != "manifest":
        raise QtiImportError("qti_not_qti", f"{manifest_path}: not an IMS content package manifest")
    base_dir = posixpath.dirname(manifest_path)
    out = []
    for res in root.iter("{*}resource"):
        rtype = (res.get("type") or "").lower()
        if not rtype.startswith("imsqti_"):
            continue
        href = res.get("href")
        if not href:
            file_el = next(iter(res.iter("{*}file")), None)
            href = file_el.get("href") if file_el is not None else None
        if not href:
            continue
        if "v1p" in rtype.split("/")[0]:  # imsqti_xmlv1p2: QTI 1.2, reported, never parsed as 2.x/3.0
            out.append((href, {"type": rtype, "resource": res.get("identifier"), "qti1": True}))
            continue
        xml_base = res.get("{http://www.w3.org/XML/1998/namespace}base") or ""
        target = resolve_ref(posixpath.join(base_dir, xml_base, "x"), href)
        if target is None:
            raise QtiImportError("qti_unsafe_path", f"{manifest_path}: resource href {href!r} escapes the package; refused")
        keywords = []
        language = None
        for md in res.iter("{*}metadata"):
            for kw in md.iter("{*}keyword"):
                for s in kw.iter("{*}string", "{*}langstring"):
                    if s.text and s.text.strip():
                        keywords.append(s.text.strip())
            for lang in md.iter("{*}language"):
                if lang.text and lang.text.strip() and language is None:
                    language = lang.text.strip()
        out.append((target, {"keywords": keywords, "language": language, "type": rtype, "resource": res.get("identifier")}))
    return out
