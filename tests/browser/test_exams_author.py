"""The instructor's exam pages: build and publish an exam (seen by learners), mark essays, and read the
results with their charts."""

from __future__ import annotations

import re

import pytest

from .conftest import audit, login, screenshot

QUICK = "Web security: quick check"
ESSAYS = "Web security: written answers"


@pytest.fixture(autouse=True)
def _exam_api(page, live_server):  # noqa: ANN001
    if "/api/v1/exams" not in page.request.get(live_server("/api/v1/openapi.json")).text():
        pytest.skip("the exam API is not on this server yet")


def _take_and_submit(page, live_server, title: str, answer_essay: bool = False) -> None:  # noqa: ANN001
    page.goto(live_server("/learn"))
    page.locator("#exams[aria-busy=false]").wait_for()
    start = page.get_by_role("button", name=f"Start exam: {title}")
    if start.count():
        start.click()
        page.get_by_role("dialog").get_by_role("button", name="Start now").click()
    else:
        page.get_by_role("link", name=f"Continue exam: {title}").click()
    page.wait_for_url("**/learn/sessions/*")
    page.locator("#conn-state", has_text="Connected").wait_for()
    if answer_essay:
        essay = page.locator(".item-extended_text").first
        essay.get_by_label("Your answer").fill("Use a slow, salted, memory-hard hash such as argon2id.")
        essay.locator("xpath=ancestor::section").locator(".save-state[data-state=saved]").wait_for()
    else:
        page.locator("section.question-card:visible input[type=radio]").first.check()
        page.locator("section.question-card:visible .save-state[data-state=saved]").wait_for()
    page.get_by_role("button", name="Finish and submit…").click()
    page.get_by_role("dialog").get_by_role("button", name="Submit now").click()
    page.wait_for_url("**/result")


def test_build_and_publish_an_exam(new_page, live_server):
    page = new_page()
    login(page, live_server, "instructor@example.org")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exams").click()
    page.locator("#exam-list table").wait_for()
    assert page.get_by_role("link", name=QUICK, exact=True).is_visible()
    screenshot(page, "instructor-exams")
    page.get_by_role("link", name="New exam").click()
    page.locator("#builder[aria-busy=false]").wait_for()
    page.get_by_label("Title", exact=True).fill("Browser-built exam")
    page.get_by_label("Description for learners").fill("Two questions on HTTPS.")
    page.get_by_label("Title shown to learners").fill("HTTPS")
    page.get_by_label("Find published items").fill("HSTS")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Add “What HSTS tells a browser” to section 1").first.click()
    page.get_by_label("Find published items").fill("CORS")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name=re.compile("^Add “.*CORS.*” to section 1")).first.click()
    assert page.get_by_role("list", name="Items of section 1").get_by_role("listitem").count() == 2
    page.get_by_label("Time limit (minutes)").fill("10")
    page.get_by_label("Pass mark in").select_option("percentage")
    page.get_by_label("Pass mark", exact=True).fill("50")
    screenshot(page, "instructor-exam-builder")
    page.get_by_role("button", name="Save draft").click()
    page.locator("#save-status", has_text=re.compile("Saved|Not saved")).wait_for()
    assert "Saved as version 1 (draft)" in page.locator("#save-status").inner_text(), page.locator("#error-summary").inner_text()
    page.get_by_role("button", name="Publish version 1").click()
    page.locator("#save-status", has_text="Published version 1").wait_for()
    assert not audit(page, under_csp=True)
    assert not page.console_errors, page.console_errors

    learner = new_page()
    login(learner, live_server, "learner@example.org")
    card = learner.get_by_role("article", name="Browser-built exam")
    card.wait_for()
    assert "10 min" in card.inner_text() and "2" in card.inner_text()


