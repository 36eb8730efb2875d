"""QTI 3.0 export: items in our format (and optionally an exam) as a content package.

The package holds `imsmanifest.xml`, one `qti-assessment-item` per item under
`items/`, the media under their bank-relative paths, and the exam as a
`qti-assessment-test` under `tests/`. Scoring is written as standard QTI (the
match_correct / map_response templates, or plain custom processing) so any
QTI engine scores like we do; the few facts QTI has no place for (rubrics,
negative marking, floor, weight, the exact rule) ride in attributes of our own
namespace on the item root, which the XSD allows (anyAttribute, lax) and our
importer reads back. See docs/qti.md.
"""

from __future__ import annotations

import json
import re
import zipfile
from io import BytesIO
from typing import Any, Callable

import lxml.html
from lxml import etree

from .errors import QtiError, QtiExportError
from .context import EXT_NS
from .normalize import NS_MATHML, NS_QTI3, NS_XML
from .safety import clean_member_path

NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_CP = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
NS_LOM = "http://ltsc.ieee.org/xsd/LOM"
ITEM_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0p1_v1p0.xsd"
CP_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
RPT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"

Progress = Callable[[int, int, str], None]

_Q = "{%s}" % NS_QTI3
_M = "{%s}" % NS_MATHML
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

#: XHTML elements of QTI 3's content model, with the attributes we keep on them.
_COMMON_ATTRS = ("class", "id")
_HTML = {
    "p": (), "div": (), "span": (), "strong": (), "em": (), "b": (), "i": (), "sub": (), "sup": (), "br": (),
    "small": (), "big": (), "tt": (), "code": (), "kbd": (), "samp": (), "var": (), "cite": (), "dfn": (),
    "abbr": (), "acronym": (), "q": (), "blockquote": (), "address": (), "pre": (), "hr": (),
    "h1": (), "h2": (), "h3": (), "h4": (), "h5": (), "h6": (), "ul": (), "ol": (), "li": (),
    "dl": (), "dt": (), "dd": (), "table": ("summary",), "caption": (), "thead": (), "tbody": (), "tfoot": (),
    "tr": (), "td": ("colspan", "rowspan"), "th": ("colspan", "rowspan"), "col": ("span",), "colgroup": ("span",),
    "img": ("src", "alt", "width", "height"), "a": ("href",), "figure": (), "figcaption": (),
    "audio": ("src", "controls"), "video": ("src", "width", "height", "poster", "controls"), "source": ("src", "type"),
    "ruby": (), "rt": (), "rp": (), "bdo": (), "label": (),
}
_INLINE = {"span", "strong", "em", "b", "i", "sub", "sup", "br", "small", "big", "tt", "code", "kbd", "samp", "var",
           "cite", "dfn", "abbr", "acronym", "q", "img", "a", "ruby", "bdo", "label", "math", "audio", "video"}
_WRAP_CLASS = "ee-wrap"
_VOID = {"img", "br", "hr", "source", "track", "col", "wbr"}


