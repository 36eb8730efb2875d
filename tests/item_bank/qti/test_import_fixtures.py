"""Import of the official QTI 3.0 and 2.x examples, read in place from ../shared/fixtures."""

from __future__ import annotations

import pytest

from item_bank.qti import export_package, import_package, validate_package
from item_bank.qti.errors import QtiImportError
from tests._fixtures import fixture_path

pytestmark = pytest.mark.fixtures

#: Every example source of items our types cover: (fixture path parts, least items imported or partial).
SOURCES = [
    (("qti3", "examples", "items"), 25),
    (("qti3", "examples", "packages", "BBQsTest", "BBQsTest.zip"), 14),
    (("qti3", "examples", "packages", "simple", "simple.zip"), 1),
    (("qti3", "examples", "packages", "test_package_minfiles", "test_package_minfiles.zip"), 2),
    (("qti3", "examples", "shared-vocabulary"), 5),
    (("qti2", "examples", "ims-2p1-items"), 15),
    (("qti2", "examples", "ims-2p2-items"), 25),
]


def _by_id(result):
    return {i.identifier: i for i in result.items}


def _report(result):
    return {e.identifier: e for e in result.report if e.kind == "item"}


@pytest.mark.parametrize("parts,least", SOURCES, ids=["/".join(p) for p, _ in SOURCES])
def test_every_item_is_reported(parts, least):
    result = import_package(fixture_path(*parts))
    report = [e for e in result.report if e.kind == "item"]
    assert report, "no item found"
    assert len({e.identifier for e in result.report}) == len(result.report), "report identifiers must be unique"
    assert len(result.items) >= least
    imported_ids = {i.identifier for i in result.items}
    imported_pairs = {(i.identifier, i.source_path) for i in result.items}
    for entry in report:
        assert entry.status in ("imported", "partial", "skipped")
        if entry.status == "skipped":
            assert entry.reasons, f"{entry.identifier} skipped without a reason"
            assert (entry.identifier, entry.source_path) not in imported_pairs
        else:
            assert entry.identifier in imported_ids
        if entry.status == "partial":
            assert entry.reasons, f"{entry.identifier} partial without a reason"
    # Every imported item is complete in our format.
    for item in result.items:
        body = item.item
        assert set(body) == {"type", "title", "stem", "interaction", "scoring", "metadata"}
        assert body["stem"].strip()
        assert 1 <= len(body["title"]) <= 200
        assert body["scoring"]["points"] > 0
        for path in item.media:
            assert path in result.media and f'"{path}"' in body["stem"] + str(body["interaction"])


def test_single_item_files_of_every_fixture_folder_import_or_report():
    folders = [fixture_path("qti3", "examples", "items"), fixture_path("qti2", "examples", "ims-2p1-items"), fixture_path("qti2", "examples", "ims-2p2-items")]
    counts = {"imported": 0, "partial": 0, "skipped": 0}
    for folder in folders:
        for path in sorted(folder.glob("*.xml")):
            if path.name == "imsmanifest.xml":
                continue
            result = import_package(path)
            (entry,) = [e for e in result.report if e.kind == "item"]
            counts[entry.status] += 1
    assert counts["imported"] + counts["partial"] >= 60
    assert counts["skipped"] >= 40  # hotspots, drawing, templates, adaptive... each with its reason


def test_qti3_choice_exact():
    result = import_package(fixture_path("qti3", "examples", "items", "choice.xml"))
    item = result.items[0]
    assert item.identifier == "choice" and item.title == "Unattended Luggage"
    assert item.item["type"] == "choice"
    assert item.item["interaction"]["max_choices"] == 1
    assert [o["id"] for o in item.item["interaction"]["options"]] == ["ChoiceA", "ChoiceB", "ChoiceC"]
    assert item.item["interaction"]["shuffle"] is False
    assert item.item["scoring"] == {"points": 1.0, "correct": ["ChoiceA"], "rule": "all_or_nothing"}
    assert "<p>What does it say?</p>" in item.item["stem"]
    assert 'src="images/sign.png"' in item.item["stem"]
    assert result.media["images/sign.png"][:4] == b"\x89PNG"
    assert result.report[0].status == "imported"


def test_qti3_text_entry_mapping():
    item = import_package(fixture_path("qti3", "examples", "items", "text_entry.xml")).items[0]
    assert item.item["type"] == "text_entry"
    s = item.item["scoring"]
    assert s["accepted"] == [{"value": "York"}, {"value": "york", "score": 0.5}]
    assert s["case_sensitive"] is True and s["points"] == 1.0
    assert '<span data-gap="RESPONSE"></span>' in item.item["stem"]
    assert item.item["interaction"]["expected_length"] == 15


