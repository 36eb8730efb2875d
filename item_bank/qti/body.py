"""QTI item bodies and choice contents to sanitised HTML, with media references
rewritten to bank-relative (package) paths."""

from __future__ import annotations

import re
from copy import deepcopy

from lxml import etree

from .safety import resolve_ref
from .context import ItemContext, element_children, first_child

_DROPPED_BLOCKS = {
    "qti-feedback-block": "feedback",
    "qti-feedback-inline": "feedback",
    "qti-template-block": "template-dependent content",
    "qti-template-inline": "template-dependent content",
    "qti-printed-variable": "printed template variables",
    "qti-stylesheet": "stylesheets",
    "qti-catalog-info": "catalog (accessibility) information",
}

BLOCKISH = {"div", "table", "ul", "ol", "blockquote", "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dl", "figure", "hr"}

_MEDIA_ATTRS = {"img": ("src",), "audio": ("src",), "video": ("src", "poster"), "source": ("src",), "track": ("src",), "object": ("data",), "a": ("href",)}


def remove_keep_tail(el) -> None:
    """Remove `el` but keep the text that followed it."""
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


def unwrap(el) -> None:
    """Replace `el` by its content (text and children) in place."""
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


def body_html(body, ctx: ItemContext) -> str:
    """The item body as a stem: interactions leave their prompt or a gap marker; returns a deferred fragment."""
    body = deepcopy(body)
    # Interactions first: each leaves its prompt (block) or a gap marker (inline).
    for inter in [el for el in body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]:
        tag = inter.tag
        if tag == "qti-inline-choice-interaction":
            _replace_with_gap(inter, inter.get("data-gap-id") or inter.get("response-identifier"))
        elif tag == "qti-text-entry-interaction":
            parent = inter.getparent()
            alone = not (parent.text or "").strip() and len(element_children(parent)) == 1 and not (inter.tail or "").strip()
            if alone and parent is not body:
                grand = parent
                while grand.getparent() is not body and len(element_children(grand.getparent())) == 1 and not (grand.getparent().text or "").strip() and not (grand.tail or "").strip():
                    grand = grand.getparent()
                remove_keep_tail(grand)
            elif alone:
                remove_keep_tail(inter)
            else:
                _replace_with_gap(inter, inter.get("response-identifier"))
        elif tag == "qti-hottext-interaction":
            for hot in list(inter.iter("qti-hottext")):
                hot.tag = "mark"
                for a in list(hot.attrib):
                    del hot.attrib[a]
            prompt = first_child(inter, "qti-prompt")
            if prompt is not None:
                prompt.tag = "p" if not any(isinstance(c.tag, str) and c.tag in BLOCKISH for c in prompt) else "div"
            inter.tag = "div"
            for a in list(inter.attrib):
                del inter.attrib[a]
            unwrap(inter)
        elif tag == "qti-gap-match-interaction":
            prompt = first_child(inter, "qti-prompt")
            for t in element_children(inter, "qti-gap-text"):
                remove_keep_tail(t)
            for gap in list(inter.iter("qti-gap")):
                _replace_with_gap(gap, gap.get("data-gap-id") or gap.get("identifier"))
            if prompt is not None:
                prompt.tag = "p" if not any(c.tag in BLOCKISH for c in prompt) else "div"
            inter.tag = "div"
            for a in list(inter.attrib):
                del inter.attrib[a]
            unwrap(inter)
        else:
            prompt = first_child(inter, "qti-prompt")
            if prompt is not None:
                new = etree.Element("p" if not any(isinstance(c.tag, str) and c.tag in BLOCKISH for c in prompt) else "div")
                new.text = prompt.text
                for c in list(prompt):
                    new.append(c)
                new.tail = inter.tail
                inter.getparent().replace(inter, new)
            else:
                remove_keep_tail(inter)
    for el in [e for e in body.iter() if isinstance(e.tag, str) and e is not body]:
        if not _attached(el, body):
            continue
        tag = el.tag
        if tag in _DROPPED_BLOCKS:
            ctx.lose(f"{_DROPPED_BLOCKS[tag]} not imported (no place for it in our item format)")
            remove_keep_tail(el)
        elif tag == "qti-rubric-block":
            views = (el.get("view") or "candidate").split()
            if "candidate" in views:
                _unwrap_deep(el)
            else:
                ctx.note(f"rubric block for {', '.join(views)} left out of the learner's stem")
                remove_keep_tail(el)
        elif tag in ("qti-content-body",):
            unwrap(el)
        elif tag == "div" and el.get("class") == "ee-wrap":
            unwrap(el)  # our exporter's wrapper of inline content
        elif tag.startswith("xi-"):
            ctx.lose("XInclude (shared content) not resolved")
            remove_keep_tail(el)
        elif tag.startswith("qti-"):
            ctx.lose(f"<{tag}> not imported")
            unwrap(el)
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


def _unwrap_deep(el) -> None:
    for c in list(el):
        if c.tag == "qti-content-body":
            unwrap(c)
    unwrap(el)


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


def inner_html(el, ctx: ItemContext) -> str:
    """The content of a choice (or gap text) as HTML; returns a deferred fragment."""
    el = deepcopy(el)
    for c in [c for c in el.iter() if isinstance(c.tag, str) and c is not el]:
        if not _attached(c, el):
            continue
        if c.tag in _DROPPED_BLOCKS:
            ctx.lose(f"{_DROPPED_BLOCKS[c.tag]} inside an option not imported")
            remove_keep_tail(c)
        elif c.tag.startswith("qti-"):
            unwrap(c)
    _rewrite_media(el, ctx)
    for c in el.iter():
        if isinstance(c.tag, str) and ("xml-lang" in c.attrib or "xml-base" in c.attrib):
            _html_attrs(c)
    return ctx.defer(_serialize_children(el))


def _rewrite_media(tree, ctx: ItemContext) -> None:
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
            remove_keep_tail(el)
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


def _object_to_media(el, ctx: ItemContext) -> None:
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
        unwrap(el)
