"""Round trip: export then import gives items equal in content and scoring (property-based)."""

from __future__ import annotations

import io
import os
import re
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from item_bank.qti import export_package, import_package, validate_package
from item_bank.qti.rp import reference_score

from .strategies import BY_TYPE, bank_item

#: QTI_PROPERTY_EXAMPLES=500 for a longer search than the default run's.
SETTINGS = settings(max_examples=int(os.environ.get("QTI_PROPERTY_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _unique(entries):
    seen, out = set(), []
    for e in entries:
        if e["identifier"] not in seen:
            seen.add(e["identifier"])
            out.append(e)
    return out


def _media_consistent(entries):
    # Two generated items may name the same media path with different bytes: keep the first's.
    seen: dict[str, bytes] = {}
    for e in entries:
        for k in list(e["media"]):
            if k in seen:
                e["media"][k] = seen[k]
            seen[k] = e["media"][k]
    return entries


@pytest.mark.parametrize("item_type", sorted(BY_TYPE))
def test_round_trip_every_type(item_type):
    @SETTINGS
    @given(entry=bank_item(item_type))
    def check(entry):
        result = import_package(export_package([entry]))
        (item,) = result.items
        assert item.identifier == entry["identifier"]
        assert item.version == entry["version"]
        assert item.item == entry["item"]
        assert result.report[0].status == "imported", result.report[0].reasons
        assert {m: result.media[m] for m in item.media} == entry["media"]

    check()


@SETTINGS
@given(entries=st.lists(bank_item(), min_size=1, max_size=6).map(_unique).map(_media_consistent))
def test_round_trip_packages_with_exam(entries):
    exam = {"identifier": "exam", "title": "Exam", "sections": [
        {"identifier": "s1", "title": "One", "item_identifiers": [e["identifier"] for e in entries], "select": len(entries), "shuffle": True}]}
    result = import_package(export_package(entries, exam))
    assert [i.item for i in result.items] == [e["item"] for e in entries]
    assert result.tests[0].as_exam() == exam


def _strip_extension(data: bytes) -> bytes:
    """The package as another QTI tool would write it: without our extension attributes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name.startswith("items/"):
                content = re.sub(rb'\sxmlns:ee="[^"]*"|\see:[a-z]+="[^"]*"', b"", content)
            dst.writestr(name, content)
    return out.getvalue()


def _probe_responses(itype, item):
    inter, s = item["interaction"], item["scoring"]
    if itype == "choice":
        ids = [o["id"] for o in inter["options"]]
        yield list(s["correct"])
        yield from ([i] for i in ids)
        if inter["max_choices"] != 1:
            yield ids[: inter["max_choices"] or len(ids)]
    elif itype == "match":
        yield [list(p) for p in s["pairs"]]
        yield [list(p) for p in s["pairs"][:1]]
        yield [[inter["left"][0]["id"], inter["right"][-1]["id"]]]
    elif itype == "inline_choice":
        yield dict(s["correct"])
        yield {g["id"]: g["options"][0]["id"] for g in inter["gaps"]}
    elif itype == "order":
        yield list(s["correct_order"])
        yield list(reversed(s["correct_order"]))
    elif itype == "text_entry":
        for a in s["accepted"]:
            yield a["value"]
        yield "zz-wrong"
    elif itype == "numeric":
        yield s["value"]
        yield s["value"] + 1000


NATIVE = {"choice": None, "match": None, "inline_choice": None, "order": {"exact"}, "text_entry": None, "numeric": None}


@pytest.mark.parametrize("item_type", sorted(NATIVE))
def test_qti_native_scoring_scores_alike(item_type):
    """Without our extension, the standard QTI written still scores like our rule (no negative marking)."""

    @SETTINGS
    @given(entry=bank_item(item_type))
    def check(entry):
        scoring = entry["item"]["scoring"]
        for key in ("negative_marking", "floor", "weight"):
            scoring.pop(key, None)
        if NATIVE[item_type] and scoring.get("rule") not in NATIVE[item_type]:
            return
        if item_type == "text_entry" and not scoring["case_sensitive"]:
            return  # QTI matches case-insensitively per entry, but has no white-space normalisation
        result = import_package(_strip_extension(export_package([entry])))
        (item,) = result.items
        assert item.item["stem"] == entry["item"]["stem"]
        for response in _probe_responses(item_type, entry["item"]):
            ours = reference_score(item_type, scoring, response)
            theirs = reference_score(item_type, item.item["scoring"], response)
            assert abs(ours - theirs) < 1e-9, (response, scoring, item.item["scoring"])

    check()


@pytest.mark.fixtures
def test_generated_packages_validate(qti3_xsd_dir):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(entries=st.lists(bank_item(), min_size=1, max_size=8).map(_unique).map(_media_consistent))
    def check(entries):
        exam = {"identifier": "exam", "title": "Exam", "sections": [{"identifier": "s1", "title": "S", "item_identifiers": [e["identifier"] for e in entries], "select": None, "shuffle": False}]}
        assert validate_package(export_package(entries, exam), qti3_xsd_dir) == []

    check()
