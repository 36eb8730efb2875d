"""Assembling a learner's form from an exam's sections: pure and seeded, so it is reproducible."""

from __future__ import annotations

import hashlib
import random
from typing import Mapping, Sequence

from item_bank.errors import ValidationFailed


def rng_for(seed: str) -> random.Random:
    """A random generator fixed by `seed` (the attempt's seed), identical on every machine."""
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def check_assemblable(sections: Sequence[Mapping], candidates: Mapping[str, Sequence[int]],
                      item_of: Mapping[int, int]) -> None:
    """Refuse (with the section named) a definition that cannot give every learner a full form."""
    problems: dict[str, list[str]] = {}
    fixed_items: set[int] = set()
    for sec in sections:
        if sec.get("items"):
            fixed_items |= {item_of[v] for v in candidates[sec["id"]]}
    for sec in sections:
        cands = candidates[sec["id"]]
        if sec.get("items"):
            continue
        distinct = {item_of[v] for v in cands} - fixed_items
        if len(distinct) < sec["draw"]:
            problems.setdefault(f"sections.{sec['id']}.draw", []).append(
                f"the pool holds {len(distinct)} usable published item(s) but the section draws {sec['draw']}")
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(f"the exam cannot be assembled: {first} {problems[first][0]}",
                               code="exam_not_assemblable", details=problems)


def assemble_form(sections: Sequence[Mapping], candidates: Mapping[str, Sequence[int]], item_of: Mapping[int, int],
                  seed: str) -> list[dict]:
    """The ordered form: [{"item_id", "version_id", "section_id"}]; no item twice across sections."""
    rng = rng_for(seed)
    used: set[int] = {item_of[v] for sec in sections if sec.get("items") for v in candidates[sec["id"]]}
    form: list[dict] = []
    for sec in sections:
        cands = list(candidates[sec["id"]])
        if sec.get("items"):
            chosen = cands
        else:
            pool = sorted(v for v in cands if item_of[v] not in used)
            chosen = rng.sample(pool, sec["draw"])
            used |= {item_of[v] for v in chosen}
        if sec.get("shuffle_items"):
            rng.shuffle(chosen)
        form += [{"item_id": item_of[v], "version_id": v, "section_id": sec["id"]} for v in chosen]
    return form
