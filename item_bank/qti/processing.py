"""From QTI response processing to our scoring rules.

Templates run as their equivalent processing trees; everything goes through
the interpreter of rp.py, and a candidate rule is kept only when it gives the
same score as QTI on every probe response (docs/qti.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

from . import rp
from .context import ItemContext, SkipItem, element_children, first_child

TEMPLATE_NAMES = ("match_correct", "map_response_point", "map_response", "cc2_match_basic", "cc2_match", "cc2_map_response")


def template_name(rproc) -> str | None:
    """The standard template a qti-response-processing names (match_correct, map_response...), or its URI."""
    uri = (rproc.get("template") or rproc.get("template-location") or "").strip().lower()
    if not uri:
        return None
    tail = uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")
    return tail if tail in TEMPLATE_NAMES else uri


def template_tree(name: str, rid: str):
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


def choose_scoring(root, item_type, inters, decls, outcomes, outcome_attrs, candidates, probes, ctx: ItemContext, ext) -> dict[str, Any]:
    """Our scoring for the item: the first candidate rule that scores every probe as the QTI processing does."""
    score_attrs = outcome_attrs.get("SCORE", {})
    if item_type == "extended_text":
        points = float(score_attrs.get("normal-maximum") or outcome_attrs.get("MAXSCORE", {}).get("normal-maximum") or 1) or 1.0
        scoring = {"points": points, "rubric": _rubric(root, points, ctx)}
        return _merge_ext(scoring, ext, item_type, ctx)
    rproc = first_child(root, "qti-response-processing")
    rid = inters[0].get("response-identifier")
    tree = None
    unknown_template = False
    if rproc is not None:
        name = template_name(rproc)
        if name == "map_response_point":
            raise SkipItem("map_response_point (area mapping of points on an image): none of our types answers with a point")
        if name in TEMPLATE_NAMES:
            # Templates process RESPONSE; a lone interaction named otherwise is read leniently.
            tree = template_tree(name, "RESPONSE" if ctx.part else rid)
            if name.startswith("cc2"):
                ctx.note(f"response processing template {name} read as its standard equivalent")
        elif name and len(element_children(rproc)) == 0:
            ctx.lose(f"unknown response processing template {name!r}: scored all-or-nothing against the correct response")
            unknown_template = True
        if tree is None and len(element_children(rproc)):
            tree = rproc
    if tree is None:
        if not unknown_template:
            ctx.lose("no response processing: scored all-or-nothing against the declared correct response")
        scoring = candidates[0](1.0) if item_type not in ("choice", "match") else _first_non_map(candidates)(1.0)
        return _merge_ext(scoring, ext, item_type, ctx)
    interp = rp.Interpreter(decls, {**outcomes, "SCORE": outcomes.get("SCORE", 0.0) or 0.0, **({"MAXSCORE": outcomes["MAXSCORE"]} if "MAXSCORE" in outcomes else {})})
    try:
        if ctx.part and probes:
            # One part of a split item: the other responses hold their correct answers, and the
            # part's score is what its own response adds to the score without it.
            own = set(probes[0][1])
            others = {i: rp.container([rp.parse_scalar(v, d.base_type) for v in d.correct], d.cardinality)
                      for i, d in decls.items() if i not in own and d.correct}
            base = _score_of(interp.run(tree, {**others, **{i: None for i in own}}))
            qti_scores = [(ours, _score_of(interp.run(tree, {**others, **qvars})) - base) for ours, qvars in probes]
        else:
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
        bad = next(((ours, s) for ours, s in qti_scores if not abs(rp.reference_score(item_type, scoring, ours) - s) <= 1e-9), None)
        if bad is None:
            return _merge_ext(scoring, ext, item_type, ctx)
        if mismatch is None:
            mismatch = (scoring, bad)
    scoring, (resp, qscore) = mismatch
    fallback = _first_non_map(candidates)(points)
    if lowest < 0:
        fallback["floor"] = lowest
    ctx.lose(
        "response processing not reproduced by our rules (for the response {} QTI gives {:g}, our {} gives {:g}); imported with {}".format(
            json.dumps(resp), qscore, f"rule {scoring['rule']!r}" if scoring.get("rule") else f"{item_type} key", rp.reference_score(item_type, scoring, resp),
            f"rule {fallback['rule']!r}" if fallback.get("rule") else "the declared key")
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


def _rubric(root, points: float, ctx: ItemContext) -> dict[str, Any]:
    body = first_child(root, "qti-item-body")
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


def _merge_ext(scoring: dict, ext: dict, item_type: str, ctx: ItemContext) -> dict:
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
    # Only the fields docs/items.md defines for the type; the bank's schema validates their values.
    allowed = _COMMON_FIELDS | _TYPE_FIELDS[item_type]
    return {k: v for k, v in extra.items() if k in allowed}


_COMMON_FIELDS = {"points", "floor", "negative_marking", "weight"}
_TYPE_FIELDS = {
    "choice": {"correct", "rule", "mapping", "default_value", "lower_bound", "upper_bound"},
    "text_entry": {"accepted", "case_sensitive", "normalize_whitespace"},
    "numeric": {"value", "tolerance", "tolerance_mode"},
    "extended_text": {"rubric"},
    "order": {"correct_order", "rule"},
    "match": {"pairs", "rule", "mapping", "default_value", "lower_bound", "upper_bound"},
    "inline_choice": {"correct", "rule"},
}
