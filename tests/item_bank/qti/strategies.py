"""Hypothesis strategies for items of every type, in our format (docs/items.md)."""

from __future__ import annotations

from hypothesis import strategies as st

from item_bank.html import sanitize_html

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789 ,.;:!?'\"&<>()-éßü€π"
RESERVED = {"SCORE", "MAXSCORE", "RESPONSE", "completionStatus"}

ids = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,10}", fullmatch=True).filter(lambda s: s not in RESERVED)
words = st.text(_ALPHABET, min_size=1, max_size=30).map(lambda s: " ".join(s.split())).filter(bool)
numbers = st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.0, 10.0])


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


inline_html = st.one_of(
    words.map(_esc),
    words.map(lambda w: f"<em>{_esc(w)}</em>"),
    words.map(lambda w: f"<strong>{_esc(w)}</strong>"),
    st.tuples(words, words).map(lambda t: f"{_esc(t[0])}<sub>{_esc(t[1])}</sub>"),
    st.just("<math><mi>x</mi><mo>=</mo><mfrac><mn>1</mn><mn>2</mn></mfrac></math>"),
)
paragraph = st.lists(inline_html, min_size=1, max_size=3).map(lambda parts: "<p>" + " ".join(parts) + "</p>")
block = st.one_of(
    paragraph,
    st.tuples(words, words).map(lambda t: f"<h2>{_esc(t[0])}</h2><blockquote><p>{_esc(t[1])}</p></blockquote>"),
    st.tuples(words, words).map(lambda t: f'<p><a href="https://example.org/{abs(hash(t[0])) % 97}">{_esc(t[0])}</a><br>{_esc(t[1])}<sup>2</sup></p>'),
    st.lists(words, min_size=1, max_size=3).map(lambda ws: "<table><tbody>" + "".join(f"<tr><td>{_esc(w)}</td><th>{_esc(w)}</th></tr>" for w in ws) + "</tbody></table>"),
    st.lists(words, min_size=1, max_size=3).map(lambda ws: "<ol>" + "".join(f"<li><strong>{_esc(w)}</strong></li>" for w in ws) + "</ol>"),
    words.map(lambda w: f"<pre>{_esc(w)}\n  {_esc(w)}</pre>"),
    words.map(lambda w: f'<div lang="fr" dir="ltr"><p class="note">{_esc(w)}</p></div>'),
    words.map(lambda w: f'<figure><img src="media/f{abs(hash(w)) % 50}.png" alt="{_esc(w)}" width="20" height="10"><figcaption>{_esc(w)}</figcaption></figure>'),
    st.lists(words, min_size=1, max_size=3).map(lambda ws: "<ul>" + "".join(f"<li>{_esc(w)}</li>" for w in ws) + "</ul>"),
    words.map(lambda w: f'<p><img src="media/{abs(hash(w)) % 1000}.png" alt="{_esc(w)}"></p>'),
)
stems = st.lists(block, min_size=1, max_size=3).map(lambda bs: sanitize_html("".join(bs)))
option_html = st.one_of(words.map(_esc), words.map(lambda w: f"<em>{_esc(w)}</em>")).map(sanitize_html)


def options(min_size=2, max_size=5):
    return st.lists(ids, min_size=min_size, max_size=max_size, unique=True).flatmap(
        lambda keys: st.lists(option_html, min_size=len(keys), max_size=len(keys)).map(
            lambda htmls: [{"id": k, "html": h} for k, h in zip(keys, htmls)]))


metadata = st.fixed_dictionaries(
    {"tags": st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), max_size=3, unique=True),
     "objectives": st.lists(st.from_regex(r"[A-Z]{2}[0-9]", fullmatch=True), max_size=2),
     "language": st.sampled_from(["en", "fr", "de-CH", "ar"])},
    optional={"estimated_time_s": st.integers(10, 3600), "difficulty": st.one_of(st.none(), st.floats(0, 1)),
              "irt": st.one_of(st.none(), st.fixed_dictionaries({"a": st.floats(0.2, 3), "b": st.floats(-3, 3), "c": st.floats(0, 0.3)}))},
)

common = st.fixed_dictionaries({}, optional={"negative_marking": st.sampled_from([0.25, 0.5]), "floor": st.sampled_from([0, -1.0]),
                                             "weight": st.sampled_from([1, 2, 0.5])})


@st.composite
def choice_item(draw):
    opts = draw(options(2, 6))
    max_choices = draw(st.sampled_from([0, 1, 2, len(opts)]))
    n_correct = 1 if max_choices == 1 else draw(st.integers(1, max_choices or len(opts)))
    correct = draw(st.permutations([o["id"] for o in opts]))[:n_correct]
    rule = draw(st.sampled_from(["all_or_nothing", "per_option", "per_option_penalty", "map"] if max_choices != 1 else ["all_or_nothing", "map"]))
    points = draw(numbers)
    scoring = {"points": points, "correct": correct, "rule": rule}
    if rule == "map":
        scoring["mapping"] = {c: points / len(correct) for c in correct} | {o["id"]: -0.5 for o in opts if o["id"] not in correct}
        scoring["default_value"] = 0.0
        if draw(st.booleans()):
            scoring["lower_bound"] = 0.0
        if draw(st.booleans()):
            scoring["upper_bound"] = points
    scoring.update(draw(common))
    interaction = {"options": opts, "max_choices": max_choices, "min_choices": draw(st.integers(0, 1)), "shuffle": draw(st.booleans())}
    return "choice", interaction, scoring


