"""QTI 3.0 / 2.1 / 2.2 import: content packages and single files into our item format.

`import_package` reads the input safely (safety.py), normalises every QTI
document to one shape (normalize.py), converts each item it can into an item
dict of docs/items.md and each assessment test into an exam draft, and writes a
report entry for every item: imported, partial (imported, with what was lost)
or skipped (with why). Nothing is written to a database here.
"""

from __future__ import annotations

import json
import posixpath
import re
from copy import deepcopy
from pathlib import Path
from typing import Any, Callable, Iterable

from lxml import etree

from item_bank.html import sanitize_html

from . import rp
from .errors import QtiImportError
from .model import IMPORTED, PARTIAL, SKIPPED, ImportedItem, ImportedSection, ImportedTest, ImportResult, ReportEntry
from .normalize import normalize, qti_version
from .safety import DEFAULT_LIMITS, ImportLimits, parse_xml, read_directory, read_zip, resolve_ref

#: our own namespace for the few facts QTI has no place for (see docs/qti.md, "Extension")
EXT_NS = "urn:x-exam-engine:qti:1"

Progress = Callable[[int, int, str], None]

_SPLIT = '<span data-gap="ee-split-9f2c"></span>'
_OPTION_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

SUPPORTED = {
    "qti-choice-interaction", "qti-text-entry-interaction", "qti-extended-text-interaction",
    "qti-order-interaction", "qti-match-interaction", "qti-associate-interaction",
    "qti-inline-choice-interaction", "qti-gap-match-interaction", "qti-hottext-interaction",
}
UNSUPPORTED_REASON = {
    "qti-hotspot-interaction": "hotspot interaction (a click on an image region)",
    "qti-graphic-order-interaction": "graphic order interaction (ordering image hotspots)",
    "qti-graphic-associate-interaction": "graphic associate interaction (pairing image hotspots)",
    "qti-graphic-gap-match-interaction": "graphic gap match interaction (dragging onto an image)",
    "qti-select-point-interaction": "select point interaction (a point on an image)",
    "qti-position-object-interaction": "position object interaction (placing an object on an image)",
    "qti-slider-interaction": "slider interaction",
    "qti-drawing-interaction": "drawing interaction",
    "qti-upload-interaction": "file upload interaction",
    "qti-media-interaction": "media interaction (counting plays of a recording)",
    "qti-custom-interaction": "custom interaction",
    "qti-portable-custom-interaction": "portable custom interaction (PCI)",
    "qti-end-attempt-interaction": "end attempt interaction (adaptive hints)",
}
_DROPPED_BLOCKS = {
    "qti-feedback-block": "feedback",
    "qti-feedback-inline": "feedback",
    "qti-template-block": "template-dependent content",
    "qti-template-inline": "template-dependent content",
    "qti-printed-variable": "printed template variables",
    "qti-stylesheet": "stylesheets",
    "qti-catalog-info": "catalog (accessibility) information",
}
_ITEM_ROOT = "qti-assessment-item"
_TEST_ROOT = "qti-assessment-test"


# ---------------------------------------------------------------------------
# Entry point


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
    tests: list[tuple[str, Any, dict]] = []
    done = 0
    for path, kind, root, meta in entries:
        if kind == "test":
            tests.append((path, root, meta))
            continue
        for item, entry in convert_item(root, path, files, meta):
            if item is not None and item.identifier in seen:
                # Packages reuse identifiers across files (e.g. variants of one item): keep both, renamed.
                alt = meta.get("resource") or posixpath.splitext(posixpath.basename(path))[0]
                n = 2
                while alt in seen:
                    alt = f"{item.identifier}-{n}"
                    n += 1
                entry.reasons.insert(0, f"identifier {item.identifier!r} already used by {seen[item.identifier]}; imported as {alt!r}")
                item.identifier = alt
                entry.identifier = alt
            if item is not None:
                seen[item.identifier] = path
                path_to_id.setdefault(path, []).append(item.identifier)
                result.items.append(item)
                for m in item.media:
                    result.media[m] = files[m]
            result.report.append(entry)
        done += 1
        if progress:
            progress(done, total, entry.identifier)
    for path, root, meta in tests:
        test, entry = convert_test(root, path, path_to_id, set(seen))
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
        if path not in files:
            entries.append((path, "missing", None, meta))
            continue
        root = parse_xml(files[path], path, limits)
        local = etree.QName(root).localname
        if qti_version(root) is None or local not in ("qti-assessment-item", "assessmentItem", "qti-assessment-test", "assessmentTest"):
            if manifests and meta.get("type"):
                entries.append((path, "not_item", root, meta))
            continue
        entries.append((path, "item" if "item" in local.lower() else "test", root, meta))
    if not any(k in ("item", "test") for _, k, _, _ in entries):
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


# ---------------------------------------------------------------------------
# Items


class _Skip(Exception):
    pass


class _Split(Exception):
    """Several block interactions: the item is imported as one item per interaction."""

    def __init__(self, interactions):
        super().__init__("split")
        self.interactions = interactions


_INLINE_KINDS = {"qti-text-entry-interaction", "qti-inline-choice-interaction"}


class _ItemContext:
    def __init__(self, path: str, files: dict[str, bytes]):
        self.path = path
        self.files = files
        self.reasons: list[str] = []
        self.partial = False
        self.media: list[str] = []
        self.pending: list[str] = []
        #: (k, n) when this is the k-th of n items split from one QTI item
        self.part: tuple[int, int] | None = None

    def lose(self, reason: str) -> None:
        """Something of the item is not imported: status becomes partial."""
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.partial = True

    def defer(self, html: str) -> str:
        """A token standing for `html` until `resolve` sanitises every fragment of the item at once."""
        self.pending.append(html)
        return f"\x00{len(self.pending) - 1}\x00"

    def resolve(self, item: dict[str, Any]) -> None:
        """Sanitise the deferred fragments in one nh3 call (per-call setup dominates) and fill them in."""
        if not self.pending:
            return
        joined = _SPLIT.join(self.pending)
        clean = _sanitize(joined, self)
        parts = clean.split(_SPLIT)
        if len(parts) != len(self.pending):  # the parser moved a separator: fragment by fragment
            parts = [sanitize_html(h) for h in self.pending]
        parts = [_tidy(p) for p in parts]
        token = re.compile(r"\x00(\d+)\x00")

        def fill(value):
            if isinstance(value, str):
                return token.sub(lambda m: parts[int(m.group(1))], value)
            if isinstance(value, list):
                return [fill(v) for v in value]
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        item["stem"] = fill(item["stem"])
        item["interaction"] = fill(item["interaction"])
        self.pending = []

    def note(self, reason: str) -> None:
        """A mapping choice worth telling, nothing lost."""
        if reason not in self.reasons:
            self.reasons.append(reason)


