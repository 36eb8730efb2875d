"""What every step of one item's conversion shares: the context that collects the
report's reasons and the media, the skip/split signals, and small tree helpers."""

from __future__ import annotations

import re
from typing import Any

from item_bank.html import sanitize_html

#: our own namespace for the few facts QTI has no place for (docs/qti.md, "Extension")
EXT_NS = "urn:x-exam-engine:qti:1"

#: separator of the fragments sanitised together (an element the sanitiser keeps as written)
SPLIT_MARK = '<span data-gap="ee-split-9f2c"></span>'


class SkipItem(Exception):
    """The item cannot be imported; the message is the report's reason."""


class SplitItem(Exception):
    """Several block interactions: the item is imported as one item per interaction."""

    def __init__(self, interactions):
        super().__init__("split")
        self.interactions = interactions


class ItemContext:
    """Collects, while one item is converted, the report's reasons, its media and its HTML fragments."""

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
        joined = SPLIT_MARK.join(self.pending)
        clean = sanitize_reporting(joined, self)
        parts = clean.split(SPLIT_MARK)
        if len(parts) != len(self.pending):  # the parser moved a separator: fragment by fragment
            parts = [sanitize_html(h) for h in self.pending]
        parts = [tidy(p) for p in parts]
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


def element_children(el, tag: str | None = None) -> list:
    return [c for c in el if isinstance(c.tag, str) and (tag is None or c.tag == tag)]


def first_child(el, tag: str):
    for c in el:
        if c.tag == tag:
            return c
    return None


def _tag_names(html: str) -> set[str]:
    return set(re.findall(r"<([A-Za-z][A-Za-z0-9-]*)", html))


def sanitize_reporting(html: str, ctx: ItemContext) -> str:
    """sanitize_html, reporting the elements it removed (script, iframe, track...)."""
    clean = sanitize_html(html)
    removed = sorted(t.lower() for t in _tag_names(html) - _tag_names(clean))
    if removed:
        ctx.lose("HTML elements removed by the sanitiser: " + ", ".join(removed))
    return clean


def tidy(html: str) -> str:
    return html.strip()


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


INLINE_KINDS = {"qti-text-entry-interaction", "qti-inline-choice-interaction"}