def export_package(
    items: list[dict[str, Any]],
    exam: dict[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    xsd_dir: str | None = None,
) -> bytes:
    """Write `items` ({identifier, version, item, media}) and an optional exam as a QTI 3.0 zip.

    exam: {identifier, title, sections: [{identifier, title, item_identifiers,
    select, shuffle}], time_limit_s (optional)}. With `xsd_dir`, the package is
    validated against the official XSDs before it is returned.
    """
    buf = BytesIO()
    resources: list[etree._Element] = []
    media_written: dict[str, bytes] = {}
    item_files: dict[str, tuple[str, str]] = {}  # our identifier -> (qti identifier, path)
    used_qti_ids: set[str] = set()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, entry in enumerate(items, start=1):
            ident = str(entry.get("identifier"))
            if ident in item_files:
                raise QtiExportError("qti_export_invalid", f"item {ident!r} is given twice")
            qid = _ncname(ident, used_qti_ids, "item")
            path = f"items/{qid}.xml"
            media = entry.get("media") or {}
            media_paths = []
            for mpath, data in media.items():
                try:
                    clean = clean_member_path(mpath) if mpath else ""
                except QtiError:
                    clean = ""
                if not clean or clean != mpath.replace("\\", "/") or clean == "imsmanifest.xml" or clean.startswith(("items/", "tests/")):
                    raise QtiExportError("qti_export_invalid_item", f"item {ident!r}: media path {mpath!r} is not a plain relative path")
                if clean in media_written and media_written[clean] != data:
                    raise QtiExportError("qti_export_invalid", f"media {clean!r} differs between items")
                if clean not in media_written:
                    zf.writestr(clean, data)
                    media_written[clean] = data
                media_paths.append(clean)
            xml = item_xml(entry, qid)
            zf.writestr(path, xml)
            item_files[ident] = (qid, path)
            resources.append(_item_resource(qid, path, media_paths, entry))
            if progress:
                progress(n, len(items), ident)
        if exam is not None:
            test_path, test_xml, deps = _test_xml(exam, item_files, used_qti_ids)
            zf.writestr(test_path, test_xml)
            res = etree.Element(f"{{{NS_CP}}}resource", identifier=_res_id("TEST", exam["identifier"]), type="imsqti_test_xmlv3p0", href=test_path)
            etree.SubElement(res, f"{{{NS_CP}}}file", href=test_path)
            for dep in deps:
                etree.SubElement(res, f"{{{NS_CP}}}dependency", identifierref=dep)
            resources.append(res)
        zf.writestr("imsmanifest.xml", _manifest(resources, exam))
    data = buf.getvalue()
    if xsd_dir:
        from .validate import validate_package
        errors = validate_package(data, xsd_dir)
        if errors:
            raise QtiExportError("qti_export_invalid", "the package does not validate: " + "; ".join(errors[:5]))
    return data


def _ncname(ident: str, used: set[str], prefix: str) -> str:
    base = ident if _NCNAME.match(ident) else prefix + "-" + re.sub(r"[^A-Za-z0-9_.-]", "_", ident)
    out = base
    n = 2
    while out in used:
        out = f"{base}-{n}"
        n += 1
    used.add(out)
    return out


def _res_id(kind: str, ident: str) -> str:
    return f"RES-{kind}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(ident))


# ---------------------------------------------------------------------------
# Items


def _q(tag: str, parent=None, **attrs):
    attrs = {k.replace("_", "-"): str(v) for k, v in attrs.items() if v is not None}
    if parent is None:
        return etree.Element(_Q + tag, attrs)
    return etree.SubElement(parent, _Q + tag, attrs)


def _fmt(v: float) -> str:
    v = float(v)
    return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def item_xml(entry: dict[str, Any], qid: str) -> bytes:
    """One item as a qti-assessment-item document (bytes)."""
    item = entry.get("item") or {}
    ident = str(entry.get("identifier"))
    itype = item.get("type")
    if itype not in _WRITERS:
        raise QtiExportError("qti_export_invalid_item", f"item {ident!r}: unknown type {itype!r}")
    scoring = dict(item.get("scoring") or {})
    interaction = dict(item.get("interaction") or {})
    metadata = dict(item.get("metadata") or {})
    nsmap = {None: NS_QTI3, "xsi": NS_XSI, "ee": EXT_NS, "m": NS_MATHML}
    root = etree.Element(_Q + "qti-assessment-item", nsmap=nsmap)
    root.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_QTI3} {ITEM_SCHEMA}")
    root.set("identifier", qid)
    root.set("title", (item.get("title") or ident)[:200])
    root.set("adaptive", "false")
    root.set("time-dependent", "false")
    root.set("tool-name", "exam-engine")
    root.set(f"{{{NS_XML}}}lang", metadata.get("language") or "en")
    root.set(f"{{{EXT_NS}}}type", itype)
    if qid != ident:
        root.set(f"{{{EXT_NS}}}identifier", ident)
    if entry.get("version") is not None:
        root.set(f"{{{EXT_NS}}}version", str(entry["version"]))
    root.set(f"{{{EXT_NS}}}scoring", json.dumps(scoring, sort_keys=True, separators=(",", ":")))
    extra_inter = {k: interaction[k] for k in ("unit", "max_words", "placeholder", "expected_lines", "expected_length") if k in interaction}
    if extra_inter:
        root.set(f"{{{EXT_NS}}}interaction", json.dumps(extra_inter, sort_keys=True, separators=(",", ":")))
    if metadata:
        root.set(f"{{{EXT_NS}}}metadata", json.dumps(metadata, sort_keys=True, separators=(",", ":")))
    try:
        _WRITERS[itype](root, item, interaction, scoring)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise QtiExportError("qti_export_invalid_item", f"item {ident!r}: cannot be written as QTI ({exc.__class__.__name__}: {exc})") from None
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _declarations(root, responses: list[etree._Element], points: float) -> None:
    for r in responses:
        root.append(r)
    od = _q("qti-outcome-declaration", root, identifier="SCORE", cardinality="single", base_type="float", normal_maximum=_fmt(points), normal_minimum=None)
    _q("qti-value", _q("qti-default-value", od)).text = "0"
    om = _q("qti-outcome-declaration", root, identifier="MAXSCORE", cardinality="single", base_type="float")
    _q("qti-value", _q("qti-default-value", om)).text = _fmt(points)