def convert_item(root: etree._Element | None, path: str, files: dict[str, bytes], meta: dict | None = None) -> list[tuple[ImportedItem | None, ReportEntry]]:
    """Convert one item document into (item or None, report entry) pairs.

    One pair in general; one per interaction when a QTI item holds several
    block interactions (a passage with several questions), each part keeping
    the shared content and its own interaction.
    """
    meta = meta or {}
    if root is None or meta.get("problem"):
        problem = meta.get("problem", "missing")
        reason = "listed in the manifest but absent from the package" if problem == "missing" else "listed in the manifest but not a QTI item"
        return [(None, ReportEntry(meta.get("resource") or path, SKIPPED, [reason], source_path=path))]
    version = qti_version(root) or "3.0"
    ext = {k: root.get(f"{{{EXT_NS}}}{k}") for k in ("scoring", "interaction", "metadata", "version", "type", "identifier")}
    root = normalize(root)
    identifier = ext.get("identifier") or root.get("identifier") or posixpath.splitext(posixpath.basename(path))[0]
    try:
        return [_convert_one(root, identifier, path, files, meta, ext, version)]
    except _Split as split:
        body = _child(root, "qti-item-body")
        order = [el for el in body.iter() if el in split.interactions]
        n = len(order)
        out = []
        for k, inter in enumerate(order):
            part = deepcopy(root)
            part_body = _child(part, "qti-item-body")
            copies = [el for el in part_body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]
            for j, other in enumerate(copies):
                if j != k:
                    _remove_keep_tail(other)
            rid = inter.get("response-identifier") or str(k + 1)
            part.set("title", f"{root.get('title') or identifier} ({k + 1}/{n})")
            out.append(_convert_one(part, f"{identifier}-{rid}", path, files, meta, {}, version, part=(k + 1, n), whole=identifier))
        return out


def _convert_one(root, identifier, path, files, meta, ext, version, part=None, whole=None) -> tuple[ImportedItem | None, ReportEntry]:
    ctx = _ItemContext(path, files)
    ctx.part = part
    if part:
        ctx.lose(f"part {part[0]} of {part[1]} of QTI item {whole!r}, which has {part[1]} interactions: imported as one item per interaction, sharing its content")
    try:
        item = _convert(root, identifier, ctx, meta, ext)
    except _Skip as exc:
        return None, ReportEntry(identifier, SKIPPED, [str(exc)] + [r for r in ctx.reasons if r != str(exc)], source_path=path)
    except (ValueError, TypeError, KeyError, IndexError, rp.Unsupported) as exc:
        return None, ReportEntry(identifier, SKIPPED, [f"cannot be read: {exc.__class__.__name__}: {exc}"], source_path=path)
    status = PARTIAL if ctx.partial else IMPORTED
    imported = ImportedItem(
        identifier=identifier,
        title=item["title"],
        language=item["metadata"]["language"],
        keywords=list(item["metadata"]["tags"]),
        item=item,
        media=sorted(m for m in set(ctx.media) if f'"{m}"' in json.dumps(item, ensure_ascii=False).replace('\\"', '"')),
        source_path=path,
        qti_version=version,
        version=int(ext["version"]) if ext.get("version") and ext["version"].isdigit() else None,
    )
    return imported, ReportEntry(identifier, status, ctx.reasons, source_path=path)


def _children(el, tag: str | None = None) -> list:
    return [c for c in el if isinstance(c.tag, str) and (tag is None or c.tag == tag)]


def _child(el, tag: str):
    for c in el:
        if c.tag == tag:
            return c
    return None


def _declarations(root) -> tuple[dict[str, rp.Declaration], dict[str, Any], dict[str, Any]]:
    decls: dict[str, rp.Declaration] = {}
    for rd in _children(root, "qti-response-declaration"):
        d = rp.Declaration(rd.get("identifier"), rd.get("cardinality", "single"), rd.get("base-type", "identifier"))
        cr = _child(rd, "qti-correct-response")
        if cr is not None:
            d.correct = [(v.text or "") for v in _children(cr, "qti-value")]
        mp = _child(rd, "qti-mapping")
        if mp is not None:
            d.mapping = {}
            for me in _children(mp, "qti-map-entry"):
                key = me.get("map-key", "")
                d.mapping[key] = float(me.get("mapped-value", "0"))
                d.mapping_case_sensitive[key] = me.get("case-sensitive", "true") != "false"
            d.default_value = float(mp.get("default-value", "0"))
            d.lower_bound = float(mp.get("lower-bound")) if mp.get("lower-bound") else None
            d.upper_bound = float(mp.get("upper-bound")) if mp.get("upper-bound") else None
        d.has_area_mapping = _child(rd, "qti-area-mapping") is not None
        decls[d.identifier] = d
    outcomes: dict[str, Any] = {}
    outcome_attrs: dict[str, Any] = {}
    for od in _children(root, "qti-outcome-declaration"):
        ident = od.get("identifier")
        default = None
        dv = _child(od, "qti-default-value")
        if dv is not None:
            vals = [rp.parse_scalar(v.text or "", od.get("base-type", "string")) for v in _children(dv, "qti-value")]
            default = rp.container(vals, od.get("cardinality", "single"))
        if default is None and od.get("base-type") in ("float", "integer") and od.get("cardinality", "single") == "single":
            default = 0.0
        outcomes[ident] = default
        outcome_attrs[ident] = dict(od.attrib)
    return decls, outcomes, outcome_attrs


def _convert(root, identifier: str, ctx: _ItemContext, meta: dict, ext: dict) -> dict[str, Any]:
    title = (root.get("title") or identifier).strip()[:200] or identifier[:200]
    if root.get("adaptive") == "true":
        raise _Skip("adaptive item (several attempts with changing feedback and scores): our items are scored once")
    if _child(root, "qti-template-declaration") is not None or _child(root, "qti-template-processing") is not None:
        raise _Skip("template item (randomised values cloned per attempt): not supported")
    body = _child(root, "qti-item-body")
    if body is None:
        raise _Skip("no qti-item-body")
    interactions = [el for el in body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]
    unsupported = [el.tag for el in interactions if el.tag not in SUPPORTED]
    if unsupported:
        what = ", ".join(sorted({UNSUPPORTED_REASON.get(t, t) for t in unsupported}))
        raise _Skip(f"{what}: no item type of ours can hold it")
    if not interactions:
        raise _Skip("no interaction: nothing to answer")
    kinds = {el.tag for el in interactions}
    decls, outcomes, outcome_attrs = _declarations(root)
    if len(interactions) > 1 and kinds != {"qti-inline-choice-interaction"}:
        if not kinds & _INLINE_KINDS and not ctx.part:
            raise _Split(interactions)
        if kinds == {"qti-text-entry-interaction"}:
            raise _Skip(f"{len(interactions)} text entries in one item: our text_entry holds one answer (split it into several items)")
        raise _Skip("several interactions ({}) in one item: our items have one interaction (inline choices excepted)".format(", ".join(sorted(k[4:] for k in kinds))))
    for el in _children(root, "qti-modal-feedback")[:1]:
        ctx.lose("modal feedback not imported (our items have no feedback)")
    if _child(root, "qti-assessment-stimulus-ref") is not None:
        ctx.lose("shared stimulus (qti-assessment-stimulus-ref) not imported")
    kind = next(iter(kinds))
    builder = _BUILDERS[kind]
    item_type, interaction, candidates, probes = builder(interactions, decls, ctx, body)
    scoring = _choose_scoring(root, item_type, interactions, decls, outcomes, outcome_attrs, candidates, probes, ctx, ext)
    stem = _body_html(body, ctx)
    language = root.get("xml-lang") or meta.get("language") or "en"
    metadata = {"tags": list(dict.fromkeys(meta.get("keywords", []))), "objectives": [], "language": language}
    if ext.get("metadata"):
        try:
            extra = json.loads(ext["metadata"])
            if isinstance(extra, dict):
                metadata.update({k: v for k, v in extra.items() if k in ("tags", "objectives", "language", "estimated_time_s", "difficulty", "irt")})
        except ValueError:
            ctx.note("exam-engine metadata extension is not valid JSON; ignored")
    if ext.get("interaction"):
        try:
            extra_i = json.loads(ext["interaction"])
            for key in ("unit", "max_words", "placeholder", "expected_lines", "expected_length"):
                if isinstance(extra_i, dict) and key in extra_i:
                    interaction[key] = extra_i[key]
        except ValueError:
            pass
    item = {
        "type": item_type,
        "title": title,
        "stem": stem,
        "interaction": interaction,
        "scoring": scoring,
        "metadata": metadata,
    }
    ctx.resolve(item)
    if not item["stem"].strip():
        item["stem"] = f"<p>{_escape(title)}</p>"
        ctx.note("empty item body: the title is used as the stem")
    return item


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------
# Interaction builders: (type, interaction dict, candidate scorings, probes)
#
# A candidate is a function (points) -> scoring dict; probes are our responses
# paired with the QTI response variables they stand for.


