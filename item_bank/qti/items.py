"""One QTI item (normalised tree) into our item format: interaction builders,
declarations, and the per-item report entry."""

from __future__ import annotations

import json
import posixpath
import re
from copy import deepcopy
from typing import Any

from lxml import etree

from . import rp
from .body import body_html, inner_html, remove_keep_tail
from .context import EXT_NS, INLINE_KINDS, ItemContext, SkipItem, SplitItem, element_children, escape_text, first_child
from .model import IMPORTED, PARTIAL, SKIPPED, ImportedItem, ReportEntry
from .normalize import normalize, qti_version
from .processing import choose_scoring

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

_OPTION_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def convert_item(root: etree._Element | None, path: str, files: dict[str, bytes], meta: dict | None = None) -> list[tuple[ImportedItem | None, ReportEntry]]:
    """Convert one item document into (item or None, report entry) pairs.

    One pair in general; one per interaction when a QTI item holds several
    block interactions (a passage with several questions), each part keeping
    the shared content and its own interaction.
    """
    meta = meta or {}
    if root is None or meta.get("problem"):
        problem = meta.get("problem", "missing")
        reason = {"missing": "listed in the manifest but absent from the package",
                  "qti1": "a QTI 1.2 document: not supported (export QTI 2.1, 2.2 or 3.0)"}.get(problem, "listed in the manifest but not a QTI item")
        return [(None, ReportEntry(meta.get("resource") or path, SKIPPED, [reason], source_path=path))]
    version = qti_version(root) or "3.0"
    ext = {k: root.get(f"{{{EXT_NS}}}{k}") for k in ("scoring", "interaction", "metadata", "version", "type", "identifier")}
    root = normalize(root)
    identifier = ext.get("identifier") or root.get("identifier") or posixpath.splitext(posixpath.basename(path))[0]
    try:
        return [_convert_one(root, identifier, path, files, meta, ext, version)]
    except SplitItem as split:
        body = first_child(root, "qti-item-body")
        order = [el for el in body.iter() if el in split.interactions]
        n = len(order)
        out = []
        for k, inter in enumerate(order):
            part = deepcopy(root)
            part_body = first_child(part, "qti-item-body")
            copies = [el for el in part_body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]
            answers = _known_answers(part)
            for j, other in enumerate(copies):
                if j == k:
                    continue
                if other.tag == "qti-text-entry-interaction":
                    # A cloze with typed gaps: one item per gap, the other gaps show their answers.
                    filled = etree.Element("strong")
                    filled.text = answers.get(other.get("response-identifier"), "_____")
                    filled.tail = other.tail
                    other.getparent().replace(other, filled)
                else:
                    remove_keep_tail(other)
            rid = inter.get("response-identifier") or str(k + 1)
            part.set("title", f"{root.get('title') or identifier} ({k + 1}/{n})")
            out.append(_convert_one(part, f"{identifier}-{rid}", path, files, meta, {}, version, part=(k + 1, n), whole=identifier))
        return out


def _known_answers(root) -> dict[str, str]:
    """Best answer of each string response (correct value, else best mapped key), to fill other gaps."""
    out = {}
    decls, _, _ = read_declarations(root)
    for d in decls.values():
        if d.correct:
            out[d.identifier] = d.correct[0]
        elif d.mapping:
            out[d.identifier] = max(d.mapping.items(), key=lambda kv: kv[1])[0]
    return out


def _convert_one(root, identifier, path, files, meta, ext, version, part=None, whole=None) -> tuple[ImportedItem | None, ReportEntry]:
    ctx = ItemContext(path, files)
    ctx.part = part
    if part:
        ctx.lose(f"part {part[0]} of {part[1]} of QTI item {whole!r}, which has {part[1]} interactions: imported as one item per interaction, sharing its content"
                 + (" (in a cloze, the other gaps show their answers)" if root.find(".//qti-text-entry-interaction") is not None else ""))
    try:
        item = _convert(root, identifier, ctx, meta, ext)
    except SkipItem as exc:
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


def _processing_constants(root, rid: str) -> list[list[str]]:
    """Every constant the processing compares `rid` with (match, string-match, equal), as value lists."""
    rproc = first_child(root, "qti-response-processing")
    out: list[list[str]] = []
    if rproc is None:
        return out
    for cmp in rproc.iter("qti-match", "qti-string-match", "qti-equal", "qti-member", "qti-contains"):
        args = element_children(cmp)
        if len(args) != 2 or not any(a.tag == "qti-variable" and a.get("identifier") == rid for a in args):
            continue
        const = next((a for a in args if not (a.tag == "qti-variable" and a.get("identifier") == rid)), None)
        if const is None:
            continue
        if const.tag == "qti-base-value":
            out.append([const.text or ""])
        elif const.tag in ("qti-multiple", "qti-ordered") and all(c.tag == "qti-base-value" for c in element_children(const)):
            out.append([c.text or "" for c in element_children(const)])
    return out