def test_qti3_match_map_response():
    item = import_package(fixture_path("qti3", "examples", "items", "match.xml")).items[0]
    s = item.item["scoring"]
    assert item.item["type"] == "match" and s["rule"] == "map"
    assert s["mapping"] == {"C R": 1.0, "D M": 0.5, "L M": 0.5, "P T": 1.0}
    assert s["points"] == 3.0
    assert sorted(map(tuple, s["pairs"])) == [("C", "R"), ("D", "M"), ("L", "M"), ("P", "T")]
    assert [o["id"] for o in item.item["interaction"]["right"]] == ["M", "R", "T"]


def test_qti3_inline_choice_gap():
    item = import_package(fixture_path("qti3", "examples", "items", "inline_choice.xml")).items[0]
    assert item.item["type"] == "inline_choice"
    assert item.item["scoring"]["correct"] == {"RESPONSE": "Y"}
    assert '<span data-gap="RESPONSE"></span>' in item.item["stem"]
    assert [o["id"] for o in item.item["interaction"]["gaps"][0]["options"]] == ["G", "L", "Y"]


def test_gap_match_maps_to_inline_choice_and_reports_weights():
    result = import_package(fixture_path("qti3", "examples", "items", "gap_match.xml"))
    item = result.items[0]
    assert item.item["type"] == "inline_choice"
    assert item.item["scoring"]["correct"] == {"G1": "W", "G2": "Su"}
    assert '<span data-gap="G1"></span>' in item.item["stem"] and '<span data-gap="G2"></span>' in item.item["stem"]
    assert result.report[0].status == "partial"
    assert any("not reproduced" in r for r in result.report[0].reasons)


def test_qti21_choice_multiple_map_with_bounds():
    item = import_package(fixture_path("qti2", "examples", "ims-2p1-items", "choice_multiple.xml")).items[0]
    s = item.item["scoring"]
    assert item.qti_version == "2.1"
    assert s["rule"] == "map" and s["mapping"] == {"H": 1.0, "O": 1.0, "Cl": -1.0}
    assert s["lower_bound"] == 0.0 and s["upper_bound"] == 2.0 and s["default_value"] == -2.0
    assert sorted(s["correct"]) == ["H", "O"] and s["points"] == 2.0
    assert item.item["interaction"]["max_choices"] == 0


def test_qti22_order_and_associate():
    order = import_package(fixture_path("qti2", "examples", "ims-2p2-items", "order.xml")).items[0]
    assert order.item["type"] == "order" and order.item["scoring"]["rule"] == "exact"
    assert order.item["scoring"]["correct_order"] == ["DriverC", "DriverA", "DriverB"]
    result = import_package(fixture_path("qti2", "examples", "ims-2p2-items", "associate.xml"))
    assert result.items[0].item["type"] == "match" and result.report[0].status == "partial"


def test_custom_processing_reduced_to_numeric():
    result = import_package(fixture_path("qti3", "examples", "packages", "BBQsTest", "id-f9f3153e2ba4", "TheAnswer-001.xml"))
    item = result.items[0]
    assert item.item["type"] == "numeric"
    assert item.item["scoring"] == {"points": 10.0, "value": 42.0, "tolerance": 0.0, "tolerance_mode": "absolute"}
    assert not any("not reproduced" in r or "beyond our scoring" in r for r in result.report[0].reasons)


def test_custom_partial_credit_is_reported():
    result = import_package(fixture_path("qti3", "examples", "items", "order_partial_scoring.xml"))
    assert result.report[0].status == "partial"
    assert result.items[0].item["scoring"]["points"] == 2.0


def test_extended_text_rubric():
    result = import_package(fixture_path("qti3", "examples", "items", "extended_text_rubric.xml"))
    item = result.items[0]
    assert item.item["type"] == "extended_text"
    assert "Scoring Guidelines" in item.item["scoring"]["rubric"]["criteria"][0]["levels"][-1]["description"]
    assert "Scoring Guidelines" not in item.item["stem"]  # the scorer's rubric never reaches learners


@pytest.mark.parametrize("name,reason", [
    ("hotspot.xml", "hotspot"), ("drawing.xml", "drawing"), ("upload.xml", "upload"),
    ("template.xml", "template"), ("adaptive.xml", "adaptive"), ("select_point.xml", "select point"),
])
def test_unmappable_items_are_skipped_with_reason(name, reason):
    result = import_package(fixture_path("qti3", "examples", "items", name))
    assert result.items == []
    (entry,) = result.report
    assert entry.status == "skipped" and reason in entry.reasons[0]


def test_assessment_test_selection_ordering_time_limits():
    result = import_package(fixture_path("qti3", "examples", "tests", "rtest01.xml"))
    (test,) = result.tests
    assert test.identifier == "RTEST-01"
    (section,) = test.sections
    assert section.select == 2 and section.item_identifiers == ["set01", "set02", "set03"]
    tests = import_package(fixture_path("qti3", "examples", "tests")).tests
    assert any(t.max_time_s for t in tests) or any(s.max_time_s for t in tests for s in t.sections)
    assert any(s.shuffle for t in tests for s in t.sections)