def test_marking_an_essay(new_page, live_server):
    learner = new_page()
    login(learner, live_server, "learner@example.org")
    _take_and_submit(learner, live_server, ESSAYS, answer_essay=True)

    page = new_page()
    login(page, live_server, "instructor@example.org")
    page.goto(live_server("/author/exams"))
    page.get_by_role("link", name=f"Marking of {ESSAYS}").click()
    card = page.locator("#queue article").first
    card.wait_for()
    screenshot(page, "instructor-marking")
    assert not audit(page, under_csp=True)
    before = page.locator("#queue article").count()
    for group in card.locator("fieldset").all():
        group.locator("input[type=radio]").last.check()
    card.get_by_label("Comment (optional, kept with the mark)").fill("Clear and complete.")
    card.get_by_role("button", name="Save mark").click()
    page.locator("#queue-status", has_text="Mark saved").wait_for()
    assert page.locator("#queue article").count() == before - 1


def _simulated_attempts(live_server, exam_id: int, n: int, seed: int = 7) -> None:  # noqa: ANN001
    """n learners take the exam through the real REST and /exam protocol, answering at random (seeded)."""
    import random
    import uuid

    import requests
    import socketio

    from exam_engine.auth.services import create_user
    from tests.conftest import PASSWORD

    rng = random.Random(seed)
    db = live_server.app.extensions["exam_engine.db"].session()
    try:
        emails = [create_user(db, email=f"sim-{uuid.uuid4().hex[:8]}@example.org", password=PASSWORD).email
                  for _ in range(n)]
        db.commit()
    finally:
        db.close()

    def guess(item, skill):  # noqa: ANN001, ANN202
        inter = item["interaction"]
        kind = item["type"]
        if kind == "choice":
            return [rng.choice(inter["options"])["id"]]
        if kind == "text_entry":
            return "Access-Control-Allow-Origin" if rng.random() < skill else "Origin"
        if kind == "numeric":
            return 47.6 if rng.random() < skill else round(rng.uniform(10, 90), 1)
        if kind == "order":
            ids = [o["id"] for o in inter["options"]]
            rng.shuffle(ids)
            return ids
        if kind == "match":
            rights = [o["id"] for o in inter["right"]]
            return [[left["id"], rng.choice(rights)] for left in inter["left"]]
        if kind == "inline_choice":
            return {gap["id"]: rng.choice(gap["options"])["id"] for gap in inter["gaps"]}
        return "An answer."

    for email in emails:
        token = requests.post(live_server("/api/v1/auth/token"), json={"email": email, "password": PASSWORD},
                              timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        session_id = requests.post(live_server(f"/api/v1/exams/{exam_id}/sessions"), headers=headers, timeout=30).json()["id"]
        client = socketio.Client()
        client.connect(live_server.url, namespaces=["/exam"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
        try:
            state = client.call("join", {"session_id": session_id}, namespace="/exam", timeout=10)["session"]
            seq = state["last_seq"]
            skill = rng.random()
            for item in state["items"]:
                seq += 1
                ack = client.call("answer", {"session_id": session_id, "item_id": item["item_id"],
                                             "response": guess(item, skill), "seq": seq}, namespace="/exam", timeout=10)
                assert ack["ok"], ack
            seq += 1
            assert client.call("submit", {"session_id": session_id, "seq": seq}, namespace="/exam", timeout=10)["ok"]
        finally:
            client.disconnect()


def test_results_with_charts(new_page, live_server):
    _simulated_attempts(live_server, exam_id=1, n=10)

    page = new_page()
    login(page, live_server, "instructor@example.org")
    page.goto(live_server("/author/exams"))
    page.get_by_role("link", name=f"Results of {QUICK}").click()
    page.get_by_role("heading", name="Score distribution").wait_for()
    assert page.locator("#dist-chart").get_attribute("role") == "img"
    assert page.evaluate("Chart.getChart(document.getElementById('dist-chart')) !== undefined")
    assert page.evaluate("Chart.getChart(document.getElementById('pd-chart')).data.datasets[0].data.length") >= 1
    assert page.get_by_role("table", name="Item statistics").is_visible()
    page.get_by_role("button", name="Calibrate and draw the curves").click()
    page.locator("#icc-status", has_text="curves").wait_for(timeout=60_000)
    assert page.evaluate("Chart.getChart(document.getElementById('icc-chart')).data.datasets.length") >= 1
    screenshot(page, "instructor-results")
    assert not audit(page, under_csp=True)
    assert not page.console_errors, page.console_errors