def _key_from_processing(root, rid: str) -> list[str]:
    """The constant the processing first compares `rid` with, as values ([] when none)."""
    consts = _processing_constants(root, rid)
    return consts[0] if consts else []


def read_declarations(root) -> tuple[dict[str, rp.Declaration], dict[str, Any], dict[str, Any]]:
    """Response declarations (as rp.Declaration), outcome defaults and outcome attributes of an item."""
    decls: dict[str, rp.Declaration] = {}
    for rd in element_children(root, "qti-response-declaration"):
        d = rp.Declaration(rd.get("identifier"), rd.get("cardinality", "single"), rd.get("base-type", "identifier"))
        cr = first_child(rd, "qti-correct-response")
        if cr is not None:
            d.correct = [(v.text or "") for v in element_children(cr, "qti-value")]
        mp = first_child(rd, "qti-mapping")
        if mp is not None:
            d.mapping = {}
            for me in element_children(mp, "qti-map-entry"):
                key = me.get("map-key", "")
                d.mapping[key] = float(me.get("mapped-value", "0"))
                d.mapping_case_sensitive[key] = me.get("case-sensitive", "true") != "false"
            d.default_value = float(mp.get("default-value", "0"))
            d.lower_bound = float(mp.get("lower-bound")) if mp.get("lower-bound") else None
            d.upper_bound = float(mp.get("upper-bound")) if mp.get("upper-bound") else None
        d.has_area_mapping = first_child(rd, "qti-area-mapping") is not None
        if not d.correct:
            d.correct = _key_from_processing(root, d.identifier)
            d.key_from_processing = bool(d.correct)
        decls[d.identifier] = d
    outcomes: dict[str, Any] = {}
    outcome_attrs: dict[str, Any] = {}
    for od in element_children(root, "qti-outcome-declaration"):
        ident = od.get("identifier")
        default = None
        dv = first_child(od, "qti-default-value")
        if dv is not None:
            vals = [rp.parse_scalar(v.text or "", od.get("base-type", "string")) for v in element_children(dv, "qti-value")]
            default = rp.container(vals, od.get("cardinality", "single"))
        if default is None and od.get("base-type") in ("float", "integer") and od.get("cardinality", "single") == "single":
            default = 0.0
        outcomes[ident] = default
        outcome_attrs[ident] = dict(od.attrib)
    return decls, outcomes, outcome_attrs


def _convert(root, identifier: str, ctx: ItemContext, meta: dict, ext: dict) -> dict[str, Any]:
    """The item dict of docs/items.md for a normalised QTI item, or SkipItem/SplitItem."""
    title = (root.get("title") or identifier).strip()[:200] or identifier[:200]
    if root.get("adaptive") == "true":
        raise SkipItem("adaptive item (several attempts with changing feedback and scores): our items are scored once")
    if first_child(root, "qti-template-declaration") is not None or first_child(root, "qti-template-processing") is not None:
        raise SkipItem("template item (randomised values cloned per attempt): not supported")
    body = first_child(root, "qti-item-body")
    if body is None:
        raise SkipItem("no qti-item-body")
    interactions = [el for el in body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]
    unsupported = [el.tag for el in interactions if el.tag not in SUPPORTED]
    if unsupported:
        what = ", ".join(sorted({UNSUPPORTED_REASON.get(t, t) for t in unsupported}))
        raise SkipItem(f"{what}: no item type of ours can hold it")
    if not interactions:
        raise SkipItem("no interaction: nothing to answer")
    kinds = {el.tag for el in interactions}
    decls, outcomes, outcome_attrs = read_declarations(root)
    if len(interactions) > 1 and kinds != {"qti-inline-choice-interaction"}:
        if (not kinds & INLINE_KINDS or kinds == {"qti-text-entry-interaction"}) and not ctx.part:
            raise SplitItem(interactions)
        if kinds == {"qti-text-entry-interaction"}:
            raise SkipItem(f"{len(interactions)} text entries in one item: our text_entry holds one answer (split it into several items)")
        raise SkipItem("several interactions ({}) in one item: our items have one interaction (inline choices excepted)".format(", ".join(sorted(k[4:] for k in kinds))))
    for el in element_children(root, "qti-modal-feedback")[:1]:
        ctx.lose("modal feedback not imported (our items have no feedback)")
    if first_child(root, "qti-assessment-stimulus-ref") is not None:
        ctx.lose("shared stimulus (qti-assessment-stimulus-ref) not imported")
    kind = next(iter(kinds))
    builder = _BUILDERS[kind]
    item_type, interaction, candidates, probes = builder(interactions, decls, ctx, body)
    for inter in interactions:
        d = decls.get(inter.get("response-identifier"))
        if d is not None and d.key_from_processing:
            ctx.note(f"no correct response declared for {d.identifier}: the key is the value the response processing compares it with")
    scoring = choose_scoring(root, item_type, interactions, decls, outcomes, outcome_attrs, candidates, probes, ctx, ext)
    stem = body_html(body, ctx)
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
        item["stem"] = f"<p>{escape_text(title)}</p>"
        ctx.note("empty item body: the title is used as the stem")
    return item