def _response(ident: str, cardinality: str, base_type: str, correct: list[str] | None = None, mapping: dict | None = None) -> etree._Element:
    rd = _q("qti-response-declaration", identifier=ident, cardinality=cardinality, base_type=base_type)
    if correct:
        cr = _q("qti-correct-response", rd)
        for c in correct:
            _q("qti-value", cr).text = c
    if mapping is not None:
        mp = _q("qti-mapping", rd, default_value=_fmt(mapping.get("default_value", 0)),
                lower_bound=_fmt(mapping["lower_bound"]) if mapping.get("lower_bound") is not None else None,
                upper_bound=_fmt(mapping["upper_bound"]) if mapping.get("upper_bound") is not None else None)
        for key, value in mapping["entries"]:
            attrs = {"map-key": key, "mapped-value": _fmt(value)}
            if mapping.get("case_sensitive") is not None:
                attrs["case-sensitive"] = "true" if mapping["case_sensitive"] else "false"
            etree.SubElement(mp, _Q + "qti-map-entry", attrs)
    return rd


def _map_spec(scoring: dict, points: float) -> dict:
    """Our map rule as a QTI mapping; the bounds also carry our floor and the cap at `points`."""
    floor = float(scoring.get("floor", 0))
    lower = scoring.get("lower_bound")
    upper = scoring.get("upper_bound")
    return {"entries": list(scoring.get("mapping", {}).items()), "default_value": scoring.get("default_value", 0),
            "lower_bound": floor if lower is None else max(float(lower), floor),
            "upper_bound": points if upper is None else min(float(upper), points)}


def _template(root, name: str) -> None:
    _q("qti-response-processing", root, template=RPT + name + ".xml")


def _match_rp(root, rid: str, points: float, base_type: str | None = None) -> None:
    if points == 1:
        _template(root, "match_correct")
        return
    rpe = _q("qti-response-processing", root)
    cond = _q("qti-response-condition", rpe)
    rif = _q("qti-response-if", cond)
    m = _q("qti-match", rif)
    _q("qti-variable", m, identifier=rid)
    _q("qti-correct", m, identifier=rid)
    _set_score(rif, points)
    _set_score(_q("qti-response-else", cond), 0)


def _set_score(parent, value: float) -> None:
    so = _q("qti-set-outcome-value", parent, identifier="SCORE")
    _q("qti-base-value", so, base_type="float").text = _fmt(value)


