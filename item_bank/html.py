"""Sanitising authored HTML (stems, options, feedback) with nh3, MathML allowed.

Everything an author or an import writes goes through `sanitize_html` before it
is stored, so what reaches a learner's browser can never run script.
"""

from __future__ import annotations

import nh3

#: Presentation MathML elements (MathML Core plus the common legacy ones).
MATHML_TAGS = frozenset({
    "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt",
    "mroot", "mstyle", "merror", "mpadded", "mphantom", "mfenced", "menclose",
    "msub", "msup", "msubsup", "munder", "mover", "munderover", "mmultiscripts",
    "mprescripts", "none", "mtable", "mtr", "mtd", "mlabeledtr", "semantics",
    "annotation",
})
MATHML_ATTRIBUTES = frozenset({
    "display", "mathvariant", "mathsize", "mathcolor", "mathbackground", "dir",
    "displaystyle", "scriptlevel", "fence", "separator", "stretchy", "symmetric",
    "largeop", "movablelimits", "accent", "accentunder", "lspace", "rspace",
    "linethickness", "columnalign", "rowalign", "columnspan", "rowspan",
    "notation", "encoding", "open", "close", "separators", "width", "height",
    "depth", "xmlns",
})

_TAGS = set(nh3.ALLOWED_TAGS) | MATHML_TAGS | {"figure", "figcaption", "audio", "video", "source"}
_TAGS -= {"map", "area"}
_ATTRIBUTES: dict[str, set[str]] = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
_GENERIC = {"lang", "dir", "title", "class", "data-gap", "aria-label", "aria-describedby", "role"}
_ATTRIBUTES["*"] = _ATTRIBUTES.get("*", set()) | _GENERIC
_ATTRIBUTES["img"] = _ATTRIBUTES.get("img", set()) | {"src", "alt", "width", "height"}
_ATTRIBUTES["audio"] = {"src", "controls"}
_ATTRIBUTES["video"] = {"src", "controls", "width", "height", "poster"}
_ATTRIBUTES["source"] = {"src", "type"}
_ATTRIBUTES["td"] = _ATTRIBUTES.get("td", set()) | {"colspan", "rowspan"}
_ATTRIBUTES["th"] = _ATTRIBUTES.get("th", set()) | {"colspan", "rowspan", "scope"}
for _tag in MATHML_TAGS:
    _ATTRIBUTES[_tag] = _ATTRIBUTES.get(_tag, set()) | set(MATHML_ATTRIBUTES)

#: Relative URLs (bank media) and https/http/data:image only; never javascript:.
_URL_SCHEMES = {"http", "https", "mailto", "data"}


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # data: URLs only for images, and never SVG (SVG can carry script).
    if attr in ("src", "href", "poster") and value.strip().lower().startswith("data:"):
        v = value.strip().lower()
        if tag == "img" and v.startswith(("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")):
            return value
        return None
    return value


_OPTIONS = dict(tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer",
                attribute_filter=_attribute_filter, strip_comments=True)
# Built once: nh3.clean() rebuilds its allow-lists on every call (about 25 times slower).
_CLEANER = nh3.Cleaner(**_OPTIONS) if hasattr(nh3, "Cleaner") else None


def sanitize_html(html: str) -> str:
    """Return `html` with every element, attribute and URL not on the allow-list removed."""
    if not html:
        return ""
    if _CLEANER is not None:
        return _CLEANER.clean(html)
    return nh3.clean(html, **_OPTIONS)


def is_clean(html: str) -> bool:
    """True when sanitising would not change `html` (used to report what an import altered)."""
    return sanitize_html(html) == html