# Interaction builders return (type, interaction dict, candidate scorings, probes): a
# candidate is a function points -> scoring dict; a probe pairs one of our responses
# with the QTI response variables it stands for (see processing.choose_scoring).


def _check_id(ident: str | None, what: str) -> str:
    if not ident or not _OPTION_ID.match(ident):
        raise SkipItem(f"{what} identifier {ident!r} is not usable as one of our option ids (^[A-Za-z_][A-Za-z0-9_.-]{{0,63}}$)")
    return ident


def _options(elements, ctx: ItemContext, what: str) -> list[dict[str, str]]:
    out = []
    seen = set()
    for el in elements:
        ident = _check_id(el.get("identifier"), what)
        if ident in seen:
            raise SkipItem(f"{what} identifier {ident!r} appears twice")
        seen.add(ident)
        out.append({"id": ident, "html": inner_html(el, ctx)})
    return out


def _decl_for(inter, decls) -> rp.Declaration:
    rid = inter.get("response-identifier")
    d = decls.get(rid)
    if d is None:
        raise SkipItem(f"interaction's response {rid!r} has no response declaration")
    return d


def _build_hottext(inters, decls, ctx, body):
    """Hottext -> choice: the selectable phrases become the options, highlighted in the text."""
    ctx.lose("hottext imported as choice: the selectable phrases are options listed after the text (marked in it), not clickable in place")
    return _build_choice(inters, decls, ctx, body, choices=list(inters[0].iter("qti-hottext")))


def _build_choice(inters, decls, ctx, body, choices=None):
    inter = inters[0]
    d = _decl_for(inter, decls)
    if choices is None:
        choices = element_children(inter, "qti-simple-choice")
        if inter.get("shuffle") == "true" and any(c.get("fixed") == "true" for c in choices):
            ctx.note("choices fixed in place under shuffling: our options shuffle all or none")
    options = _options(choices, ctx, "choice")
    if not options:
        raise SkipItem("choice interaction without choices")
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
        raise SkipItem("no correct response (and no positive mapping): the key is unknown")

    def make(rule):
        def cand(points):
            s = {"points": points, "correct": correct, "rule": rule}
            if rule == "map":
                s.update(_map_fields(d))
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
    for const in _processing_constants(body.getparent(), d.identifier):  # e.g. alternative keys
        const = [c.strip() for c in const if c.strip() in ids]
        if const and (max_choices == 0 or len(const) <= max_choices) and (d.cardinality != "single" or len(const) == 1):
            probes.append(const)
    rid = d.identifier
    conv = (lambda r: {rid: (r[0] if r else None)}) if d.cardinality == "single" else (lambda r: {rid: rp.Multiple(r) if r else None})
    return "choice", interaction, cands, [(p, conv(p)) for p in probes]


def _map_fields(d: rp.Declaration) -> dict[str, Any]:
    """Our map rule's fields from a QTI mapping."""
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
    options = _options(element_children(inter, "qti-simple-choice"), ctx, "order choice")
    ids = [o["id"] for o in options]
    correct = [c.strip() for c in d.correct]
    if sorted(correct) != sorted(ids):
        if not correct:
            raise SkipItem("no correct order declared")
        raise SkipItem("the correct order does not list every choice exactly once (partial orders are not supported)")
    if inter.get("min-choices") or inter.get("max-choices"):
        ctx.lose("min-choices/max-choices of the order interaction ignored: learners order all choices")
    interaction = {"options": options, "shuffle": inter.get("shuffle", "false") == "true"}
    cands = [lambda p: {"points": p, "correct_order": correct, "rule": "exact"},
             lambda p: {"points": p, "correct_order": correct, "rule": "pairs"}]
    probes = [list(correct), list(reversed(correct))]
    probes += [[c.strip() for c in const] for const in _processing_constants(body.getparent(), d.identifier)
               if sorted(c.strip() for c in const) == sorted(ids)]
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
    sets = element_children(inter, "qti-simple-match-set")
    if len(sets) != 2:
        raise SkipItem("match interaction without exactly two match sets")
    left = _options(element_children(sets[0], "qti-simple-associable-choice"), ctx, "match choice")
    right = _options(element_children(sets[1], "qti-simple-associable-choice"), ctx, "match choice")
    left_ids, right_ids = [o["id"] for o in left], [o["id"] for o in right]
    max_assoc = max([int(c.get("match-max", "1")) for c in element_children(sets[0], "qti-simple-associable-choice")] + [1])
    if max_assoc == 0:
        max_assoc = len(right_ids)
    interaction = {"left": left, "right": right, "max_associations": max_assoc, "shuffle": inter.get("shuffle", "false") == "true"}
    pairs = [v.split() for v in d.correct if len(v.split()) == 2]
    if not pairs and d.mapping:
        pairs = [k.split() for k, v in d.mapping.items() if v > 0 and len(k.split()) == 2]
    pairs = [p for p in pairs if p[0] in left_ids and p[1] in right_ids]
    if not pairs:
        raise SkipItem("no correct pairs between the two match sets")
    return _pair_item(d, interaction, pairs, left_ids, right_ids, directed=True)