def _check_id(ident: str | None, what: str) -> str:
    if not ident or not _OPTION_ID.match(ident):
        raise _Skip(f"{what} identifier {ident!r} is not usable as one of our option ids (^[A-Za-z_][A-Za-z0-9_.-]{{0,63}}$)")
    return ident


def _options(elements, ctx: _ItemContext, what: str) -> list[dict[str, str]]:
    out = []
    seen = set()
    for el in elements:
        ident = _check_id(el.get("identifier"), what)
        if ident in seen:
            raise _Skip(f"{what} identifier {ident!r} appears twice")
        seen.add(ident)
        out.append({"id": ident, "html": _inner_html(el, ctx)})
    return out


def _decl_for(inter, decls) -> rp.Declaration:
    rid = inter.get("response-identifier")
    d = decls.get(rid)
    if d is None:
        raise _Skip(f"interaction's response {rid!r} has no response declaration")
    return d


def _build_hottext(inters, decls, ctx, body):
    """Hottext -> choice: the selectable phrases become the options, highlighted in the text."""
    ctx.lose("hottext imported as choice: the selectable phrases are options listed after the text (marked in it), not clickable in place")
    return _build_choice(inters, decls, ctx, body, choices=list(inters[0].iter("qti-hottext")))


def _build_choice(inters, decls, ctx, body, choices=None):
    inter = inters[0]
    d = _decl_for(inter, decls)
    if choices is None:
        choices = _children(inter, "qti-simple-choice")
        if inter.get("shuffle") == "true" and any(c.get("fixed") == "true" for c in choices):
            ctx.note("choices fixed in place under shuffling: our options shuffle all or none")
    options = _options(choices, ctx, "choice")
    if not options:
        raise _Skip("choice interaction without choices")
    max_choices = int(inter.get("max-choices", "1"))
    if d.cardinality == "single":
        max_choices = 1
    interaction = {
        "options": options,
        "max_choices": max_choices,
        "min_choices": int(inter.get("min-choices", "0")),
        "shuffle": inter.get("shuffle", "false") == "true",
    }
    ids = [o["id"] for o in options]
    correct = [c.strip() for c in d.correct if c.strip() in ids]
    if not correct and d.mapping:
        correct = [k for k, v in d.mapping.items() if v > 0 and k in ids]
    if not correct:
        raise _Skip("no correct response (and no positive mapping): the key is unknown")
    if any(o["id"] for o in options if False):
        pass

    def make(rule):
        def cand(points):
            s = {"points": points, "correct": correct, "rule": rule}
            if rule == "map":
                s.update(_map_fields(d, ids))
                s["points"] = _max_map_choice(d, ids, max_choices)
            return s
        return cand

    cands = [make("all_or_nothing")]
    if d.mapping is not None:
        cands.insert(0, make("map"))
    cands += [make("per_option"), make("per_option_penalty")]
    probes: list[list[str]] = [[], list(correct)]
    probes += [[i] for i in ids]
    if max_choices != 1:
        wrong = [i for i in ids if i not in correct]
        probes += [correct[:-1]] if len(correct) > 1 else []
        probes += [correct + [w] for w in wrong[:3]]
        probes += [[c, w] for c in correct[:2] for w in wrong[:2]]
        if max_choices == 0 or max_choices >= len(ids):
            probes.append(list(ids))
        if max_choices > 0:
            probes = [p for p in probes if len(p) <= max_choices]
    rid = d.identifier
    conv = (lambda r: {rid: (r[0] if r else None)}) if d.cardinality == "single" else (lambda r: {rid: rp.Multiple(r) if r else None})
    return "choice", interaction, cands, [(p, conv(p)) for p in probes]


def _map_fields(d: rp.Declaration, keys: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"mapping": dict(d.mapping or {}), "default_value": d.default_value}
    if d.lower_bound is not None:
        out["lower_bound"] = d.lower_bound
    if d.upper_bound is not None:
        out["upper_bound"] = d.upper_bound
    return out


def _max_map_choice(d: rp.Declaration, ids: list[str], max_choices: int) -> float:
    values = sorted((d.mapping.get(i, d.default_value) for i in ids), reverse=True)
    if max_choices == 1:
        best = values[0] if values else 0.0
    else:
        positive = [v for v in values if v > 0]
        if max_choices:
            positive = positive[:max_choices]
        best = sum(positive)
    if d.upper_bound is not None:
        best = min(best, d.upper_bound)
    return best if best > 0 else 1.0


def _build_order(inters, decls, ctx, body):
    inter = inters[0]
    d = _decl_for(inter, decls)
    options = _options(_children(inter, "qti-simple-choice"), ctx, "order choice")
    ids = [o["id"] for o in options]
    correct = [c.strip() for c in d.correct]
    if sorted(correct) != sorted(ids):
        if not correct:
            raise _Skip("no correct order declared")
        raise _Skip("the correct order does not list every choice exactly once (partial orders are not supported)")
    if inter.get("min-choices") or inter.get("max-choices"):
        ctx.lose("min-choices/max-choices of the order interaction ignored: learners order all choices")
    interaction = {"options": options, "shuffle": inter.get("shuffle", "false") == "true"}
    cands = [lambda p: {"points": p, "correct_order": correct, "rule": "exact"},
             lambda p: {"points": p, "correct_order": correct, "rule": "pairs"}]
    probes = [list(correct), list(reversed(correct))]
    for i in range(len(correct) - 1):
        swapped = list(correct)
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
        probes.append(swapped)
    rid = d.identifier
    return "order", interaction, cands, [(p, {rid: rp.Ordered(p)}) for p in probes]