@st.composite
def text_entry_item(draw):
    values = draw(st.lists(words, min_size=1, max_size=3, unique=True))
    points = draw(numbers)
    accepted = [{"value": values[0]}] + [{"value": v, "score": points / 2} for v in values[1:]]
    scoring = {"points": points, "accepted": accepted, "case_sensitive": draw(st.booleans()), "normalize_whitespace": draw(st.booleans())}
    scoring.update(draw(common))
    interaction = draw(st.fixed_dictionaries({}, optional={"expected_length": st.integers(1, 100), "placeholder": words}))
    return "text_entry", interaction, scoring


@st.composite
def numeric_item(draw):
    value = draw(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3)))
    mode = draw(st.sampled_from(["absolute", "relative"]))
    tolerance = draw(st.sampled_from([0, 0.01, 0.05, 0.5, 2.0]))
    scoring = {"points": draw(numbers), "value": value, "tolerance": tolerance, "tolerance_mode": mode}
    scoring.update(draw(common))
    interaction = draw(st.fixed_dictionaries({}, optional={"unit": st.sampled_from(["m", "kg", "m/s", "€"])}))
    return "numeric", interaction, scoring


@st.composite
def extended_item(draw):
    points = draw(numbers)
    crit_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    criteria = [{"id": c, "title": draw(words), "levels": [{"points": 0.0, "label": "none", "description": ""},
                                                          {"points": points, "label": draw(words), "description": draw(words)}]} for c in crit_ids]
    scoring = {"points": points, "rubric": {"criteria": criteria}}
    interaction = draw(st.fixed_dictionaries({}, optional={"expected_lines": st.integers(1, 40), "max_words": st.integers(10, 2000)}))
    return "extended_text", interaction, scoring


@st.composite
def order_item(draw):
    opts = draw(options(2, 6))
    order = list(draw(st.permutations([o["id"] for o in opts])))
    scoring = {"points": draw(numbers), "correct_order": order, "rule": draw(st.sampled_from(["exact", "pairs"]))}
    scoring.update(draw(common))
    return "order", {"options": opts, "shuffle": draw(st.booleans())}, scoring


@st.composite
def match_item(draw):
    left = draw(options(1, 4))
    right = draw(options(1, 4))
    max_assoc = draw(st.integers(1, 2))
    pairs = []
    for lo in left:
        for r in draw(st.lists(st.sampled_from(right), min_size=0, max_size=max_assoc, unique_by=lambda o: o["id"])):
            pairs.append([lo["id"], r["id"]])
    if not pairs:
        pairs = [[left[0]["id"], right[0]["id"]]]
    rule = draw(st.sampled_from(["per_pair", "per_pair_penalty", "all_or_nothing", "map"]))
    points = draw(numbers)
    scoring = {"points": points, "pairs": pairs, "rule": rule}
    if rule == "map":
        scoring.update({"mapping": {f"{a} {b}": points / len(pairs) for a, b in pairs}, "default_value": -0.25, "lower_bound": 0.0})
    scoring.update(draw(common))
    return "match", {"left": left, "right": right, "max_associations": max_assoc, "shuffle": draw(st.booleans())}, scoring


@st.composite
def inline_item(draw):
    gap_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    gaps = []
    correct = {}
    for g in gap_ids:
        opts = draw(st.lists(ids, min_size=2, max_size=4, unique=True).flatmap(
            lambda keys: st.lists(words.map(_esc).map(sanitize_html), min_size=len(keys), max_size=len(keys)).map(
                lambda hs: [{"id": k, "html": h} for k, h in zip(keys, hs)])))
        gaps.append({"id": g, "options": opts})
        correct[g] = draw(st.sampled_from([o["id"] for o in opts]))
    scoring = {"points": draw(numbers), "correct": correct, "rule": draw(st.sampled_from(["per_gap", "all_or_nothing"]))}
    scoring.update(draw(common))
    lead = draw(words)
    stem = sanitize_html("<p>" + _esc(lead) + " " + " and ".join(f'<span data-gap="{g}"></span>' for g in gap_ids) + ".</p>")
    return "inline_choice", {"gaps": gaps}, scoring, stem


BY_TYPE = {
    "choice": choice_item(), "text_entry": text_entry_item(), "numeric": numeric_item(), "extended_text": extended_item(),
    "order": order_item(), "match": match_item(), "inline_choice": inline_item(),
}


@st.composite
def bank_item(draw, item_type=None):
    """{identifier, version, item, media} with an item of `item_type` (any type when None)."""
    strategy = BY_TYPE[item_type] if item_type else st.one_of(*BY_TYPE.values())
    drawn = draw(strategy)
    itype, interaction, scoring = drawn[:3]
    stem = drawn[3] if len(drawn) > 3 else draw(stems)
    media = {path: b"\x89PNG" + path.encode() for path in __import__("re").findall(r'src="([^"]+)"', stem)}
    item = {"type": itype, "title": draw(words)[:200], "stem": stem, "interaction": interaction, "scoring": scoring, "metadata": draw(metadata)}
    return {"identifier": draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)), "version": draw(st.integers(1, 50)), "item": item, "media": media}
