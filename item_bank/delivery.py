"""The learner's view of an item: no keys, options shuffled reproducibly per attempt."""

from __future__ import annotations

import hashlib
import random
from typing import Any

#: Interaction lists whose order is shuffled per attempt (in this order, from one generator).
SHUFFLED_KEYS = ("options", "left", "right")


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def delivery_view(item_id: int | str, content: dict, *, seed: str | None = None, shuffle: bool = True) -> dict[str, Any]:
    """What a learner's browser receives for an item: never `scoring` nor authoring metadata.

    `seed` (e.g. "<session id>:<item id>") makes the option order reproducible for an attempt.
    """
    return personal_view(base_view(item_id, content), seed=seed, shuffle=shuffle)


def base_view(item_id: int | str, content: dict) -> tuple[dict[str, Any], bool]:
    """The view before any shuffling, and whether the item allows shuffling.

    It depends only on the item version, so callers may keep it (for a published version) and
    build each attempt's view from it with `personal_view`, which never changes it.
    """
    inter = content.get("interaction") or {}
    view = {
        "item_id": item_id,
        "type": content["type"],
        "title": content["title"],
        "stem": content["stem"],
        "interaction": {k: v for k, v in inter.items() if k != "shuffle"},
        "points": (content.get("scoring") or {}).get("points", 1),
        "estimated_time_s": (content.get("metadata") or {}).get("estimated_time_s"),
    }
    return view, bool(inter.get("shuffle", True))


def personal_view(base: tuple[dict[str, Any], bool], *, seed: str | None = None, shuffle: bool = True) -> dict[str, Any]:
    """A copy of a `base_view` with its options shuffled by `seed` (when shuffling applies)."""
    view, shufflable = base
    out = dict(view)
    inter = out["interaction"] = dict(view["interaction"])
    if shuffle and seed is not None and shufflable:
        rng = _rng(seed)
        for key in SHUFFLED_KEYS:
            if key in inter:
                opts = list(inter[key])
                rng.shuffle(opts)
                inter[key] = opts
    return out