def _body(root, stem: str) -> etree._Element:
    body = _q("qti-item-body", root)
    last = None
    for node in wrap_top_level(html_to_qti(stem)):
        if isinstance(node, str):  # white space between blocks, kept for a faithful round trip
            if last is None:
                body.text = (body.text or "") + node
            else:
                last.tail = (last.tail or "") + node
        else:
            body.append(node)
            last = node
    return body


def _find_gaps(body) -> dict[str, etree._Element]:
    return {el.get("data-gap"): el for el in body.iter(_Q + "span") if el.get("data-gap") is not None}


def _replace(el, new) -> None:
    new.tail = el.tail
    el.getparent().replace(el, new)


def _append_block(body, node) -> None:
    if etree.QName(node).localname in ("qti-text-entry-interaction", "qti-inline-choice-interaction"):
        div = _q("div", body)
        div.append(node)
    else:
        body.append(node)


def _options_into(parent, tag: str, options: list[dict], **extra) -> None:
    for o in options:
        el = _q(tag, parent, identifier=o["id"], **extra)
        _fill(el, o.get("html") or "")


def _fill(el, html: str) -> None:
    nodes = html_to_qti(html)
    last = None
    for node in nodes:
        if isinstance(node, str):
            if last is None:
                el.text = (el.text or "") + node
            else:
                last.tail = (last.tail or "") + node
        else:
            el.append(node)
            last = node


def _write_choice(root, item, inter, scoring):
    options = inter["options"]
    ids = [o["id"] for o in options]
    max_choices = int(inter.get("max_choices", 1))
    card = "single" if max_choices == 1 else "multiple"
    rule = scoring.get("rule", "all_or_nothing")
    points = float(scoring.get("points", 1))
    correct = list(scoring["correct"])
    mapping = None
    if rule == "map":
        mapping = _map_spec(scoring, points)
    elif rule in ("per_option", "per_option_penalty"):
        share = points / len(correct)
        entries = [(c, share) for c in correct]
        if rule == "per_option_penalty":
            entries += [(i, -share) for i in ids if i not in correct]
        mapping = {"entries": entries, "default_value": 0, "lower_bound": scoring.get("floor", 0)}
    _declarations(root, [_response("RESPONSE", card, "identifier", correct, mapping)], points)
    body = _body(root, item.get("stem", ""))
    ci = _q("qti-choice-interaction", response_identifier="RESPONSE", shuffle=str(bool(inter.get("shuffle", True))).lower(),
            max_choices=str(max_choices), min_choices=str(int(inter.get("min_choices", 0))))
    _options_into(ci, "qti-simple-choice", options)
    _append_block(body, ci)
    if mapping is not None:
        _template(root, "map_response")
    else:
        _match_rp(root, "RESPONSE", points)


def _write_order(root, item, inter, scoring):
    points = float(scoring.get("points", 1))
    _declarations(root, [_response("RESPONSE", "ordered", "identifier", list(scoring["correct_order"]))], points)
    body = _body(root, item.get("stem", ""))
    oi = _q("qti-order-interaction", response_identifier="RESPONSE", shuffle=str(bool(inter.get("shuffle", True))).lower())
    _options_into(oi, "qti-simple-choice", inter["options"])
    _append_block(body, oi)
    _match_rp(root, "RESPONSE", points)  # "pairs" has no QTI template: exact here, the rule rides in ee:scoring


