"""Sample items of every type (docs/items.md) for tests, and helpers to build them."""

from __future__ import annotations

import copy


def _opts(*ids: str) -> list[dict]:
    return [{"id": i, "html": f"Option <b>{i}</b>"} for i in ids]


SAMPLE_ITEMS: dict[str, dict] = {
    "choice": {"type": "choice", "title": "Capital of France", "stem": "<p>Which city is the capital of France?</p>",
               "interaction": {"options": _opts("paris", "lyon", "nice"), "max_choices": 1},
               "scoring": {"correct": ["paris"], "points": 1},
               "metadata": {"tags": ["geo", "europe"], "objectives": ["capitals"], "difficulty": 0.9}},
    "multi": {"type": "choice", "title": "Prime numbers", "stem": "<p>Select the primes.</p>",
              "interaction": {"options": _opts("two", "three", "four", "nine"), "max_choices": 0},
              "scoring": {"correct": ["two", "three"], "rule": "per_option_penalty", "points": 2},
              "metadata": {"tags": ["math"], "difficulty": 0.6}},
    "text_entry": {"type": "text_entry", "title": "Chemical symbol", "stem": "<p>The symbol of gold?</p>",
                   "interaction": {"expected_length": 4},
                   "scoring": {"accepted": [{"value": "Au"}], "case_sensitive": True}, "metadata": {"tags": ["chem"]}},
    "numeric": {"type": "numeric", "title": "Pi", "stem": "<p>Give &pi; to two decimals.</p>",
                "interaction": {}, "scoring": {"value": 3.14, "tolerance": 0.005}, "metadata": {"tags": ["math"], "difficulty": 0.3}},
    "extended_text": {"type": "extended_text", "title": "Essay", "stem": "<p>Explain photosynthesis.</p>",
                      "interaction": {"expected_lines": 10},
                      "scoring": {"points": 4, "rubric": {"criteria": [
                          {"id": "accuracy", "title": "Accuracy", "levels": [{"points": 0, "label": "wrong"}, {"points": 2, "label": "right"}]},
                          {"id": "clarity", "title": "Clarity", "levels": [{"points": 0, "label": "unclear"}, {"points": 2, "label": "clear"}]}]}},
                      "metadata": {"tags": ["bio"]}},
    "order": {"type": "order", "title": "Planets", "stem": "<p>Order from the Sun.</p>",
              "interaction": {"options": _opts("mercury", "venus", "earth")},
              "scoring": {"correct_order": ["mercury", "venus", "earth"], "rule": "pairs"}, "metadata": {"tags": ["astro"]}},
    "match": {"type": "match", "title": "Countries", "stem": "<p>Match country and capital.</p>",
              "interaction": {"left": _opts("fr", "de"), "right": _opts("paris", "berlin", "rome")},
              "scoring": {"pairs": [["fr", "paris"], ["de", "berlin"]], "rule": "per_pair"}, "metadata": {"tags": ["geo"]}},
    "inline_choice": {"type": "inline_choice", "title": "Cloze", "stem": '<p>Water boils at <span data-gap="g1"></span> degrees.</p>',
                      "interaction": {"gaps": [{"id": "g1", "options": _opts("a100", "a90")}]},
                      "scoring": {"correct": {"g1": "a100"}}, "metadata": {"tags": ["phys"]}},
}

ITEM_TYPES_SAMPLES = ["choice", "multi", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice"]


def item(kind: str = "choice", **overrides) -> dict:
    """A deep copy of the sample item `kind` with top-level fields overridden."""
    data = copy.deepcopy(SAMPLE_ITEMS[kind])
    data.update(overrides)
    return data
