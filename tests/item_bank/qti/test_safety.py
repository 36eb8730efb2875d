"""Unsafe or broken input is refused as a whole, with a stable error code."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import pytest

from item_bank.qti import ImportLimits, QtiImportError, export_package, import_package

from .samples import sample_items

NS = 'xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"'
ITEM = f"""<qti-assessment-item {NS} identifier="i1" title="T" adaptive="false" time-dependent="false">
<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
<qti-correct-response><qti-value>A</qti-value></qti-correct-response></qti-response-declaration>
<qti-item-body>BODY<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">
<qti-simple-choice identifier="A">a</qti-simple-choice><qti-simple-choice identifier="B">b</qti-simple-choice>
</qti-choice-interaction></qti-item-body>
<qti-response-processing template="https://www.imsglobal.org/question/qti_v3p0/rptemplates/match_correct.xml"/>
</qti-assessment-item>"""


def item_xml(body: str = "<p>Stem</p>", prolog: str = "") -> bytes:
    return (prolog + ITEM.replace("BODY", body)).encode()


def make_zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def refused(source, code: str, **kw) -> QtiImportError:
    with pytest.raises(QtiImportError) as exc:
        import_package(source, **kw)
    assert exc.value.code == code, exc.value
    assert exc.value.message
    return exc.value


def test_plain_item_imports():
    result = import_package(item_xml())
    assert result.items[0].item["scoring"]["correct"] == ["A"]


def test_external_entity_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    doc = item_xml("<p>&xxe;</p>", f'<!DOCTYPE qti-assessment-item [<!ENTITY xxe SYSTEM "file://{secret}">]>')
    err = refused(doc, "qti_external_entity")
    assert "TOP SECRET" not in str(err)


def test_billion_laughs_refused():
    lol = '<!DOCTYPE q [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    refused(item_xml("<p>&c;</p>", lol), "qti_external_entity")


def test_external_dtd_refused():
    refused(item_xml(prolog='<!DOCTYPE q SYSTEM "http://example.invalid/evil.dtd">'), "qti_external_entity")


def test_external_entity_inside_zip_refused():
    doc = item_xml("<p>&xxe;</p>", '<!DOCTYPE q [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
    refused(make_zip({"item.xml": doc}), "qti_external_entity")


@pytest.mark.parametrize("doc", [b"<qti-assessment-item", b"<a><b></a>", b"\xff\xfe\x00garbage", b""])
def test_malformed_xml_refused(doc):
    refused(doc, "qti_malformed_xml")


def test_malformed_xml_in_package_refused():
    refused(make_zip({"imsmanifest.xml": b"<manifest", "i.xml": item_xml()}), "qti_malformed_xml")


@pytest.mark.parametrize("name", ["../evil.xml", "a/../../evil.xml", "/abs/evil.xml", "C:/evil.xml", "..\\evil.xml"])
def test_zip_slip_refused(name):
    refused(make_zip({"item.xml": item_xml(), name: b"x"}), "qti_unsafe_path")


def test_symlink_entry_refused():
    refused(make_zip({"item.xml": item_xml(), "link.png": b"/etc/passwd"}, symlinks=("link.png",)), "qti_unsafe_path")


def test_manifest_href_escaping_refused():
    manifest = b"""<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" identifier="M"><resources>
    <resource identifier="r" type="imsqti_item_xmlv3p0" href="../../etc/item.xml"><file href="../../etc/item.xml"/></resource>
    </resources></manifest>"""
    refused(make_zip({"imsmanifest.xml": manifest, "i.xml": item_xml()}), "qti_unsafe_path")


def test_zip_bomb_ratio_refused():
    bomb = make_zip({"item.xml": item_xml(), "media/zeros.png": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    err = refused(bomb, "qti_too_large")
    assert "zip bomb" in err.message


def test_zip_total_size_refused():
    limits = ImportLimits(max_total_bytes=50_000)
    data = make_zip({"item.xml": item_xml(), "a.png": os.urandom(30_000), "b.png": os.urandom(30_000)})
    refused(data, "qti_too_large", limits=limits)


def test_zip_entry_count_refused():
    data = make_zip({"item.xml": item_xml(), **{f"m/{n}.png": b"x" for n in range(20)}})
    refused(data, "qti_too_large", limits=ImportLimits(max_entries=10))


def test_huge_xml_refused():
    big = item_xml("<p>" + "x" * 200_000 + "</p>")
    refused(big, "qti_too_large", limits=ImportLimits(max_xml_bytes=100_000))
    refused(make_zip({"item.xml": big}), "qti_too_large", limits=ImportLimits(max_xml_bytes=100_000))


def test_huge_file_on_disk_refused(tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(item_xml("<p>" + "x" * 200_000 + "</p>"))
    refused(path, "qti_too_large", limits=ImportLimits(max_xml_bytes=100_000))


def test_deep_nesting_refused():
    deep = "<div>" * 5000 + "x" + "</div>" * 5000
    refused(item_xml(deep), "qti_malformed_xml")  # libxml2 refuses depth > 256 without huge_tree


@pytest.mark.parametrize("doc", [b"<html><body/></html>", b'<assessmentItem xmlns="urn:other"/>'])
def test_not_qti_refused(doc):
    refused(doc, "qti_not_qti")


def test_zip_without_qti_refused():
    refused(make_zip({"readme.txt": b"hello", "x.xml": b"<html/>"}), "qti_not_qti")


def test_corrupt_zip_refused():
    good = export_package(sample_items()[:1])
    refused(good[:200], "qti_bad_zip")


def test_symlinked_folder_content_refused(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "item.xml").write_bytes(item_xml())
    os.symlink("/etc/passwd", pkg / "passwd.png")
    refused(pkg, "qti_unsafe_path")


def test_media_outside_item_folder_not_read(tmp_path):
    (tmp_path / "secret.png").write_bytes(b"secret")
    folder = tmp_path / "items"
    folder.mkdir()
    path = folder / "item.xml"
    path.write_bytes(item_xml('<p><img src="../secret.png" alt="x"/></p>'))
    result = import_package(path)
    assert result.media == {}
    assert result.report[0].status == "partial"
    assert any("outside the package" in r for r in result.report[0].reasons)


def test_script_in_body_sanitised_and_reported():
    result = import_package(item_xml('<p onclick="alert(1)">Hi<script>alert(1)</script></p>'))
    stem = result.items[0].item["stem"]
    assert "script" not in stem and "onclick" not in stem


def test_undefined_entity_is_malformed():
    refused(item_xml("<p>a&nbsp;b</p>"), "qti_malformed_xml")
