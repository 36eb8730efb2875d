"""Random items of every type and random valid responses (batch tests and the benchmark).

No pytest import here: benchmarks/bench_scoring.py uses it in a venv without pytest.
"""

from __future__ import annotations

import random


def opts(ids):
    return [{"id": i, "html": i} for i in ids]


def common(rng):
    return {"points": rng.choice([1, 2, 3.5]), "floor": rng.choice([0, 0, -1, -2]),
            "negative_marking": rng.choice([0, 0, 0.25, 1]), "weight": rng.choice([1, 2])}


def random_item(rng: random.Random, with_interaction=True):
    t = rng.choice(["choice", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice"])
    if t == "choice":
        ids = [f"o{i}" for i in range(rng.randint(2, 7))]
        correct = rng.sample(ids, rng.randint(1, len(ids)))
        rule = rng.choice(["all_or_nothing", "per_option", "per_option_penalty", "map"])
        s = {**common(rng), "correct": correct, "rule": rule}
        if rule == "map":
            s["mapping"] = {i: rng.choice([-1, -0.5, 0.5, 1, 2]) for i in rng.sample(ids, rng.randint(1, len(ids)))}
            s["default_value"] = rng.choice([0, -0.25])
            if rng.random() < 0.5:
                s["lower_bound"] = -0.5
            if rng.random() < 0.5:
                s["upper_bound"] = 1.5
        inter = {"options": opts(ids), "max_choices": 0}
        return t, s, inter
    if t == "text_entry":
        s = {**common(rng), "accepted": [{"value": "Paris"}, {"value": "paris  france", "score": 0.5}],
             "case_sensitive": rng.random() < 0.3, "normalize_whitespace": rng.random() < 0.7}
        return t, s, {}
    if t == "numeric":
        return t, {**common(rng), "value": rng.choice([3.14, -200, 0]), "tolerance": rng.choice([0, 0.01, 0.05]),
                   "tolerance_mode": rng.choice(["absolute", "relative"])}, {"unit": "m"}
    if t == "extended_text":
        return t, {**common(rng), "rubric": {"criteria": [{"id": "c", "levels": [{"points": 0}, {"points": 2}]}]}}, {}
    if t == "order":
        ids = [f"o{i}" for i in range(rng.randint(1, 7))]
        key = ids[:]
        rng.shuffle(key)
        return t, {**common(rng), "correct_order": key, "rule": rng.choice(["exact", "pairs"])}, {"options": opts(ids)}
    if t == "match":
        left, right = [f"l{i}" for i in range(rng.randint(1, 4))], [f"r{i}" for i in range(rng.randint(1, 4))]
        pairs = [[l, rng.choice(right)] for l in left]
        rule = rng.choice(["per_pair", "per_pair_penalty", "all_or_nothing", "map"])
        s = {**common(rng), "pairs": pairs, "rule": rule}
        if rule == "map":
            s["mapping"] = {f"{l} {r}": 1.0 for l, r in pairs}
            s["default_value"] = -0.5
            s["lower_bound"] = 0
        return t, s, {"left": opts(left), "right": opts(right), "max_associations": 0}
    gaps = [{"id": f"g{i}", "options": opts([f"g{i}o{j}" for j in range(3)])} for i in range(rng.randint(1, 4))]
    key = {g["id"]: rng.choice(g["options"])["id"] for g in gaps}
    return t, {**common(rng), "correct": key, "rule": rng.choice(["per_gap", "all_or_nothing"])}, {"gaps": gaps}


def random_response(rng: random.Random, t, s, inter):
    if rng.random() < 0.1:
        return None
    if t == "choice":
        ids = [o["id"] for o in inter["options"]]
        return rng.sample(ids, rng.randint(0, len(ids)))
    if t == "text_entry":
        return rng.choice(["Paris", " PARIS ", "paris france", "paris  france", "London", "", "Paris,"])
    if t == "numeric":
        return s["value"] + rng.choice([0, 0.001, 0.01, 0.5, -3, 10])
    if t == "extended_text":
        return rng.choice(["an essay", "  "])
    if t == "order":
        ids = [o["id"] for o in inter["options"]]
        rng.shuffle(ids)
        return ids
    if t == "match":
        allp = [[l["id"], r["id"]] for l in inter["left"] for r in inter["right"]]
        return rng.sample(allp, rng.randint(0, len(allp)))
    return {g["id"]: rng.choice(g["options"])["id"] for g in inter["gaps"] if rng.random() < 0.8}
