"""Hand-written items of every type, in our format, as export_package takes them."""

from __future__ import annotations


def sample_items() -> list[dict]:
    """One hand-written item of every type, in our format, as export_package takes them."""
    meta = {"tags": ["demo"], "objectives": [], "language": "en"}
    return [
        {"identifier": "q-choice", "version": 3, "media": {"img/a.png": b"\x89PNG fake"}, "item": {
            "type": "choice", "title": "Capital", "stem": '<p>Which is the capital of <em>France</em>?</p><p><img src="img/a.png" alt="map"></p>',
            "interaction": {"options": [{"id": "A", "html": "Paris"}, {"id": "B", "html": "Lyon"}, {"id": "C", "html": "<strong>Nice</strong>"}], "max_choices": 1, "min_choices": 0, "shuffle": True},
            "scoring": {"points": 2.0, "correct": ["A"], "rule": "all_or_nothing"}, "metadata": meta}},
        {"identifier": "q-multi", "version": 1, "media": {}, "item": {
            "type": "choice", "title": "Water", "stem": "<p>Elements of water?</p>",
            "interaction": {"options": [{"id": "H", "html": "Hydrogen"}, {"id": "O", "html": "Oxygen"}, {"id": "He", "html": "Helium"}], "max_choices": 0, "min_choices": 0, "shuffle": False},
            "scoring": {"points": 2.0, "correct": ["H", "O"], "rule": "map", "mapping": {"H": 1.0, "O": 1.0, "He": -1.0}, "default_value": 0.0, "lower_bound": 0.0}, "metadata": meta}},
        {"identifier": "q-text", "version": 1, "media": {}, "item": {
            "type": "text_entry", "title": "York", "stem": '<p>Made glorious summer by this sun of <span data-gap="RESPONSE"></span>.</p>',
            "interaction": {"expected_length": 15},
            "scoring": {"points": 1.0, "accepted": [{"value": "York"}, {"value": "Yorke", "score": 0.5}], "case_sensitive": False, "normalize_whitespace": True}, "metadata": meta}},
        {"identifier": "q-num", "version": 1, "media": {}, "item": {
            "type": "numeric", "title": "Pi", "stem": "<p>Give pi to two decimals.</p>",
            "interaction": {"unit": "rad"},
            "scoring": {"points": 1.0, "value": 3.14, "tolerance": 0.01, "tolerance_mode": "absolute"}, "metadata": meta}},
        {"identifier": "q-essay", "version": 1, "media": {}, "item": {
            "type": "extended_text", "title": "Essay", "stem": "<p>Write about <math><mi>x</mi><mo>+</mo><mn>1</mn></math>.</p>",
            "interaction": {"expected_lines": 10, "max_words": 300},
            "scoring": {"points": 4.0, "rubric": {"criteria": [{"id": "content", "title": "Content", "levels": [{"points": 0.0, "label": "None", "description": ""}, {"points": 4.0, "label": "Good", "description": "Complete"}]}]}}, "metadata": meta}},
        {"identifier": "q-order", "version": 1, "media": {}, "item": {
            "type": "order", "title": "Podium", "stem": "<p>Order the drivers.</p>",
            "interaction": {"options": [{"id": "A", "html": "Alonso"}, {"id": "B", "html": "Button"}, {"id": "C", "html": "Coulthard"}], "shuffle": True},
            "scoring": {"points": 1.0, "correct_order": ["C", "A", "B"], "rule": "pairs"}, "metadata": meta}},
        {"identifier": "q-match", "version": 1, "media": {}, "item": {
            "type": "match", "title": "Plays", "stem": "<p>Match characters to plays.</p>",
            "interaction": {"left": [{"id": "C", "html": "Capulet"}, {"id": "P", "html": "Prospero"}], "right": [{"id": "R", "html": "Romeo and Juliet"}, {"id": "T", "html": "The Tempest"}], "max_associations": 1, "shuffle": True},
            "scoring": {"points": 2.0, "pairs": [["C", "R"], ["P", "T"]], "rule": "per_pair_penalty", "floor": 0}, "metadata": meta}},
        {"identifier": "q-cloze", "version": 1, "media": {}, "item": {
            "type": "inline_choice", "title": "Cloze", "stem": '<p>Now is the <span data-gap="g1"></span> of our <span data-gap="g2"></span>.</p>',
            "interaction": {"gaps": [{"id": "g1", "options": [{"id": "w", "html": "winter"}, {"id": "s", "html": "summer"}]}, {"id": "g2", "options": [{"id": "d", "html": "discontent"}, {"id": "c", "html": "content"}]}]},
            "scoring": {"points": 2.0, "correct": {"g1": "w", "g2": "d"}, "rule": "per_gap"}, "metadata": meta}},
    ]
