"""Proctoring on the exam page: the notice and consent before starting, full screen, webcam pictures
(Chromium's fake camera), as docs/protocol.md §7 describes."""

from __future__ import annotations

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, login, screenshot

TITLE = "Strictly proctored check"


@pytest.fixture
def camera_browser(browser):  # noqa: ANN001 - a second Chromium of the same Playwright, with a fake camera
    fake = browser.browser_type.launch(executable_path=str(CHROMIUM), headless=True,
                                       args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream",
                                                             "--use-fake-device-for-media-stream"])
    yield fake
    fake.close()


def _create_strict_exam(page, live_server) -> int:  # noqa: ANN001
    login(page, live_server, "instructor@example.org")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    items = page.request.get(live_server("/api/v1/items?status=published&type=choice&per_page=2")).json()["items"]
    definition = {"title": TITLE, "sections": [{"id": "main", "items": [i["item_id"] for i in items]}],
                  "time_limit_s": 600, "proctoring": {"level": "strict", "settings": {"snapshot_interval_s": 10}}}
    resp = page.request.post(live_server("/api/v1/exams"), data={"definition": definition}, headers={"X-CSRF-Token": token})
    assert resp.status == 201, resp.text()
    exam_id = resp.json()["id"]
    resp = page.request.post(live_server(f"/api/v1/exams/{exam_id}/publish"), headers={"X-CSRF-Token": token})
    assert resp.status == 200, resp.text()
    return exam_id


def test_consent_fullscreen_and_webcam_pictures(new_page, camera_browser, live_server):
    if "/proctoring/consent" not in new_page().request.get(live_server("/api/v1/openapi.json")).text():
        pytest.skip("proctoring is not on this server yet")
    _create_strict_exam(new_page(), live_server)

    context = camera_browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera"], origin=live_server.url)
    page = context.new_page()
    login(page, live_server, "learner@example.org")
    page.locator("#exams[aria-busy=false]").wait_for()
    page.get_by_role("button", name=f"Start exam: {TITLE}").click()
    dialog = page.get_by_role("dialog", name="Start the exam?")
    dialog.wait_for()
    assert "webcam picture is taken every 10 seconds" in dialog.inner_text()
    dialog.get_by_role("button", name="Start now").click()
    assert "needs your agreement" in dialog.get_by_role("alert").inner_text()  # no start without consent
    dialog.get_by_label("I have read this and agree to the proctoring described, including the webcam pictures.").check()
    with page.expect_response(lambda r: "/proctoring/consent" in r.url) as consent:
        dialog.get_by_role("button", name="Start now").click()
    assert consent.value.status == 200
    page.wait_for_url("**/learn/sessions/*")
    page.locator("#conn-state", has_text="Connected").wait_for()

    # Strict proctoring asks for full screen; leaving it is recorded.
    banner = page.locator("#banner-fullscreen")
    banner.wait_for()
    with page.expect_response(lambda r: "/proctoring/snapshots" in r.url, timeout=20_000) as snapshot:
        page.get_by_role("button", name="Enter full screen").click()
    assert snapshot.value.status == 201
    assert "Camera on" in page.locator("#camera-state").inner_text()
    screenshot(page, "learner-exam-proctored")
    context.close()