def _pair_probes(pairs, left_ids, right_ids):
    pairs = [list(p) for p in pairs]
    wrong = [[a, b] for a in left_ids for b in right_ids if [a, b] not in pairs][:4]
    probes = [pairs]
    probes += [[p] for p in pairs]
    probes += [[w] for w in wrong[:2]]
    probes += [pairs + [w] for w in wrong[:2]]
    if len(pairs) > 1:
        probes.append(pairs[:-1])
    return probes


def _build_match(inters, decls, ctx, body):
    inter = inters[0]
    d = _decl_for(inter, decls)
    sets = _children(inter, "qti-simple-match-set")
    if len(sets) != 2:
        raise _Skip("match interaction without exactly two match sets")
    left = _options(_children(sets[0], "qti-simple-associable-choice"), ctx, "match choice")
    right = _options(_children(sets[1], "qti-simple-associable-choice"), ctx, "match choice")
    left_ids, right_ids = [o["id"] for o in left], [o["id"] for o in right]
    max_assoc = max([int(c.get("match-max", "1")) for c in _children(sets[0], "qti-simple-associable-choice")] + [1])
    if max_assoc == 0:
        max_assoc = len(right_ids)
    interaction = {"left": left, "right": right, "max_associations": max_assoc, "shuffle": inter.get("shuffle", "false") == "true"}
    pairs = [v.split() for v in d.correct if len(v.split()) == 2]
    if not pairs and d.mapping:
        pairs = [k.split() for k, v in d.mapping.items() if v > 0 and len(k.split()) == 2]
    pairs = [p for p in pairs if p[0] in left_ids and p[1] in right_ids]
    if not pairs:
        raise _Skip("no correct pairs between the two match sets")
    return _pair_item(d, interaction, pairs, left_ids, right_ids, directed=True)


def _pair_item(d, interaction, pairs, left_ids, right_ids, directed: bool):
    def make(rule):
        def cand(points):
            s = {"points": points, "pairs": pairs, "rule": rule}
            if rule == "map":
                s.update(_map_fields(d))
                s["mapping"] = {k: v for k, v in s["mapping"].items()}
                positive = sum(v for v in d.mapping.values() if v > 0)
                if d.upper_bound is not None:
                    positive = min(positive, d.upper_bound)
                s["points"] = positive if positive > 0 else 1.0
            return s
        return cand

    cands = [make("all_or_nothing"), make("per_pair"), make("per_pair_penalty")]
    if d.mapping is not None:
        cands.insert(0, make("map"))
    rid = d.identifier

    def conv(resp):
        if not resp:
            return {rid: None}
        vals = [tuple(p) if directed else frozenset(p) for p in resp]
        return {rid: rp.Multiple(vals)}

    probes = _pair_probes(pairs, left_ids, right_ids)
    return "match", interaction, cands, [(p, conv(p)) for p in probes]


def _build_associate(inters, decls, ctx, body):
    inter = inters[0]
    d = _decl_for(inter, decls)
    choices = _options(_children(inter, "qti-simple-associable-choice"), ctx, "associate choice")
    ids = [o["id"] for o in choices]
    pairs = [v.split() for v in d.correct if len(v.split()) == 2]
    if not pairs and d.mapping:
        pairs = [k.split() for k, v in d.mapping.items() if v > 0 and len(k.split()) == 2]
    pairs = [p for p in pairs if p[0] in ids and p[1] in ids]
    if not pairs:
        raise _Skip("no correct pairs for the associate interaction")
    ctx.lose("associate (unordered pairs) imported as match with the choices on both sides: a pair given in the other order than the key's scores as wrong")
    interaction = {"left": choices, "right": deepcopy(choices), "max_associations": max([int(c.get("match-max", "1")) for c in _children(inter, "qti-simple-associable-choice")] + [1]), "shuffle": inter.get("shuffle", "false") == "true"}
    if interaction["max_associations"] == 0:
        interaction["max_associations"] = len(ids)
    # Probes use the key's orientation, which QTI (unordered) and we (ordered) score alike.
    return _pair_item(d, interaction, pairs, ids, ids, directed=d.base_type == "directedPair")


def _build_inline(inters, decls, ctx, body):
    gaps = []
    correct: dict[str, str] = {}
    rids = []
    for inter in inters:
        d = _decl_for(inter, decls)
        gid = _check_id(d.identifier, "gap (response)")
        options = _options(_children(inter, "qti-inline-choice"), ctx, "inline choice")
        if d.cardinality != "single":
            raise _Skip(f"inline choice {gid} is not single cardinality")
        key = next((c.strip() for c in d.correct if c.strip() in {o["id"] for o in options}), None)
        if key is None and d.mapping:
            best = max(d.mapping.items(), key=lambda kv: kv[1], default=None)
            key = best[0] if best and best[1] > 0 else None
        if key is None:
            raise _Skip(f"gap {gid} has no correct response")
        if gid in correct:
            raise _Skip(f"two inline choices answer the same response {gid}")
        gaps.append({"id": gid, "options": options})
        correct[gid] = key
        rids.append(gid)
        inter.set("data-gap-id", gid)
    interaction = {"gaps": gaps}
    cands = [lambda p: {"points": p, "correct": dict(correct), "rule": "all_or_nothing"},
             lambda p: {"points": p, "correct": dict(correct), "rule": "per_gap"}]
    probes = _gap_probes(gaps, correct)
    return "inline_choice", interaction, cands, [(p, {g: p.get(g) for g in rids}) for p in probes]


def _gap_probes(gaps, correct):
    probes = [dict(correct), {}]
    for g in gaps:
        wrong = next((o["id"] for o in g["options"] if o["id"] != correct[g["id"]]), None)
        if wrong:
            probes.append({**correct, g["id"]: wrong})
            probes.append({g["id"]: correct[g["id"]]})
    return probes


