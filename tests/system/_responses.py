"""A response of the right shape for each item type, from an item's delivery view only (docs/protocol.md).

No imports beyond the standard library: the system tests, the delivery benchmark's clients (in their own
venv) and the in-process profiles all send these."""

from __future__ import annotations

from typing import Any


def answer_for(item: dict, variant: int = 0) -> Any:
    """A response of the right shape for a delivered item (from its delivery view only)."""
    inter, kind = item["interaction"], item["type"]
    if kind == "choice":
        return [inter["options"][variant % len(inter["options"])]["id"]]
    if kind == "text_entry":
        return f"answer {variant}"
    if kind == "numeric":
        return float(variant) + 0.5
    if kind == "extended_text":
        return f"An essay, draft {variant}."
    if kind == "order":
        ids = [o["id"] for o in inter["options"]]
        k = variant % len(ids)
        return ids[k:] + ids[:k]
    if kind == "match":
        return [[inter["left"][0]["id"], inter["right"][variant % len(inter["right"])]["id"]]]
    if kind == "inline_choice":
        return {g["id"]: g["options"][variant % len(g["options"])]["id"] for g in inter["gaps"]}
    raise ValueError(kind)