def test_package_test_refers_to_imported_items():
    result = import_package(fixture_path("qti3", "examples", "packages", "BBQsTest", "BBQsTest.zip"))
    (test,) = result.tests
    ids = {i.identifier for i in result.items}
    refs = [i for s in test.sections for i in s.item_identifiers]
    assert len(set(refs) & ids) >= 14
    exam = test.as_exam()
    assert exam["identifier"] == test.identifier and exam["sections"]


def test_results_report_is_not_an_item():
    with pytest.raises(QtiImportError) as exc:
        import_package(fixture_path("qti3", "examples", "results", "report.xml"))
    assert exc.value.code == "qti_not_qti"


def test_imported_fixtures_export_valid_qti3(qti3_xsd_dir):
    for parts, _ in SOURCES:
        result = import_package(fixture_path(*parts))
        items = [{"identifier": i.identifier, "version": 1, "item": i.item, "media": {m: result.media[m] for m in i.media}} for i in result.items]
        data = export_package(items)
        assert validate_package(data, qti3_xsd_dir) == []
        again = import_package(data)
        by_id = _by_id(again)
        for original in result.items:
            copy = by_id[original.identifier].item
            assert copy["scoring"] == original.item["scoring"]
            assert copy["interaction"] == original.item["interaction"]


def test_hottext_maps_to_choice_and_is_reported():
    result = import_package(fixture_path("qti3", "examples", "items", "hottext.xml"))
    item = result.items[0].item
    assert item["type"] == "choice" and item["scoring"]["correct"] == ["B"]
    assert "<mark>includes</mark>" in item["stem"]
    assert result.report[0].status == "partial"


def test_import_progress_and_path_forms():
    calls = []
    folder = fixture_path("qti3", "examples", "packages", "test_package_minfiles")
    by_folder = import_package(folder, progress=lambda done, total, ident: calls.append((done, total, ident)))
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1)) and calls[-1][1] == len(calls) == 5
    by_zip_path = import_package(str(folder / "test_package_minfiles.zip"))
    by_bytes = import_package((folder / "test_package_minfiles.zip").read_bytes())
    assert [i.item for i in by_folder.items] == [i.item for i in by_zip_path.items] == [i.item for i in by_bytes.items]
    text = (folder / "example" / "choice.xml").read_text(encoding="utf-8")
    assert import_package(text).items[0].item["scoring"]["correct"] == by_folder.items[0].item["scoring"]["correct"]


def test_item_with_several_block_interactions_is_split():
    result = import_package(fixture_path("qti3", "examples", "shared-vocabulary", "Items", "Item_QTI3_Match_02", "match_qti3.xml"))
    assert len(result.items) == len(result.report) >= 2
    for n, item in enumerate(result.items, start=1):
        assert item.item["type"] == "match"
        assert item.identifier.startswith("qti3-match-02-")
        assert item.title.endswith(f"({n}/{len(result.items)})")
    assert all(e.status == "partial" and "one item per interaction" in e.reasons[0] for e in result.report)


def test_key_read_from_processing_and_alternative_key_reported():
    result = import_package(fixture_path("qti3", "examples", "items", "choice_multiple_chocolade.xml"))
    item = result.items[0].item
    assert sorted(item["scoring"]["correct"]) == [f"C{n:02d}" for n in range(1, 11)]
    (entry,) = result.report
    assert entry.status == "partial"
    assert any("compares it with" in r for r in entry.reasons)
    assert any("not reproduced" in r and "C11" in r for r in entry.reasons)  # the second accepted set


def test_cloze_with_typed_gaps_splits_one_gap_per_item():
    result = import_package(fixture_path("qti3", "examples", "packages", "BBQsTest", "id-d565dbe89933", "text_entry-Lycidas.xml"))
    first, second = result.items
    assert first.item["type"] == second.item["type"] == "text_entry"
    assert '<span data-gap="RESPONSE1"></span>' in first.item["stem"] and "<strong>pastures new</strong>" in first.item["stem"]
    assert '<span data-gap="RESPONSE2"></span>' in second.item["stem"] and "<strong>fresh woods</strong>" in second.item["stem"]
    assert first.item["scoring"]["accepted"] == [{"value": "fresh woods"}, {"value": "fresh fields", "score": 0.5}]
    assert [e.status for e in result.report] == ["partial", "partial"]


@pytest.mark.parametrize("parts", [("qti1p2-lms-exports", "all_canvas_simple_1.2.xml"), ("qti1p2-lms-exports", "canvas_cartridge"),
                                   ("qti1p2-lms-exports", "test_qti_1.2_canvas")])
def test_qti12_is_refused_with_its_own_code(parts):
    with pytest.raises(QtiImportError) as exc:
        import_package(fixture_path(*parts))
    assert exc.value.code == "qti_unsupported_version"