def _write_match(root, item, inter, scoring):
    points = float(scoring.get("points", 1))
    pairs = [f"{a} {b}" for a, b in scoring["pairs"]]
    rule = scoring.get("rule", "per_pair")
    mapping = None
    if rule == "map":
        mapping = _map_spec(scoring, points)
    elif rule in ("per_pair", "per_pair_penalty"):
        share = points / len(pairs)
        mapping = {"entries": [(p, share) for p in pairs], "default_value": -share if rule == "per_pair_penalty" else 0,
                   "lower_bound": scoring.get("floor", 0)}
    _declarations(root, [_response("RESPONSE", "multiple", "directedPair", pairs, mapping)], points)
    body = _body(root, item.get("stem", ""))
    left, right = inter["left"], inter["right"]
    max_assoc = int(inter.get("max_associations", 1))
    mi = _q("qti-match-interaction", response_identifier="RESPONSE", shuffle=str(bool(inter.get("shuffle", True))).lower(),
            max_associations=str(max_assoc * len(left)))
    _options_into(_q("qti-simple-match-set", mi), "qti-simple-associable-choice", left, match_max=str(max_assoc))
    _options_into(_q("qti-simple-match-set", mi), "qti-simple-associable-choice", right, match_max=str(len(left)))
    _append_block(body, mi)
    if mapping is not None:
        _template(root, "map_response")
    else:
        _match_rp(root, "RESPONSE", points)


def _write_inline(root, item, inter, scoring):
    points = float(scoring.get("points", 1))
    gaps = inter["gaps"]
    correct = scoring["correct"]
    for g in gaps:
        if g["id"] in ("SCORE", "MAXSCORE"):
            raise ValueError(f"gap id {g['id']!r} collides with an outcome")
    _declarations(root, [_response(g["id"], "single", "identifier", [correct[g["id"]]]) for g in gaps], points)
    body = _body(root, item.get("stem", ""))
    spans = _find_gaps(body)
    for g in gaps:
        ic = _q("qti-inline-choice-interaction", response_identifier=g["id"], shuffle="false")
        for o in g["options"]:
            el = _q("qti-inline-choice", ic, identifier=o["id"])
            _fill(el, o.get("html") or "")
        if g["id"] in spans:
            _replace(spans[g["id"]], ic)
        else:
            _append_block(body, ic)
    rpe = _q("qti-response-processing", root)
    share = points / len(gaps)
    if scoring.get("rule", "per_gap") == "all_or_nothing":
        cond = _q("qti-response-condition", rpe)
        rif = _q("qti-response-if", cond)
        conj = _q("qti-and", rif)
        for g in gaps:
            m = _q("qti-match", conj)
            _q("qti-variable", m, identifier=g["id"])
            _q("qti-correct", m, identifier=g["id"])
        _set_score(rif, points)
        _set_score(_q("qti-response-else", cond), 0)
    else:
        _set_score(rpe, 0)
        for g in gaps:
            rif = _q("qti-response-if", _q("qti-response-condition", rpe))
            m = _q("qti-match", rif)
            _q("qti-variable", m, identifier=g["id"])
            _q("qti-correct", m, identifier=g["id"])
            so = _q("qti-set-outcome-value", rif, identifier="SCORE")
            s = _q("qti-sum", so)
            _q("qti-variable", s, identifier="SCORE")
            _q("qti-base-value", s, base_type="float").text = _fmt(share)


def _write_text_entry(root, item, inter, scoring):
    points = float(scoring.get("points", 1))
    accepted = scoring["accepted"]
    best = max(accepted, key=lambda a: float(a.get("score", points)))
    entries = []
    seen = set()
    for a in accepted:
        if a["value"] not in seen:
            seen.add(a["value"])
            entries.append((a["value"], float(a.get("score", points))))
    mapping = {"entries": entries, "default_value": 0, "case_sensitive": bool(scoring.get("case_sensitive", False))}
    _declarations(root, [_response("RESPONSE", "single", "string", [best["value"]], mapping)], points)
    body = _body(root, item.get("stem", ""))
    te = _q("qti-text-entry-interaction", response_identifier="RESPONSE",
            expected_length=str(int(inter["expected_length"])) if inter.get("expected_length") else None,
            placeholder_text=inter.get("placeholder") or None)
    spans = _find_gaps(body)
    if "RESPONSE" in spans:
        _replace(spans["RESPONSE"], te)
    else:
        _append_block(body, te)
    _template(root, "map_response")