def _build_gap_match(inters, decls, ctx, body):
    """Gap match -> inline_choice: each gap offers every gap text (documented choice)."""
    inter = inters[0]
    d = _decl_for(inter, decls)
    if _children(inter, "qti-gap-img"):
        raise _Skip("gap match with image choices (qti-gap-img): our inline choices hold text")
    texts = _children(inter, "qti-gap-text")
    options = _options(texts, ctx, "gap text")
    text_ids = {o["id"] for o in options}
    gap_els = [g for g in inter.iter("qti-gap")]
    if not gap_els:
        raise _Skip("gap match without gaps")
    gap_ids = [_check_id(g.get("identifier"), "gap") for g in gap_els]
    pairs = [v.split() for v in d.correct if len(v.split()) == 2]
    if not pairs and d.mapping:
        pairs = [k.split() for k, v in d.mapping.items() if v > 0 and len(k.split()) == 2]
    correct: dict[str, str] = {}
    for text_id, gap_id in pairs:
        if gap_id in gap_ids and text_id in text_ids:
            if gap_id in correct:
                ctx.lose(f"gap {gap_id} accepts several texts; only {correct[gap_id]} kept")
                continue
            correct[gap_id] = text_id
    unkeyed = [g for g in gap_ids if g not in correct]
    if not correct:
        raise _Skip("no correct pairs for the gap match")
    if unkeyed:
        raise _Skip(f"gaps without a correct text ({', '.join(unkeyed)}): our inline choices key every gap")
    if any(int(t.get("match-max", "1")) == 1 for t in texts) and len(gap_ids) > 1:
        ctx.note("gap match imported as inline choice: every gap offers every text; a text's use limit (match-max) is not enforced")
    gaps = [{"id": g, "options": deepcopy(options)} for g in gap_ids]
    for g in gap_els:
        g.set("data-gap-id", g.get("identifier"))
    cands = [lambda p: {"points": p, "correct": dict(correct), "rule": "all_or_nothing"},
             lambda p: {"points": p, "correct": dict(correct), "rule": "per_gap"}]
    rid = d.identifier

    def conv(resp):
        vals = [(t, g) for g, t in resp.items()]
        return {rid: rp.Multiple(vals) if vals else None}

    probes = _gap_probes(gaps, correct)
    return "inline_choice", {"gaps": gaps}, cands, [(p, conv(p)) for p in probes]


def _build_text_entry(inters, decls, ctx, body):
    inter = inters[0]
    d = _decl_for(inter, decls)
    interaction: dict[str, Any] = {}
    if inter.get("expected-length"):
        interaction["expected_length"] = int(inter.get("expected-length"))
    if inter.get("placeholder-text"):
        interaction["placeholder"] = inter.get("placeholder-text")
    rid = d.identifier
    if d.base_type in ("float", "integer"):
        return _numeric(inter, d, ctx, body)
    if d.cardinality != "single":
        raise _Skip("text entry with a multiple/ordered response")
    accepted_map: dict[str, float | None] = {}
    if d.mapping:
        for k, v in sorted(d.mapping.items(), key=lambda kv: -kv[1]):
            if v > 0:
                accepted_map.setdefault(k, v)
    for c in d.correct:
        accepted_map.setdefault(c, None)
    if not accepted_map:
        raise _Skip("text entry without a correct response or positive mapping")
    case_sensitive = True
    if d.mapping and any(not cs for cs in d.mapping_case_sensitive.values()):
        case_sensitive = False

    def make(cs, use_map):
        def cand(points):
            acc = []
            for value, score in accepted_map.items():
                entry = {"value": value}
                if use_map and score is not None and score != points:
                    entry["score"] = score
                acc.append(entry)
            pts = max([s for s in accepted_map.values() if s is not None], default=points) if use_map else points
            if use_map and d.upper_bound is not None:
                pts = min(pts, d.upper_bound)
            return {"points": pts if pts > 0 else points, "accepted": _fix_scores(acc, pts), "case_sensitive": cs, "normalize_whitespace": True}
        return cand

    cands = [make(case_sensitive, True), make(not case_sensitive, True), make(True, False), make(False, False)]
    probes = [v for v in accepted_map] + [v.upper() for v in accepted_map] + [v.lower() for v in accepted_map] + ["zz-not-an-answer"]
    return "text_entry", interaction, cands, [(p, {rid: p}) for p in dict.fromkeys(probes)]


def _fix_scores(acc, pts):
    for a in acc:
        if "score" in a and a["score"] == pts:
            del a["score"]
    return acc


def _numeric(inter, d, ctx, body):
    if d.cardinality != "single":
        raise _Skip("numeric text entry with a multiple response")
    value = None
    if d.correct:
        value = float(d.correct[0])
    tolerance, mode = 0.0, "absolute"
    root = body.getparent()
    rproc = _child(root, "qti-response-processing")
    for eq in (rproc.iter("qti-equal") if rproc is not None else []):
        args = _children(eq)
        if any(a.tag == "qti-variable" and a.get("identifier") == d.identifier for a in args):
            for a in args:
                if a.tag == "qti-base-value" and value is None:
                    value = float(a.text)
            tmode = eq.get("tolerance-mode", "exact")
            if tmode != "exact" and eq.get("tolerance"):
                parts = [float(t) for t in eq.get("tolerance").split()]
                if len(parts) > 1 and parts[1] != parts[0]:
                    ctx.lose("asymmetric tolerance: the larger side kept for both")
                tolerance = max(parts)
                mode = tmode
                if mode == "relative":
                    tolerance = tolerance / 100.0
            break
    if value is None and d.mapping:
        best = max(d.mapping.items(), key=lambda kv: kv[1])
        value = float(best[0])
    if value is None:
        raise _Skip("numeric entry without a correct value")
    interaction: dict[str, Any] = {}
    cand = lambda p: {"points": p, "value": value, "tolerance": tolerance, "tolerance_mode": mode}  # noqa: E731
    tol = tolerance * abs(value) if mode == "relative" else tolerance
    probes = [value, value + 1 + 2 * tol, value - 1 - 2 * tol, value * 2 + 7]
    if tol:
        probes += [value + tol * 0.99, value - tol * 0.99, value + tol * 1.01 + 1e-9]
    rid = d.identifier
    cast = int if d.base_type == "integer" else float
    probes = [p for p in probes if d.base_type != "integer" or float(p).is_integer()]
    return "numeric", interaction, [cand], [(p, {rid: cast(p)}) for p in probes]


def _build_extended(inters, decls, ctx, body):
    inter = inters[0]
    interaction: dict[str, Any] = {}
    if inter.get("expected-lines"):
        interaction["expected_lines"] = int(inter.get("expected-lines"))
    if inter.get("expected-length"):
        interaction["expected_length"] = int(inter.get("expected-length"))
    return "extended_text", interaction, [], []


_BUILDERS = {
    "qti-choice-interaction": _build_choice,
    "qti-order-interaction": _build_order,
    "qti-match-interaction": _build_match,
    "qti-associate-interaction": _build_associate,
    "qti-inline-choice-interaction": _build_inline,
    "qti-gap-match-interaction": _build_gap_match,
    "qti-text-entry-interaction": _build_text_entry,
    "qti-extended-text-interaction": _build_extended,
    "qti-hottext-interaction": _build_hottext,
}


# ---------------------------------------------------------------------------
# Scoring


_TEMPLATE_NAMES = ("match_correct", "map_response_point", "map_response", "cc2_match_basic", "cc2_match", "cc2_map_response")


def _template_name(rproc) -> str | None:
    uri = (rproc.get("template") or rproc.get("template-location") or "").strip().lower()
    if not uri:
        return None
    tail = uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")
    return tail if tail in _TEMPLATE_NAMES else uri


