"""QTI through the bank: REST upload with a per-item report, re-import without duplicates, export, unsafe input."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests._fixtures import fixture_path
from tests.factories import ITEM_TYPES_SAMPLES, item


@pytest.fixture
def bank_with_items(client, make_user, auth):
    h = auth(make_user("instructor"))
    bank_id = client.post("/api/v1/banks", headers=h, json={"name": "Source"}).get_json()["id"]
    for kind in ITEM_TYPES_SAMPLES:
        iid = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(kind)).get_json()["item_id"]
        client.post(f"/api/v1/items/{iid}/publish", headers=h)
    return bank_id, h


def upload(client, h, bank_id, data: bytes, name="package.zip", publish=False):  # noqa: ANN001
    return client.post(f"/api/v1/banks/{bank_id}/qti?publish={'true' if publish else 'false'}", headers=h,
                       content_type="multipart/form-data", data={"file": (io.BytesIO(data), name)})


def test_export_import_round_trip_and_reimport_does_not_duplicate(client, bank_with_items):
    bank_id, h = bank_with_items
    resp = client.get(f"/api/v1/banks/{bank_id}/qti", headers=h)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    package = resp.data
    assert "imsmanifest.xml" in zipfile.ZipFile(io.BytesIO(package)).namelist()
    target = client.post("/api/v1/banks", headers=h, json={"name": "Target"}).get_json()["id"]
    report = upload(client, h, target, package, publish=True).get_json()
    assert report["counts"] == {"imported": len(ITEM_TYPES_SAMPLES)}, report
    assert {e["action"] for e in report["items"]} == {"created"}
    originals = {v["title"]: v for v in client.get(f"/api/v1/items?bank_id={bank_id}&per_page=50", headers=h).get_json()["items"]}
    copies = {v["title"]: v for v in client.get(f"/api/v1/items?bank_id={target}&per_page=50", headers=h).get_json()["items"]}
    assert set(originals) == set(copies)
    for title, original in originals.items():
        copy = copies[title]
        assert copy["type"] == original["type"] and copy["status"] == "published"
        assert copy["scoring"] == original["scoring"], title
        assert copy["interaction"] == original["interaction"], title
    again = upload(client, h, target, package).get_json()
    assert {e["action"] for e in again["items"]} == {"unchanged"}
    assert client.get(f"/api/v1/items?bank_id={target}", headers=h).get_json()["total"] == len(ITEM_TYPES_SAMPLES)


def test_unsafe_and_malformed_packages_are_refused(client, bank_with_items):
    bank_id, h = bank_with_items
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../etc/evil.xml", "<x/>")
        zf.writestr("imsmanifest.xml", "<manifest/>")
    resp = upload(client, h, bank_id, buf.getvalue())
    assert resp.status_code in (400, 413, 422) and resp.get_json()["error"]["code"].startswith("qti_")
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><qti-assessment-item>&e;</qti-assessment-item>'
    resp = upload(client, h, bank_id, xxe, name="item.xml")
    assert resp.status_code in (400, 422) and resp.get_json()["error"]["code"].startswith("qti_")
    assert "root:" not in resp.get_data(as_text=True)
    resp = upload(client, h, bank_id, b"not xml at all <", name="item.xml")
    assert resp.status_code in (400, 422) and resp.get_json()["error"]["code"].startswith("qti_")
    missing = client.post(f"/api/v1/banks/{bank_id}/qti", headers=h)
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "qti_missing"


def test_learner_cannot_import_or_export(client, bank_with_items, make_user, auth):
    bank_id, _ = bank_with_items
    lh = auth(make_user("learner"))
    assert client.get(f"/api/v1/banks/{bank_id}/qti", headers=lh).status_code == 403
    assert upload(client, lh, bank_id, b"<x/>").status_code == 403


@pytest.mark.fixtures
def test_fixture_items_import_with_a_report(client, bank_with_items):
    bank_id, h = bank_with_items
    folder = fixture_path("qti3", "examples", "items")
    statuses = {}
    for name in ("choice.xml", "choice_multiple.xml", "extended_text.xml", "drawing.xml", "associate.xml"):
        report = upload(client, h, bank_id, (folder / name).read_bytes(), name=name).get_json()
        statuses[name] = report["items"][0]["status"] if report.get("items") else report
    assert statuses["choice.xml"] in ("imported", "partial") and statuses["extended_text.xml"] in ("imported", "partial")
    assert statuses["drawing.xml"] == "skipped"
