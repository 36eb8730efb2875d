"""The instructor's journey: banks, a bank's items with filters, the editor of every type with its live preview,
save, publish, a new version and the history."""

from __future__ import annotations

import pytest

from .conftest import login, screenshot

TYPES = ("choice", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice")


@pytest.fixture
def instructor(page, live_server):  # noqa: ANN001
    login(page, live_server, "instructor@example.org")
    return page


def _new_bank(page, live_server, name: str) -> str:  # noqa: ANN001
    page.goto(live_server("/author/banks"))
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create bank").click()
    page.wait_for_url("**/author/banks/*?created=1")
    return page.url.split("?")[0]


def test_banks_and_filters(instructor, live_server):
    page = instructor
    page.goto(live_server("/author/banks"))
    cards = page.get_by_role("list", name="Banks").get_by_role("listitem")
    assert cards.count() >= 3
    screenshot(page, "instructor-banks")
    cards.first.get_by_role("link").click()
    assert page.get_by_role("table").is_visible()
    total = page.locator("#result-count").inner_text()
    page.get_by_label("Type").select_option("order")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("#result-count").inner_text() != total
    for cell in page.locator("tbody tr td:nth-child(2)").all_inner_texts():
        assert cell == "Put in order"
    screenshot(page, "instructor-bank")


def test_create_preview_publish_and_new_version(instructor, live_server):
    page = instructor
    _new_bank(page, live_server, "Browser test bank")
    page.get_by_role("link", name="New item").click()
    page.get_by_label("Choice (single, multiple, true/false)").check()
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Title (for authors)").fill("Capital of France")
    page.get_by_label("Question (stem, HTML)").fill("<p>What is the capital of <strong>France</strong>?</p><script>alert(1)</script>")
    page.get_by_label("Text of option 1 (HTML)").fill("Paris")
    page.get_by_label("Text of option 2 (HTML)").fill("Lyon")
    page.get_by_label("Text of option 3 (HTML)").fill("Marseille")
    preview = page.locator("#preview")
    # The live preview is the learner's renderer, with the stem sanitised as on save.
    preview.get_by_text("Marseille").wait_for()
    assert preview.locator("strong").inner_text() == "France"
    assert preview.locator("script").count() == 0
    assert preview.get_by_role("radio").count() == 3
    preview.get_by_label("Paris").check()  # the preview is interactive
    screenshot(page, "instructor-editor")

    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/author/items/*?saved=1")
    assert "Saved as version 1 (draft)" in page.locator("#flash").inner_text()
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_url("**/author/items/*?published=1")
    assert page.locator(".page-head .badge").inner_text() == "published"

    # Editing a published item makes version 2 as a draft.
    page.get_by_label("Text of option 3 (HTML)").fill("Nice")
    page.get_by_role("button", name="Save as new version").click()
    page.wait_for_url("**/author/items/*?saved=1")
    assert "version 2 (draft)" in page.locator("#flash").inner_text()
    history = page.get_by_role("table")
    assert history.get_by_role("link", name="Version 1").is_visible()
    assert history.get_by_role("link", name="Version 2").is_visible()
    history.get_by_role("link", name="Version 1").click()
    page.locator("#preview").get_by_text("Marseille").wait_for()
    assert not page.console_errors, page.console_errors


def test_validation_errors_are_listed_and_linked(instructor, live_server):
    page = instructor
    page.goto(live_server("/author/banks/1/items/new?type=choice"))
    page.get_by_label("Title (for authors)").fill("No correct answer")
    page.get_by_label("Correct answer").first.uncheck()
    page.get_by_role("button", name="Save draft").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "scoring.correct" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"


@pytest.mark.parametrize("item_type", TYPES)
def test_every_type_saves_with_a_preview(instructor, live_server, item_type):
    """Each type's form starts from a valid example, previews as the learner sees it and saves."""
    page = instructor
    page.goto(live_server(f"/author/banks/1/items/new?type={item_type}"))
    page.get_by_label("Title (for authors)").fill(f"Browser {item_type}")
    preview = page.locator("#preview .item")
    preview.wait_for()
    controls = {
        "choice": "input[type=radio]", "text_entry": "input[type=text]", "numeric": "input[inputmode=decimal]",
        "extended_text": "textarea", "order": "ol.order-list li", "match": "select", "inline_choice": "select.gap-select",
    }[item_type]
    assert preview.locator(controls).count() >= 1
    if item_type == "order":
        page.get_by_role("button", name="Add option").click()
        assert page.get_by_label("Text of option 4 (HTML)").is_visible()
        page.get_by_label("Text of option 4 (HTML)").fill("Fourth")
        preview.get_by_text("Fourth").wait_for()
    if item_type == "inline_choice":
        page.get_by_role("button", name="Add a gap at the cursor in the question").click()
        page.locator("#preview select.gap-select").nth(1).wait_for()
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/author/items/*?saved=1")
    assert page.locator("#preview .item").count() == 1
    if item_type == "extended_text":
        screenshot(page, "instructor-editor-essay")
    assert not page.console_errors, page.console_errors


def test_qti_export_then_import_into_a_new_bank(instructor, live_server, tmp_path):
    page = instructor
    resp = page.request.get(live_server("/api/v1/openapi.json"))
    if "/qti" not in resp.text():
        pytest.skip("QTI import/export is not on this server yet")
    page.goto(live_server("/author/banks/1"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Export published items").click()
    package = tmp_path / "bank.zip"
    download.value.save_as(package)
    assert package.read_bytes()[:2] == b"PK"

    _new_bank(page, live_server, "Imported from QTI")
    page.get_by_label("QTI package (.zip) or item file (.xml)").set_input_files(str(package))
    page.get_by_label("Publish what is imported").check()
    page.get_by_role("button", name="Import").click()
    page.locator("#qti-report .notice-ok").wait_for(timeout=60_000)
    assert "imported" in page.locator("#qti-report").inner_text()
    assert page.get_by_role("table", name="QTI import report").locator("tbody tr").count() >= 20
    page.get_by_role("link", name="Show the bank's items again").click()
    assert int(page.locator("#result-count").inner_text().split()[0]) >= 20
    assert not page.console_errors, page.console_errors