def _write_numeric(root, item, inter, scoring):
    points = float(scoring.get("points", 1))
    value = float(scoring["value"])
    _declarations(root, [_response("RESPONSE", "single", "float", [_fmt(value)])], points)
    body = _body(root, item.get("stem", ""))
    te = _q("qti-text-entry-interaction", response_identifier="RESPONSE")
    spans = _find_gaps(body)
    if "RESPONSE" in spans:
        _replace(spans["RESPONSE"], te)
    else:
        _append_block(body, te)
    rpe = _q("qti-response-processing", root)
    cond = _q("qti-response-condition", rpe)
    rif = _q("qti-response-if", cond)
    tol = float(scoring.get("tolerance", 0))
    mode = scoring.get("tolerance_mode", "absolute")
    if tol:
        eq = _q("qti-equal", rif, tolerance_mode=mode, tolerance=_fmt(tol * 100 if mode == "relative" else tol))
    else:
        eq = _q("qti-equal", rif, tolerance_mode="exact")
    _q("qti-variable", eq, identifier="RESPONSE")
    _q("qti-correct", eq, identifier="RESPONSE")
    _set_score(rif, points)
    _set_score(_q("qti-response-else", cond), 0)


def _write_extended(root, item, inter, scoring):
    points = float(scoring.get("points", 1))
    _declarations(root, [_response("RESPONSE", "single", "string")], points)
    body = _body(root, item.get("stem", ""))
    _append_block(body, _q("qti-extended-text-interaction", response_identifier="RESPONSE",
                           expected_lines=str(int(inter["expected_lines"])) if inter.get("expected_lines") else None,
                           expected_length=str(int(inter["expected_length"])) if inter.get("expected_length") else None))
    criteria = (scoring.get("rubric") or {}).get("criteria") or []
    if criteria:
        rb = _q("qti-rubric-block", body, use="scoring", view="scorer")
        cb = _q("qti-content-body", rb)
        ul = _q("ul", cb)
        for c in criteria:
            li = _q("li", ul)
            li.text = str(c.get("title", c.get("id", "")))
            inner = _q("ul", li)
            for lv in c.get("levels", []):
                _q("li", inner).text = f"{_fmt(lv.get('points', 0))}: {lv.get('label', '')} {lv.get('description', '')}".strip()
    # Graded by hand: no response processing (the SCORE outcome is set by a scorer).


_WRITERS = {
    "choice": _write_choice,
    "order": _write_order,
    "match": _write_match,
    "inline_choice": _write_inline,
    "text_entry": _write_text_entry,
    "numeric": _write_numeric,
    "extended_text": _write_extended,
}


# ---------------------------------------------------------------------------
# Sanitised HTML -> QTI 3 XHTML


def html_to_qti(html: str) -> list:
    """Our stem/option HTML as QTI-namespace elements (and loose text), block-safe at top level.

    Top-level runs of inline content are wrapped in `<div class="ee-wrap">`,
    which our importer unwraps again.
    """
    if not html or not html.strip():
        return [html] if html else []
    frag = lxml.html.fragment_fromstring(html, create_parent="div")
    out = []
    if frag.text:
        out.append(frag.text)
    for child in frag:
        conv = _convert_el(child)
        out.extend(conv)
    return out


def wrap_top_level(nodes: list) -> list:
    """Group inline nodes and text of a list into ee-wrap divs (block context)."""
    result, run = [], []
    for n in nodes:
        if isinstance(n, str) or etree.QName(n).localname in _INLINE or etree.QName(n).namespace == NS_MATHML:
            run.append(n)
        else:
            if run:
                if any(not isinstance(r, str) or r.strip() for r in run):
                    result.append(_wrap(run))
                else:
                    result.extend(run)
                run = []
            result.append(n)
    if run and any(not isinstance(r, str) or r.strip() for r in run):
        result.append(_wrap(run))
    elif run:
        result.extend(run)
    return result


