"""The learner's view of an item: no keys, options shuffled reproducibly per attempt."""

from __future__ import annotations

import hashlib
import random
from typing import Any


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def delivery_view(item_id: int | str, content: dict, *, seed: str | None = None, shuffle: bool = True) -> dict[str, Any]:
    """What a learner's browser receives for an item: never `scoring` nor authoring metadata.

    `seed` (e.g. "<session id>:<item id>") makes the option order reproducible for an attempt.
    """
    inter = content.get("interaction") or {}
    view = {k: v for k, v in inter.items() if k != "shuffle"}
    if shuffle and seed is not None and inter.get("shuffle", True):
        rng = _rng(seed)
        for key in ("options", "left", "right"):
            if key in view:
                opts = list(view[key])
                rng.shuffle(opts)
                view[key] = opts
    return {
        "item_id": item_id,
        "type": content["type"],
        "title": content["title"],
        "stem": content["stem"],
        "interaction": view,
        "points": (content.get("scoring") or {}).get("points", 1),
        "estimated_time_s": (content.get("metadata") or {}).get("estimated_time_s"),
    }
