"""QTI 3.0 export: package layout, XSD validity, scoring written as standard QTI."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from lxml import etree

from item_bank.qti import QtiExportError, export_package, import_package, validate_package
from item_bank.qti.processing import template_name, template_tree
from item_bank.qti.rp import Interpreter, container, parse_scalar
from item_bank.qti.items import read_declarations
from item_bank.qti.normalize import normalize

from .samples import sample_items

EXAM = {"identifier": "exam-1", "title": "Demo exam", "time_limit_s": 1800, "sections": [
    {"identifier": "s1", "title": "Part A", "item_identifiers": ["q-choice", "q-multi", "q-text", "q-num"], "select": 3, "shuffle": True},
    {"identifier": "s2", "title": "Part B", "item_identifiers": ["q-essay", "q-order", "q-match", "q-cloze"], "select": None, "shuffle": False},
]}


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def test_package_layout_and_manifest():
    data = export_package(sample_items(), EXAM)
    names = set(_zip(data).namelist())
    assert "imsmanifest.xml" in names and "tests/exam-1.xml" in names and "img/a.png" in names
    assert {f"items/{i['identifier']}.xml" for i in sample_items()} <= names
    manifest = etree.fromstring(_zip(data).read("imsmanifest.xml"))
    types = [r.get("type") for r in manifest.iter("{*}resource")]
    assert types.count("imsqti_item_xmlv3p0") == 8 and types.count("imsqti_test_xmlv3p0") == 1
    keywords = [s.text for s in manifest.iter("{http://ltsc.ieee.org/xsd/LOM}string") if s.getparent().tag.endswith("keyword")]
    assert "demo" in keywords


@pytest.mark.fixtures
def test_export_validates_against_official_xsd(qti3_xsd_dir):
    data = export_package(sample_items(), EXAM)
    assert validate_package(data, qti3_xsd_dir) == []


@pytest.mark.fixtures
def test_export_validates_when_xsd_dir_given(qti3_xsd_dir):
    assert export_package(sample_items(), xsd_dir=str(qti3_xsd_dir))


def test_exam_round_trips_as_test():
    result = import_package(export_package(sample_items(), EXAM))
    (test,) = result.tests
    exam = test.as_exam()
    assert exam["identifier"] == "exam-1" and exam["title"] == "Demo exam" and exam["time_limit_s"] == 1800
    assert exam["sections"] == EXAM["sections"]
    assert [e.status for e in result.report] == ["imported"] * 9


def test_standard_templates_are_used():
    z = _zip(export_package(sample_items()))
    choice = z.read("items/q-multi.xml").decode()
    assert "rptemplates/map_response.xml" in choice
    text = z.read("items/q-text.xml").decode()
    assert 'map-key="Yorke" mapped-value="0.5"' in text and 'case-sensitive="false"' in text


@pytest.mark.parametrize("ident", [i["identifier"] for i in sample_items() if i["item"]["type"] != "extended_text"])
def test_written_processing_scores_like_our_rule(ident):
    """The QTI processing we write gives the key its full points (any QTI engine agrees with us)."""
    entry = next(i for i in sample_items() if i["identifier"] == ident)
    root = normalize(etree.fromstring(_zip(export_package([entry])).read(f"items/{ident}.xml")))
    decls, outcomes, _ = read_declarations(root)
    rproc = root.find("qti-response-processing")
    if rproc.get("template"):
        rproc = template_tree(template_name(rproc), "RESPONSE")
    interp = Interpreter(decls, outcomes)
    responses = {}
    for ident_, d in decls.items():
        responses[ident_] = container([parse_scalar(v, d.base_type) for v in d.correct], d.cardinality)
    env = interp.run(rproc, responses)
    assert env["SCORE"] == entry["item"]["scoring"]["points"]


def test_progress_is_called_per_item():
    calls = []
    export_package(sample_items(), progress=lambda done, total, ident: calls.append((done, total, ident)))
    assert [c[0] for c in calls] == list(range(1, 9)) and calls[-1][1] == 8


def test_non_ncname_identifier_kept_through_extension():
    entry = sample_items()[0] | {"identifier": "42 items/é"}
    result = import_package(export_package([entry]))
    assert result.items[0].identifier == "42 items/é"


@pytest.mark.parametrize("mutate,code", [
    (lambda e: e["item"].update(type="hotspot"), "qti_export_invalid_item"),
    (lambda e: e["item"]["scoring"].pop("correct"), "qti_export_invalid_item"),
    (lambda e: e.update(media={"../x.png": b""}), "qti_export_invalid_item"),
    (lambda e: e.update(media={"/etc/passwd": b""}), "qti_export_invalid_item"),
])
def test_invalid_items_refused(mutate, code):
    entry = sample_items()[0]
    mutate(entry)
    with pytest.raises(QtiExportError) as exc:
        export_package([entry])
    assert exc.value.code == code


def test_exam_with_unknown_item_refused():
    with pytest.raises(QtiExportError) as exc:
        export_package(sample_items()[:1], {"identifier": "e", "title": "E", "sections": [{"identifier": "s", "title": "S", "item_identifiers": ["nope"]}]})
    assert exc.value.code == "qti_export_invalid"


def test_extension_carries_exact_scoring():
    root = etree.fromstring(_zip(export_package(sample_items())).read("items/q-order.xml"))
    scoring = json.loads(root.get("{urn:x-exam-engine:qti:1}scoring"))
    assert scoring["rule"] == "pairs"