def _wrap(run: list) -> etree._Element:
    div = etree.Element(_Q + "div", {"class": _WRAP_CLASS})
    last = None
    for n in run:
        if isinstance(n, str):
            if last is None:
                div.text = (div.text or "") + n
            else:
                last.tail = (last.tail or "") + n
        else:
            div.append(n)
            last = n
    return div


def _convert_el(el) -> list:
    """One parsed HTML element as QTI XHTML (a list: unknown elements are unwrapped)."""
    if not isinstance(el.tag, str):
        return [el.tail] if el.tail else []
    tag = el.tag.lower()
    if tag == "math":
        return [_mathml(el)] + ([el.tail] if el.tail else [])
    if tag == "source" and (el.getparent() is None or el.getparent().tag not in ("audio", "video")):
        return [el.tail] if el.tail else []
    if tag not in _HTML:
        # Unknown to QTI's XHTML profile: keep its content, drop the element.
        out: list = [el.text] if el.text else []
        for c in el:
            out.extend(_convert_el(c))
        if el.tail:
            out.append(el.tail)
        return out
    new = etree.Element(_Q + tag)
    allowed = set(_HTML[tag]) | {"class", "dir"}
    for attr, value in el.attrib.items():  # source order, so a round trip keeps it
        if attr in allowed:
            new.set(attr, value)
        elif attr == "lang" and value:
            new.set(f"{{{NS_XML}}}lang", value)
    if el.get("data-gap") is not None:
        new.set("data-gap", el.get("data-gap"))  # replaced by an interaction before writing
    if tag == "img" and new.get("alt") is None:
        new.set("alt", "")
    if tag in ("img", "audio", "video", "source") and new.get("src") and "://" not in new.get("src") and not new.get("src").startswith("data:"):
        new.set("src", "../" + new.get("src"))
    if tag in _VOID:
        # libxml2's HTML parser nests what follows an HTML5 void element inside it: hoist it out.
        rest: list = [el.text] if el.text else []
        for c in el:
            rest.extend(_convert_el(c))
        return [new] + rest + ([el.tail] if el.tail else [])
    new.text = el.text
    last = None
    for c in el:
        for n in _convert_el(c):
            if isinstance(n, str):
                if last is None:
                    new.text = (new.text or "") + n
                else:
                    last.tail = (last.tail or "") + n
            else:
                new.append(n)
                last = n
    return [new] + ([el.tail] if el.tail else [])


def _mathml(el) -> etree._Element:
    new = etree.Element(_M + el.tag.lower())
    for k, v in el.attrib.items():
        if k != "xmlns" and ":" not in k:
            new.set(k, v)
    new.text = el.text
    for c in el:
        if isinstance(c.tag, str):
            sub = _mathml(c)
            sub.tail = c.tail
            new.append(sub)
    return new


# ---------------------------------------------------------------------------
# Test and manifest