def _template_tree(name: str, rid: str):
    """The standard template as a processing tree, so one interpreter runs them all."""
    E = etree.Element
    rpe = E("qti-response-processing")
    if name in ("match_correct", "cc2_match_basic", "cc2_match"):
        cond = etree.SubElement(rpe, "qti-response-condition")
        rif = etree.SubElement(cond, "qti-response-if")
        m = etree.SubElement(rif, "qti-match")
        etree.SubElement(m, "qti-variable", identifier=rid)
        etree.SubElement(m, "qti-correct", identifier=rid)
        so = etree.SubElement(rif, "qti-set-outcome-value", identifier="SCORE")
        if name == "match_correct":
            etree.SubElement(so, "qti-base-value", {"base-type": "float"}).text = "1"
        else:
            etree.SubElement(so, "qti-variable", identifier="MAXSCORE")
        rel = etree.SubElement(cond, "qti-response-else")
        so = etree.SubElement(rel, "qti-set-outcome-value", identifier="SCORE")
        etree.SubElement(so, "qti-base-value", {"base-type": "float"}).text = "0"
    elif name in ("map_response", "cc2_map_response"):
        cond = etree.SubElement(rpe, "qti-response-condition")
        rif = etree.SubElement(cond, "qti-response-if")
        n = etree.SubElement(rif, "qti-is-null")
        etree.SubElement(n, "qti-variable", identifier=rid)
        so = etree.SubElement(rif, "qti-set-outcome-value", identifier="SCORE")
        etree.SubElement(so, "qti-base-value", {"base-type": "float"}).text = "0"
        rel = etree.SubElement(cond, "qti-response-else")
        so = etree.SubElement(rel, "qti-set-outcome-value", identifier="SCORE")
        etree.SubElement(so, "qti-map-response", identifier=rid)
    return rpe


def _choose_scoring(root, item_type, inters, decls, outcomes, outcome_attrs, candidates, probes, ctx: _ItemContext, ext) -> dict[str, Any]:
    score_attrs = outcome_attrs.get("SCORE", {})
    if item_type == "extended_text":
        points = float(score_attrs.get("normal-maximum") or outcome_attrs.get("MAXSCORE", {}).get("normal-maximum") or 1) or 1.0
        scoring = {"points": points, "rubric": _rubric(root, points, ctx)}
        return _merge_ext(scoring, ext, item_type, ctx)
    rproc = _child(root, "qti-response-processing")
    rid = inters[0].get("response-identifier")
    tree = None
    unknown_template = False
    if rproc is not None:
        name = _template_name(rproc)
        if name == "map_response_point":
            raise _Skip("map_response_point (area mapping of points on an image): none of our types answers with a point")
        if name in _TEMPLATE_NAMES:
            # Templates process RESPONSE; a lone interaction named otherwise is read leniently.
            tree = _template_tree(name, "RESPONSE" if ctx.part else rid)
            if name.startswith("cc2"):
                ctx.note(f"response processing template {name} read as its standard equivalent")
        elif name and len(_children(rproc)) == 0:
            ctx.lose(f"unknown response processing template {name!r}: scored all-or-nothing against the correct response")
            unknown_template = True
        if tree is None and len(_children(rproc)):
            tree = rproc
    if tree is None:
        if not unknown_template:
            ctx.lose("no response processing: scored all-or-nothing against the declared correct response")
        scoring = candidates[0](1.0) if item_type not in ("choice", "match") else _first_non_map(candidates)(1.0)
        return _merge_ext(scoring, ext, item_type, ctx)
    interp = rp.Interpreter(decls, {**outcomes, "SCORE": outcomes.get("SCORE", 0.0) or 0.0, **({"MAXSCORE": outcomes["MAXSCORE"]} if "MAXSCORE" in outcomes else {})})
    try:
        qti_scores = [(ours, _score_of(interp.run(tree, qvars))) for ours, qvars in probes]
    except rp.Unsupported as exc:
        ctx.lose(f"custom response processing uses <{exc}>, beyond our scoring rules: scored all-or-nothing against the correct response")
        return _merge_ext(_first_non_map(candidates)(1.0), ext, item_type, ctx)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        ctx.lose(f"custom response processing cannot be evaluated ({exc}): scored all-or-nothing against the correct response")
        return _merge_ext(_first_non_map(candidates)(1.0), ext, item_type, ctx)
    points = qti_scores[0][1] if item_type != "choice" else qti_scores[1][1]
    if item_type == "choice":
        points = max(points, max((s for _, s in qti_scores), default=0.0))
    if item_type in ("match", "inline_choice", "order", "text_entry", "numeric"):
        points = max(s for _, s in qti_scores)
    if points <= 0:
        points = 1.0
    lowest = min((s for _, s in qti_scores), default=0.0)
    mismatch = None
    for cand in candidates:
        scoring = cand(points)
        if lowest < 0:
            scoring["floor"] = lowest  # QTI lets this item's score go negative (penalties)
        bad = next(((ours, s) for ours, s in qti_scores if abs(rp.reference_score(item_type, scoring, ours) - s) > 1e-9), None)
        if bad is None:
            return _merge_ext(scoring, ext, item_type, ctx)
        if mismatch is None:
            mismatch = (scoring, bad)
    scoring, (resp, qscore) = mismatch
    fallback = _first_non_map(candidates)(points)
    if lowest < 0:
        fallback["floor"] = lowest
    ctx.lose(
        "response processing not reproduced by our rules (for the response {} QTI gives {:g}, rule {!r} gives {:g}); imported with rule {!r}".format(
            json.dumps(resp), qscore, scoring.get("rule", item_type), rp.reference_score(item_type, scoring, resp), fallback.get("rule", "exact value"))
    )
    return _merge_ext(fallback, ext, item_type, ctx)


def _first_non_map(candidates):
    for c in candidates:
        s = c(1.0)
        if s.get("rule") != "map":
            return c
    return candidates[0]


def _score_of(env) -> float:
    v = env.get("SCORE")
    if v is None:
        return 0.0
    return float(v)


def _rubric(root, points: float, ctx: _ItemContext) -> dict[str, Any]:
    body = _child(root, "qti-item-body")
    guidance = ""
    for rb in body.iter("qti-rubric-block") if body is not None else []:
        if "scorer" in (rb.get("view") or ""):
            guidance = re.sub(r"\s+", " ", "".join(rb.itertext())).strip()
            break
    level_desc = guidance[:2000] if guidance else "Fully meets the expectations."
    if guidance:
        ctx.note("scorer rubric text kept as the description of the single rubric criterion")
    return {"criteria": [{"id": "overall", "title": "Overall", "levels": [
        {"points": 0.0, "label": "Not met", "description": ""},
        {"points": points, "label": "Met", "description": level_desc},
    ]}]}


def _merge_ext(scoring: dict, ext: dict, item_type: str, ctx: _ItemContext) -> dict:
    """Our exporter's extension refines the QTI-derived scoring when both agree on the key."""
    if not ext.get("scoring"):
        return scoring
    try:
        extra = json.loads(ext["scoring"])
    except ValueError:
        ctx.note("exam-engine scoring extension is not valid JSON; ignored")
        return scoring
    if not isinstance(extra, dict) or (ext.get("type") and ext["type"] != item_type):
        ctx.note("exam-engine scoring extension does not match the QTI item; ignored")
        return scoring
    key_fields = {"choice": ("correct",), "order": ("correct_order",), "match": ("pairs",), "inline_choice": ("correct",),
                  "text_entry": ("accepted",), "numeric": ("value",), "extended_text": ()}[item_type]
    for f in key_fields:
        ours, theirs = scoring.get(f), extra.get(f)
        if f == "accepted":
            ours = sorted(a["value"] for a in ours or [])
            theirs = sorted(a.get("value") for a in theirs or [] if isinstance(a, dict))
        elif f in ("correct", "pairs") and isinstance(ours, list):
            ours, theirs = sorted(map(str, ours)), sorted(map(str, theirs or []))
        if ours != theirs:
            ctx.note("exam-engine scoring extension disagrees with the QTI key (edited elsewhere?); the QTI key is used")
            return scoring
    return extra


