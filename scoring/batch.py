"""Vectorised grading of many responses at once (rescoring, re-grading an exam).

Two steps, so that rescoring after a key correction is pure numpy:

1. :func:`compile_items` turns the items (type, scoring, interaction) into
   arrays: rule codes, points, floors, penalties, weights and keys as bit
   masks over the items' options;
2. :func:`encode_responses` turns stored responses into fixed-width numbers
   (one ``uint64`` bit mask per response over option / pair / gap-option
   positions, packed ranks for orderings, the number for numeric items, an
   interned code of the normalised text for text entry). This is a Python
   loop, done once; the encoding depends on the interaction, not on the key
   (except text normalisation flags), so a key override only needs step 1
   and 3 again;
3. :func:`grade_encoded` grades them all with numpy and returns arrays.

:func:`grade_batch` does the three in one call. The result equals
``grade_item`` for every response (the tests check it); items that do not
fit the fixed width (more than 64 options, gap options or pairs; more than 16
options to order) fall back to ``grade_item`` row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from . import graders, validation
from .errors import InvalidData, InvalidResponse
from .registry import _check_mapping, get_grader
from .types import SCORE_EPS, ItemKey

# kinds
BITS, NUMERIC, TEXT, PENDING, ORDER, FALLBACK = range(6)
# rules
R_EXACT, R_HITS, R_HITS_PENALTY, R_MAP, R_VALUE, R_DIRECT, R_PAIRS = range(7)
MAX_BITS = 64
MAX_ORDER = 16


@dataclass
class CompiledItems:
    """Items as arrays, ready for vectorised grading (see :func:`compile_items`)."""

    keys: list[ItemKey]
    kind: np.ndarray
    rule: np.ndarray
    points: np.ndarray
    floor: np.ndarray
    neg: np.ndarray
    weight: np.ndarray
    key_bits: np.ndarray
    n_key: np.ndarray
    value: np.ndarray
    allowance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    #: per item, the value of each bit position (map rules)
    map_table: np.ndarray
    #: per item, the key's rank of each option position (order items)
    order_rank: np.ndarray
    order_n: np.ndarray
    #: per item: position dicts used by the encoder
    positions: list[dict] = field(default_factory=list)
    #: text: sorted (item << 32 | code) keys and their best scores
    text_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    text_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    vocab: dict = field(default_factory=dict)


def _ids(options) -> list[str]:
    return [o["id"] if isinstance(o, Mapping) else o for o in (options or [])]


def _key(item: Any) -> ItemKey:
    if isinstance(item, ItemKey):
        return item
    if isinstance(item, Mapping):
        return ItemKey(item["type"], item["scoring"], item.get("interaction"), item.get("item_id"))
    item_type, scoring, *rest = item
    return ItemKey(item_type, scoring, rest[0] if rest else None)


def _intern(vocab: dict, text: str) -> int:
    code = vocab.get(text)
    if code is None:
        code = vocab[text] = len(vocab)
    return code


def compile_items(items: Sequence[Any], vocab: dict | None = None) -> CompiledItems:
    """Compile items (``ItemKey``, ``(type, scoring, interaction)`` or dicts with those keys)."""
    keys = [_key(i) for i in items]
    n = len(keys)
    if n == 0:
        raise InvalidData("no items to compile")
    f = lambda v=0.0: np.full(n, v, dtype=float)  # noqa: E731
    c = CompiledItems(keys, np.zeros(n, np.int8), np.zeros(n, np.int8), f(), f(), f(), f(), np.zeros(n, np.uint64),
                      f(1.0), f(), f(), f(-np.inf), f(np.inf), np.zeros((n, MAX_BITS)),
                      np.zeros((n, MAX_ORDER), np.int64), np.zeros(n, np.int64), vocab=vocab if vocab is not None else {})
    text_entries: dict[int, float] = {}
    for i, k in enumerate(keys):
        get_grader(k.item_type)
        common = graders.read_common(k.scoring)
        c.points[i], c.floor[i], c.neg[i], c.weight[i] = common.points, common.floor, common.negative_marking, common.weight
        s, inter = k.scoring, k.interaction or {}
        pos: dict = {}
        if k.item_type == "choice":
            correct, rule = graders._choice_key(s)
            for o in _ids(inter.get("options")) or sorted(correct | set((s.get("mapping") or {}))):
                pos.setdefault(o, len(pos))
            for o in correct:
                pos.setdefault(o, len(pos))
            c.rule[i] = {"all_or_nothing": R_EXACT, "per_option": R_HITS, "per_option_penalty": R_HITS_PENALTY, "map": R_MAP}[rule]
            _bits_key(c, i, pos, correct, s, rule == "map", lambda o: o)
        elif k.item_type == "match":
            key, rule = graders._match_key(s)
            left, right = _ids(inter.get("left")), _ids(inter.get("right"))
            if not left:
                left = sorted({p[0] for p in key})
            if not right:
                right = sorted({p[1] for p in key})
            for l in left:
                for r in right:
                    pos.setdefault((l, r), len(pos))
            for p in sorted(key):
                pos.setdefault(p, len(pos))
            c.rule[i] = {"all_or_nothing": R_EXACT, "per_pair": R_HITS, "per_pair_penalty": R_HITS_PENALTY, "map": R_MAP}[rule]
            _bits_key(c, i, pos, key, s, rule == "map", lambda p: f"{p[0]} {p[1]}")
        elif k.item_type == "inline_choice":
            key, rule = graders._inline_key(s)
            for g in inter.get("gaps") or []:
                for o in _ids(g.get("options")):
                    pos.setdefault((g["id"], o), len(pos))
            for g, o in sorted(key.items()):
                pos.setdefault((g, o), len(pos))
            c.rule[i] = R_HITS if rule == "per_gap" else R_EXACT
            _bits_key(c, i, pos, set(key.items()), s, False, None)
            pos["__gaps__"] = set(key)
        elif k.item_type == "order":
            key, rule = graders._order_key(s)
            opts = _ids(inter.get("options")) or list(key)
            pos = {o: j for j, o in enumerate(opts)}
            if len(opts) > MAX_ORDER or set(opts) != set(key):
                c.kind[i] = FALLBACK
            else:
                c.kind[i] = ORDER
                c.rule[i] = R_EXACT if rule == "exact" else R_PAIRS
                c.order_n[i] = len(opts)
                for r, o in enumerate(key):
                    c.order_rank[i, pos[o]] = r
                c.n_key[i] = max(1, len(opts) * (len(opts) - 1) // 2)
        elif k.item_type == "numeric":
            value, tol, mode = graders._numeric_key(s)
            c.kind[i], c.rule[i] = NUMERIC, R_VALUE
            c.value[i], c.allowance[i] = value, graders.numeric_allowance(value, tol, mode)
        elif k.item_type == "text_entry":
            c.kind[i], c.rule[i] = TEXT, R_DIRECT
            cs, ws = bool(s.get("case_sensitive", False)), bool(s.get("normalize_whitespace", True))
            pos = {"case_sensitive": cs, "normalize_whitespace": ws}
            for value, score in graders._accepted(s, common.points):
                code = _intern(c.vocab, graders.normalize_text(value, case_sensitive=cs, normalize_whitespace=ws))
                kk = (i << 32) | code
                text_entries[kk] = max(score, text_entries.get(kk, -np.inf))
        elif k.item_type == "extended_text":
            c.kind[i] = PENDING
        else:
            c.kind[i] = FALLBACK
        c.positions.append(pos)
    if text_entries:
        ks = np.array(sorted(text_entries), dtype=np.int64)
        c.text_keys, c.text_scores = ks, np.array([text_entries[int(x)] for x in ks])
    return c


def _bits_key(c: CompiledItems, i: int, pos: dict, key_set, s: Mapping, is_map: bool, map_name) -> None:
    if len(pos) > MAX_BITS:
        c.kind[i] = FALLBACK
        return
    c.kind[i] = BITS
    bits = 0
    for p in key_set:
        bits |= 1 << pos[p]
    c.key_bits[i] = np.uint64(bits)
    c.n_key[i] = len(key_set)
    if is_map:
        _check_mapping(s)
        mapping = s.get("mapping") or {}
        default = float(s.get("default_value", 0) or 0)
        c.map_table[i, :] = default  # also for ids first seen while encoding
        for p, j in pos.items():
            if isinstance(j, int):
                c.map_table[i, j] = float(mapping.get(map_name(p), default))
        if s.get("lower_bound") is not None:
            c.lower[i] = float(s["lower_bound"])
        if s.get("upper_bound") is not None:
            c.upper[i] = float(s["upper_bound"])


@dataclass
class EncodedResponses:
    """Responses as fixed-width numbers (see :func:`encode_responses`)."""

    item: np.ndarray
    bits: np.ndarray
    num: np.ndarray
    answered: np.ndarray
    #: row -> raw response, for items graded by the scalar fallback
    fallback: dict = field(default_factory=dict)
    #: row -> (code, message) of responses refused with ``on_invalid="flag"`` (graded 0)
    invalid: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.item.size)


def encode_responses(compiled: CompiledItems, item_index: Sequence[int], responses: Sequence[Any], *,
                     on_invalid: str = "raise") -> EncodedResponses:
    """Validate and encode responses; ``item_index[r]`` is the compiled item answered by ``responses[r]``.

    ``on_invalid="raise"`` (default) raises :class:`InvalidResponse` naming the
    row of the first bad response; ``"flag"`` records it in
    ``EncodedResponses.invalid`` (row -> (code, message)) and grades it 0, so
    one stored response that no longer fits does not stop a whole rescore.
    """
    if on_invalid not in ("raise", "flag"):
        raise InvalidData("on_invalid must be 'raise' or 'flag'")
    idx = np.asarray(item_index, dtype=np.int64)
    n = idx.size
    if len(responses) != n:
        raise InvalidData("one item index per response is needed")
    if n and (idx.min() < 0 or idx.max() >= len(compiled.keys)):
        raise InvalidData("item index out of range")
    bits = np.zeros(n, np.uint64)
    num = np.zeros(n)
    answered = np.zeros(n, bool)
    fallback: dict = {}
    invalid: dict = {}
    kinds, keys, positions = compiled.kind, compiled.keys, compiled.positions
    for r in range(n):
        i = int(idx[r])
        k = keys[i]
        resp = responses[r]
        try:
            canon = validation.VALIDATORS[k.item_type](k.interaction, resp)
            if k.item_type == "inline_choice" and k.interaction is None and canon:
                unknown = set(canon) - positions[i].get("__gaps__", set())
                if unknown:
                    raise InvalidResponse("unknown_gap", f"unknown gap {sorted(unknown)[0]!r}")
            if kinds[i] == ORDER and canon is not None and set(canon) != set(positions[i]):
                raise InvalidResponse("not_a_permutation", "not a permutation of the options")
        except InvalidResponse as e:
            if on_invalid == "raise":
                raise InvalidResponse(e.code, f"response {r}: {e.message}") from None
            invalid[r] = (e.code, e.message)
            continue
        kind = kinds[i]
        if kind == FALLBACK:
            fallback[r] = resp
            answered[r] = True
            continue
        if canon is None or (isinstance(canon, (list, dict, str)) and not (canon.strip() if isinstance(canon, str) else canon)):
            continue
        answered[r] = True
        if kind == BITS:
            pos = positions[i]
            if k.item_type == "choice":
                units = canon
            elif k.item_type == "match":
                units = canon
            else:
                units = list(canon.items())
            b = 0
            for u in units:
                j = pos.get(u)
                if j is None:  # an id the compiled item has not seen (no interaction): a new position
                    if len(pos) >= MAX_BITS:
                        fallback[r] = resp
                        break
                    j = pos[u] = len(pos)
                b |= 1 << j
            bits[r] = np.uint64(b)
        elif kind == ORDER:
            pos = positions[i]
            b = 0
            for rank, o in enumerate(canon):
                b |= rank << (4 * pos[o])
            bits[r] = np.uint64(b)
        elif kind == NUMERIC:
            num[r] = canon
        elif kind == TEXT:
            pos = positions[i]
            norm = graders.normalize_text(canon, case_sensitive=pos["case_sensitive"],
                                          normalize_whitespace=pos["normalize_whitespace"])
            code = compiled.vocab.get(norm)
            num[r] = -1 if code is None else code
    return EncodedResponses(idx, bits, num, answered, fallback, invalid)


@dataclass
class BatchScores:
    """Scores of a batch, as arrays aligned with the responses."""

    score: np.ndarray
    max_score: np.ndarray
    is_correct: np.ndarray
    is_pending_manual: np.ndarray
    weight: np.ndarray
    #: rows whose response was refused (``on_invalid="flag"``); their score is 0
    is_invalid: np.ndarray = None


def grade_encoded(compiled: CompiledItems, enc: EncodedResponses) -> BatchScores:
    """Grade encoded responses with numpy (same results as ``grade_item``)."""
    it = enc.item
    kind, rule = compiled.kind[it], compiled.rule[it]
    points = compiled.points[it]
    raw = np.zeros(it.size)
    # bit-mask kinds
    key = compiled.key_bits[it]
    hits = np.bitwise_count(enc.bits & key).astype(float)
    wrong = np.bitwise_count(enc.bits & ~key).astype(float)
    nk = compiled.n_key[it]
    isbits = kind == BITS
    m = isbits & (rule == R_EXACT)
    raw[m] = np.where(enc.bits[m] == key[m], points[m], 0.0)
    m = isbits & (rule == R_HITS)
    raw[m] = points[m] * hits[m] / nk[m]
    m = isbits & (rule == R_HITS_PENALTY)
    raw[m] = points[m] * (hits[m] - wrong[m]) / nk[m]
    m = np.flatnonzero(isbits & (rule == R_MAP))
    if m.size:
        sel = ((enc.bits[m, None] >> np.arange(MAX_BITS, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(bool)
        tot = (sel * compiled.map_table[it[m]]).sum(axis=1)
        tot = np.minimum(np.maximum(tot, compiled.lower[it[m]]), compiled.upper[it[m]])
        raw[m] = np.minimum(tot, points[m])
    # ordering: concordant pairs from packed ranks
    m = np.flatnonzero(kind == ORDER)
    if m.size:
        nopt = compiled.order_n[it[m]]
        width = max(2, int(nopt.max()))  # only as many positions as the longest ordering here
        shifts = (4 * np.arange(width, dtype=np.uint64))[None, :]
        rr = ((enc.bits[m, None] >> shifts) & np.uint64(15)).astype(np.int8)
        kr = compiled.order_rank[it[m], :width].astype(np.int8)
        valid = np.arange(width)[None, :] < nopt[:, None]
        iu, ju = np.triu_indices(width, 1)
        pair_ok = valid[:, iu] & valid[:, ju]
        conc = ((kr[:, iu] < kr[:, ju]) == (rr[:, iu] < rr[:, ju])) & pair_ok
        good = conc.sum(axis=1)
        total = pair_ok.sum(axis=1)
        exact = good == total
        raw[m] = np.where(rule[m] == R_EXACT, np.where(exact, points[m], 0.0),
                          np.where(total == 0, points[m], points[m] * good / np.maximum(total, 1)))
    m = kind == NUMERIC
    raw[m] = np.where(np.abs(enc.num[m] - compiled.value[it[m]]) <= compiled.allowance[it[m]], points[m], 0.0)
    m = np.flatnonzero(kind == TEXT)
    if m.size:
        q = (it[m].astype(np.int64) << 32) | np.maximum(enc.num[m], 0).astype(np.int64)
        j = np.searchsorted(compiled.text_keys, q)
        j = np.minimum(j, max(0, compiled.text_keys.size - 1))
        found = (compiled.text_keys.size > 0) & (enc.num[m] >= 0)
        found = found & (compiled.text_keys[j] == q) if compiled.text_keys.size else found
        raw[m] = np.where(found, compiled.text_scores[j] if compiled.text_keys.size else 0.0, 0.0)
    # negative marking, floor, cap
    ans = enc.answered
    earned_nothing = ans & (raw <= SCORE_EPS * points)
    score = np.where(earned_nothing, raw - compiled.neg[it], raw)
    score = np.where(ans, score, 0.0)
    score = np.minimum(points, np.maximum(compiled.floor[it], score))
    pending = (kind == PENDING) & ans
    score[pending] = 0.0
    score[np.abs(score) < 1e-12] = 0.0
    correct = (score >= points * (1 - SCORE_EPS)) & ~pending
    # scalar fallback rows
    for r, resp in enc.fallback.items():
        k = compiled.keys[int(it[r])]
        s = get_grader(k.item_type)(k.scoring, resp, k.interaction)
        score[r], correct[r], pending[r] = s.score, s.is_correct, s.is_pending_manual
    invalid = np.zeros(it.size, dtype=bool)
    if enc.invalid:
        invalid[list(enc.invalid)] = True
    return BatchScores(score, points.copy(), correct, pending, compiled.weight[it], invalid)


def grade_batch(items: Sequence[Any], item_index: Sequence[int], responses: Sequence[Any], *,
                on_invalid: str = "raise") -> BatchScores:
    """Compile, encode and grade in one call (``on_invalid`` as in :func:`encode_responses`)."""
    compiled = compile_items(items)
    return grade_encoded(compiled, encode_responses(compiled, item_index, responses, on_invalid=on_invalid))


def attempt_totals(scores: BatchScores, attempt_index: Any, n_attempts: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted totals, maxima and pending counts per attempt (``attempt_index[r]`` owns row r)."""
    a = np.asarray(attempt_index, dtype=np.int64)
    n = int(a.max()) + 1 if n_attempts is None and a.size else (n_attempts or 0)
    w = scores.weight
    return (np.bincount(a, scores.score * w, n), np.bincount(a, scores.max_score * w, n),
            np.bincount(a, scores.is_pending_manual.astype(float), n).astype(np.int64))