def _test_xml(exam: dict[str, Any], item_files: dict[str, tuple[str, str]], used: set[str]) -> tuple[str, bytes, list[str]]:
    tid = _ncname(str(exam["identifier"]), set(), "test")
    path = f"tests/{tid}.xml"
    root = etree.Element(_Q + "qti-assessment-test", nsmap={None: NS_QTI3, "xsi": NS_XSI})
    root.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_QTI3} {ITEM_SCHEMA}")
    root.set("identifier", tid)
    root.set("title", str(exam.get("title") or tid))
    part = _q("qti-test-part", root, identifier="P1", navigation_mode="nonlinear", submission_mode="simultaneous")
    deps = []
    sec_ids: set[str] = set()
    ref_ids: set[str] = set()  # item ref identifiers are unique in the whole test
    for n, sec in enumerate(exam.get("sections") or [], start=1):
        sid = _ncname(str(sec.get("identifier") or f"S{n}"), sec_ids, "section")
        se = _q("qti-assessment-section", part, identifier=sid, title=str(sec.get("title") or sid), visible="true")
        if sec.get("select"):
            _q("qti-selection", se, select=str(int(sec["select"])), with_replacement="true" if sec.get("with_replacement") else None)
        if sec.get("shuffle") is not None:
            _q("qti-ordering", se, shuffle="true" if sec.get("shuffle") else "false")
        for ident in sec.get("item_identifiers") or []:
            if str(ident) not in item_files:
                raise QtiExportError("qti_export_invalid", f"exam section {sid}: item {ident!r} is not among the exported items")
            qid, ipath = item_files[str(ident)]
            _q("qti-assessment-item-ref", se, identifier=_ncname(qid, ref_ids, "ref"), href="../" + ipath)
            deps.append(_res_id("ITEM", qid))
    if exam.get("time_limit_s"):
        tl = _q("qti-time-limits", etree.Element("x"), max_time=_fmt(exam["time_limit_s"]))
        root.insert(0, tl)
    if not len(part):
        raise QtiExportError("qti_export_invalid", "the exam has no section")
    return path, etree.tostring(root, xml_declaration=True, encoding="UTF-8"), list(dict.fromkeys(deps))


def _item_resource(qid: str, path: str, media_paths: list[str], entry: dict[str, Any]) -> etree._Element:
    res = etree.Element(f"{{{NS_CP}}}resource", identifier=_res_id("ITEM", qid), type="imsqti_item_xmlv3p0", href=path)
    meta = (entry.get("item") or {}).get("metadata") or {}
    tags = [t for t in meta.get("tags") or [] if str(t).strip()]
    if tags or meta.get("language"):
        md = etree.SubElement(res, f"{{{NS_CP}}}metadata")
        lom = etree.SubElement(md, f"{{{NS_LOM}}}lom")
        general = etree.SubElement(lom, f"{{{NS_LOM}}}general")
        ident = etree.SubElement(general, f"{{{NS_LOM}}}identifier")
        etree.SubElement(ident, f"{{{NS_LOM}}}catalog").text = "exam-engine"
        etree.SubElement(ident, f"{{{NS_LOM}}}entry").text = str(entry.get("identifier"))
        title = etree.SubElement(general, f"{{{NS_LOM}}}title")
        etree.SubElement(title, f"{{{NS_LOM}}}string").text = (entry.get("item") or {}).get("title", "")
        if meta.get("language"):
            etree.SubElement(general, f"{{{NS_LOM}}}language").text = meta["language"]
        for t in tags:
            kw = etree.SubElement(general, f"{{{NS_LOM}}}keyword")
            etree.SubElement(kw, f"{{{NS_LOM}}}string").text = str(t)
    etree.SubElement(res, f"{{{NS_CP}}}file", href=path)
    for m in media_paths:
        etree.SubElement(res, f"{{{NS_CP}}}file", href=m)
    return res


def _manifest(resources: list[etree._Element], exam: dict | None) -> bytes:
    root = etree.Element(f"{{{NS_CP}}}manifest", nsmap={None: NS_CP, "imsmd": NS_LOM, "xsi": NS_XSI})
    root.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_CP} {CP_SCHEMA} {NS_LOM} https://purl.imsglobal.org/spec/md/v1p3/schema/xsd/imsmd_loose_v1p3p2.xsd")
    root.set("identifier", "MANIFEST-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(exam["identifier"]) if exam else "exam-engine-bank"))
    md = etree.SubElement(root, f"{{{NS_CP}}}metadata")
    etree.SubElement(md, f"{{{NS_CP}}}schema").text = "QTI Package"
    etree.SubElement(md, f"{{{NS_CP}}}schemaversion").text = "3.0.0"
    etree.SubElement(root, f"{{{NS_CP}}}organizations")
    res = etree.SubElement(root, f"{{{NS_CP}}}resources")
    for r in resources:
        res.append(r)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