# ---------------------------------------------------------------------------
# Item body -> sanitised HTML


def _remove_keep_tail(el) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    prev = el.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _unwrap(el) -> None:
    parent = el.getparent()
    idx = parent.index(el)
    prev = el.getprevious()
    text = el.text or ""
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    children = list(el)
    for i, child in enumerate(children):
        parent.insert(idx + i, child)
    last = children[-1] if children else (parent[idx - 1] if idx > 0 else None)
    tail = el.tail or ""
    if last is not None:
        last.tail = (last.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)


_INLINE_PARENTS = {"p", "span", "td", "th", "li", "em", "strong", "b", "i", "a", "label", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "div", "q", "sub", "sup"}
_BLOCKISH = {"div", "table", "ul", "ol", "blockquote", "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dl", "figure", "hr"}


def _body_html(body, ctx: _ItemContext) -> str:
    body = deepcopy(body)
    # Interactions first: each leaves its prompt (block) or a gap marker (inline).
    for inter in [el for el in body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]:
        tag = inter.tag
        if tag == "qti-inline-choice-interaction":
            _replace_with_gap(inter, inter.get("data-gap-id") or inter.get("response-identifier"))
        elif tag == "qti-text-entry-interaction":
            parent = inter.getparent()
            alone = not (parent.text or "").strip() and len(_children(parent)) == 1 and not (inter.tail or "").strip()
            if alone and parent is not body:
                grand = parent
                while grand.getparent() is not body and len(_children(grand.getparent())) == 1 and not (grand.getparent().text or "").strip() and not (grand.tail or "").strip():
                    grand = grand.getparent()
                _remove_keep_tail(grand)
            elif alone:
                _remove_keep_tail(inter)
            else:
                _replace_with_gap(inter, inter.get("response-identifier"))
        elif tag == "qti-hottext-interaction":
            for hot in list(inter.iter("qti-hottext")):
                hot.tag = "mark"
                for a in list(hot.attrib):
                    del hot.attrib[a]
            prompt = _child(inter, "qti-prompt")
            if prompt is not None:
                prompt.tag = "p" if not any(isinstance(c.tag, str) and c.tag in _BLOCKISH for c in prompt) else "div"
            inter.tag = "div"
            for a in list(inter.attrib):
                del inter.attrib[a]
            _unwrap(inter)
        elif tag == "qti-gap-match-interaction":
            prompt = _child(inter, "qti-prompt")
            for t in _children(inter, "qti-gap-text"):
                _remove_keep_tail(t)
            for gap in list(inter.iter("qti-gap")):
                _replace_with_gap(gap, gap.get("data-gap-id") or gap.get("identifier"))
            if prompt is not None:
                prompt.tag = "p" if not any(c.tag in _BLOCKISH for c in prompt) else "div"
            inter.tag = "div"
            for a in list(inter.attrib):
                del inter.attrib[a]
            _unwrap(inter)
        else:
            prompt = _child(inter, "qti-prompt")
            if prompt is not None:
                new = etree.Element("p" if not any(isinstance(c.tag, str) and c.tag in _BLOCKISH for c in prompt) else "div")
                new.text = prompt.text
                for c in list(prompt):
                    new.append(c)
                new.tail = inter.tail
                inter.getparent().replace(inter, new)
            else:
                _remove_keep_tail(inter)
    for el in [e for e in body.iter() if isinstance(e.tag, str) and e is not body]:
        if not _attached(el, body):
            continue
        tag = el.tag
        if tag in _DROPPED_BLOCKS:
            ctx.lose(f"{_DROPPED_BLOCKS[tag]} not imported (no place for it in our item format)")
            _remove_keep_tail(el)
        elif tag == "qti-rubric-block":
            views = (el.get("view") or "candidate").split()
            if "candidate" in views:
                _unwrap_deep(el)
            else:
                ctx.note(f"rubric block for {', '.join(views)} left out of the learner's stem")
                _remove_keep_tail(el)
        elif tag in ("qti-content-body",):
            _unwrap(el)
        elif tag == "div" and el.get("class") == "ee-wrap":
            _unwrap(el)  # our exporter's wrapper of inline content
        elif tag.startswith("xi-"):
            ctx.lose("XInclude (shared content) not resolved")
            _remove_keep_tail(el)
        elif tag.startswith("qti-"):
            ctx.lose(f"<{tag}> not imported")
            _unwrap(el)
    _rewrite_media(body, ctx)
    # Attributes of QTI's XHTML that HTML spells differently.
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if "xml-lang" in el.attrib or "xml-base" in el.attrib:
            _html_attrs(el)
    return ctx.defer(_serialize_children(body))


def _html_attrs(el) -> None:
    """xml:lang -> lang (in place, keeping the attribute order), xml:base dropped."""
    attrs = list(el.attrib.items())
    el.attrib.clear()
    for key, value in attrs:
        if key == "xml-lang":
            el.set("lang", value)
        elif key != "xml-base":
            el.set(key, value)


def _attached(el, root) -> bool:
    while el is not None:
        if el is root:
            return True
        el = el.getparent()
    return False


def _tag_names(html: str) -> set[str]:
    return set(re.findall(r"<([A-Za-z][A-Za-z0-9-]*)", html))


def _sanitize(html: str, ctx: _ItemContext) -> str:
    """sanitize_html, reporting the elements it removed (script, iframe, track...)."""
    clean = sanitize_html(html)
    removed = sorted(t.lower() for t in _tag_names(html) - _tag_names(clean))
    if removed:
        ctx.lose("HTML elements removed by the sanitiser: " + ", ".join(removed))
    return clean


def _unwrap_deep(el) -> None:
    for c in list(el):
        if c.tag == "qti-content-body":
            _unwrap(c)
    _unwrap(el)


def _replace_with_gap(el, gap_id: str | None) -> None:
    span = etree.Element("span")
    span.set("data-gap", gap_id or "")
    span.tail = el.tail
    el.getparent().replace(el, span)


def _serialize_children(el) -> str:
    parts = [_text(el.text)]
    for c in el:
        parts.append(etree.tostring(c, method="html", encoding="unicode", with_tail=True))
    return "".join(parts)


def _text(t: str | None) -> str:
    if not t:
        return ""
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tidy(html: str) -> str:
    return html.strip()