def _pair_item(d, interaction, pairs, left_ids, right_ids, directed: bool):
    def make(rule):
        def cand(points):
            s = {"points": points, "pairs": pairs, "rule": rule}
            if rule == "map":
                s.update(_map_fields(d))
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
    choices = _options(element_children(inter, "qti-simple-associable-choice"), ctx, "associate choice")
    ids = [o["id"] for o in choices]
    pairs = [v.split() for v in d.correct if len(v.split()) == 2]
    if not pairs and d.mapping:
        pairs = [k.split() for k, v in d.mapping.items() if v > 0 and len(k.split()) == 2]
    pairs = [p for p in pairs if p[0] in ids and p[1] in ids]
    if not pairs:
        raise SkipItem("no correct pairs for the associate interaction")
    ctx.lose("associate (unordered pairs) imported as match with the choices on both sides: a pair given in the other order than the key's scores as wrong")
    interaction = {"left": choices, "right": deepcopy(choices), "max_associations": max([int(c.get("match-max", "1")) for c in element_children(inter, "qti-simple-associable-choice")] + [1]), "shuffle": inter.get("shuffle", "false") == "true"}
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
        options = _options(element_children(inter, "qti-inline-choice"), ctx, "inline choice")
        if d.cardinality != "single":
            raise SkipItem(f"inline choice {gid} is not single cardinality")
        key = next((c.strip() for c in d.correct if c.strip() in {o["id"] for o in options}), None)
        if key is None and d.mapping:
            best = max(d.mapping.items(), key=lambda kv: kv[1], default=None)
            key = best[0] if best and best[1] > 0 else None
        if key is None:
            raise SkipItem(f"gap {gid} has no correct response")
        if gid in correct:
            raise SkipItem(f"two inline choices answer the same response {gid}")
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
    if element_children(inter, "qti-gap-img"):
        raise SkipItem("gap match with image choices (qti-gap-img): our inline choices hold text")
    texts = element_children(inter, "qti-gap-text")
    options = _options(texts, ctx, "gap text")
    text_ids = {o["id"] for o in options}
    gap_els = [g for g in inter.iter("qti-gap")]
    if not gap_els:
        raise SkipItem("gap match without gaps")
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
        raise SkipItem("no correct pairs for the gap match")
    if unkeyed:
        raise SkipItem(f"gaps without a correct text ({', '.join(unkeyed)}): our inline choices key every gap")
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
        raise SkipItem("text entry with a multiple/ordered response")
    accepted_map: dict[str, float | None] = {}
    if d.mapping:
        for k, v in sorted(d.mapping.items(), key=lambda kv: -kv[1]):
            if v > 0:
                accepted_map.setdefault(k, v)
    for c in d.correct:
        accepted_map.setdefault(c, None)
    if not accepted_map:
        raise SkipItem("text entry without a correct response or positive mapping")
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
    consts = [c[0] for c in _processing_constants(body.getparent(), d.identifier) if len(c) == 1]
    probes = [v for v in accepted_map] + [v.upper() for v in accepted_map] + [v.lower() for v in accepted_map] + consts + ["zz-not-an-answer"]
    return "text_entry", interaction, cands, [(p, {rid: p}) for p in dict.fromkeys(probes)]


def _fix_scores(acc, pts):
    for a in acc:
        if "score" in a and a["score"] == pts:
            del a["score"]
    return acc


def _numeric(inter, d, ctx, body):
    if d.cardinality != "single":
        raise SkipItem("numeric text entry with a multiple response")
    value = None
    if d.correct:
        value = float(d.correct[0])
    tolerance, mode = 0.0, "absolute"
    root = body.getparent()
    rproc = first_child(root, "qti-response-processing")
    for eq in (rproc.iter("qti-equal") if rproc is not None else []):
        args = element_children(eq)
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
        raise SkipItem("numeric entry without a correct value")
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
