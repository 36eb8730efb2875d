"""Exams and QTI: export of an exam with its items; import of an assessment test as an exam draft."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests._fixtures import fixture_path


def test_exam_export(client, make_exam, bank_items):
    _, _, h = bank_items
    exam_id = make_exam()
    resp = client.get(f"/api/v1/exams/{exam_id}/qti", headers=h)
    assert resp.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    assert any("test" in n.lower() for n in names) and sum(n.startswith("items/") for n in names) == 7



@pytest.mark.fixtures
def test_fixture_package_with_a_test_becomes_an_exam_draft(client, bank_items):
    bank_id, _, h = bank_items
    folder = fixture_path("qti3", "examples", "packages")
    zipped = None
    for pkg in sorted(folder.iterdir()):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for f in pkg.rglob("*"):
                if f.is_file():
                    zf.write(f, f.relative_to(pkg).as_posix())
        names = zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
        if any("test" in n.lower() for n in names):
            zipped = buf.getvalue()
            break
    if zipped is None:
        pytest.skip("no package with an assessment test among the fixtures")
    resp = client.post(f"/api/v1/banks/{bank_id}/qti", headers=h, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(zipped), "pkg.zip")})
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["items"] and all(e["status"] in ("imported", "partial", "skipped") for e in report["items"])
    assert all(e["reasons"] for e in report["items"] if e["status"] != "imported")
    drafted = [e for e in report["exams"] if e["status"] == "imported"]
    for exam in drafted:
        got = client.get(f"/api/v1/exams/{exam['exam_id']}", headers=h).get_json()
        assert got["status"] == "draft" and got["definition"]["sections"]


@pytest.mark.fixtures
def test_exports_validate_against_the_official_xsd(client, app, make_exam, bank_items):
    bank_id, _, h = bank_items
    app.config["QTI_XSD_DIR"] = str(fixture_path("qti3", "xsd"))
    exam_id = make_exam()
    assert client.get(f"/api/v1/exams/{exam_id}/qti", headers=h).status_code == 200  # validated before it is sent
    assert client.get(f"/api/v1/banks/{bank_id}/qti", headers=h).status_code == 200