def _inner_html(el, ctx: _ItemContext) -> str:
    el = deepcopy(el)
    for c in [c for c in el.iter() if isinstance(c.tag, str) and c is not el]:
        if not _attached(c, el):
            continue
        if c.tag in _DROPPED_BLOCKS:
            ctx.lose(f"{_DROPPED_BLOCKS[c.tag]} inside an option not imported")
            _remove_keep_tail(c)
        elif c.tag.startswith("qti-"):
            _unwrap(c)
    _rewrite_media(el, ctx)
    for c in el.iter():
        if isinstance(c.tag, str) and ("xml-lang" in c.attrib or "xml-base" in c.attrib):
            _html_attrs(c)
    return ctx.defer(_serialize_children(el))


_MEDIA_ATTRS = {"img": ("src",), "audio": ("src",), "video": ("src", "poster"), "source": ("src",), "track": ("src",), "object": ("data",), "a": ("href",)}


def _rewrite_media(tree, ctx: _ItemContext) -> None:
    """Point media references at bank-relative paths (the package path) and collect them."""
    for el in list(tree.iter("object")):
        _object_to_media(el, ctx)
    for el in list(tree.iter("picture")):
        # <picture> is not in our allow-list: keep its <img>, drop the alternative sources.
        img = next(iter(el.iter("img")), None)
        if img is not None:
            img.tail = el.tail
            el.getparent().replace(el, img)
        else:
            _remove_keep_tail(el)
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag not in _MEDIA_ATTRS:
            continue
        for attr in _MEDIA_ATTRS[el.tag]:
            ref = el.get(attr)
            if not ref:
                continue
            target = resolve_ref(ctx.path, ref)
            if target is None:
                if el.tag != "a" and "://" not in ref and not ref.startswith("data:"):
                    ctx.lose(f"media reference {ref!r} points outside the package; removed")
                    del el.attrib[attr]
                continue
            if target in ctx.files:
                el.set(attr, target)
                ctx.media.append(target)
            elif el.tag != "a":
                ctx.lose(f"media file {ref!r} is missing from the package")


def _object_to_media(el, ctx: _ItemContext) -> None:
    mime = (el.get("type") or "").lower()
    data = el.get("data")
    if mime.startswith("image/") and data:
        img = etree.Element("img", src=data, alt=re.sub(r"\s+", " ", "".join(el.itertext())).strip()[:500])
        for a in ("width", "height"):
            if el.get(a):
                img.set(a, el.get(a))
        img.tail = el.tail
        el.getparent().replace(el, img)
    elif (mime.startswith("audio/") or mime.startswith("video/")) and data:
        media = etree.Element(mime.split("/")[0], src=data, controls="controls")
        media.tail = el.tail
        el.getparent().replace(el, media)
    else:
        ctx.lose(f"embedded object ({mime or 'unknown type'}) replaced by its fallback content")
        _unwrap(el)


# ---------------------------------------------------------------------------
# Tests


def _duration(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def convert_test(root, path: str, path_to_id: dict[str, list[str]], known_ids: Iterable[str]) -> tuple[ImportedTest | None, ReportEntry]:
    """Convert an assessment test into an exam draft: flattened sections with their rules."""
    root = normalize(root)
    identifier = root.get("identifier") or posixpath.basename(path)
    title = root.get("title") or identifier
    reasons: list[str] = []
    partial = False
    sections: list[ImportedSection] = []
    known = set(known_ids)
    test_limits = _child(root, "qti-time-limits")
    max_t = _duration(test_limits.get("max-time")) if test_limits is not None else None
    min_t = _duration(test_limits.get("min-time")) if test_limits is not None else None
    parts = _children(root, "qti-test-part")
    for part in parts:
        pl = _child(part, "qti-time-limits")
        if pl is not None and _duration(pl.get("max-time")) is not None:
            if len(parts) == 1 and max_t is None:
                max_t = _duration(pl.get("max-time"))
                min_t = _duration(pl.get("min-time"))
            else:
                reasons.append(f"time limit of test part {part.get('identifier')} not kept (several parts)")
                partial = True
        for sec in _children(part, "qti-assessment-section"):
            partial |= _walk_section(sec, path, path_to_id, known, sections, reasons, depth=0)
    if any(_child(p, "qti-branch-rule") is not None or p.find(".//qti-branch-rule") is not None or p.find(".//qti-pre-condition") is not None for p in parts):
        reasons.append("branching and preconditions not imported (our exams present every section)")
        partial = True
    if root.find("qti-outcome-processing") is not None:
        reasons.append("test-level outcome processing not imported: the exam's scoring and pass threshold are set in our engine")
        partial = True
    if len(parts) > 1:
        reasons.append(f"{len(parts)} test parts flattened into one list of sections")
    missing = [r for r in reasons if r.startswith("item ref ")]
    if len(missing) > 3:
        reasons = [r for r in reasons if not r.startswith("item ref ")]
        reasons.insert(0, f"{len(missing)} item refs are not among the imported items (kept by identifier): " + ", ".join(m.split()[2] for m in missing))
    if not sections:
        return None, ReportEntry(identifier, SKIPPED, reasons + ["no section with items"], kind="test", source_path=path)
    test = ImportedTest(identifier, title, sections, max_time_s=max_t, min_time_s=min_t, source_path=path)
    return test, ReportEntry(identifier, PARTIAL if partial else IMPORTED, reasons, kind="test", source_path=path)


def _walk_section(sec, path, path_to_id, known, sections, reasons, depth) -> bool:
    partial = False
    sel = _child(sec, "qti-selection")
    order = _child(sec, "qti-ordering")
    limits = _child(sec, "qti-time-limits")
    item_ids = []
    subsections = []
    for child in _children(sec):
        if child.tag == "qti-assessment-item-ref":
            href = child.get("href") or ""
            target = resolve_ref(path, href)
            idents = path_to_id.get(target) if target else None
            if not idents:
                ident = child.get("identifier")
                if ident not in known:
                    reasons.append(f"item ref {ident} ({href}) is not among the imported items")
                    partial = True
                idents = [ident]
            item_ids.extend(idents)
        elif child.tag == "qti-assessment-section":
            subsections.append(child)
        elif child.tag == "qti-assessment-section-ref":
            reasons.append(f"section ref {child.get('href')} not followed")
            partial = True
    if subsections and (sel is not None or (order is not None and order.get("shuffle") == "true")):
        reasons.append(f"selection/ordering of section {sec.get('identifier')} applies to its subsections, which are flattened; rule kept on its own items only")
        partial = True
    if item_ids or not subsections:
        sections.append(ImportedSection(
            identifier=sec.get("identifier") or f"S{len(sections) + 1}",
            title=sec.get("title") or sec.get("identifier") or "",
            item_identifiers=item_ids,
            select=int(sel.get("select")) if sel is not None and sel.get("select") else None,
            with_replacement=(sel is not None and sel.get("with-replacement") == "true"),
            shuffle=(order is not None and order.get("shuffle") == "true"),
            max_time_s=_duration(limits.get("max-time")) if limits is not None else None,
            min_time_s=_duration(limits.get("min-time")) if limits is not None else None,
        ))
    for sub in subsections:
        partial |= _walk_section(sub, path, path_to_id, known, sections, reasons, depth + 1)
    if depth == 0 and subsections:
        reasons.append(f"nested sections of {sec.get('identifier')} flattened")
    return partial
