"""The examiner's journey: the live monitor in one browser context pausing, messaging, resuming, extending and
ending a learner's attempt that is open in another context, seen on the learner's page at once."""

from __future__ import annotations

import re

import pytest

from .conftest import audit, login, screenshot

TIMED = "Statistics and climate: timed exam with sections"


def _minutes_left(page) -> float:  # noqa: ANN001
    text = page.locator("#timer-text").inner_text()
    parts = [int(p) for p in re.match(r"^([\d:]+)", text).group(1).split(":")]
    seconds = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)
    return seconds / 60


def test_examiner_acts_and_learner_sees_it_at_once(new_page, live_server):
    learner = new_page()
    if "/monitor" not in learner.request.get(live_server("/api/v1/openapi.json")).text() and \
            "/api/v1/exams" not in learner.request.get(live_server("/api/v1/openapi.json")).text():
        pytest.skip("the exam API is not on this server yet")
    login(learner, live_server, "learner@example.org")
    learner.get_by_role("button", name=f"Start exam: {TIMED}").click()
    learner.get_by_role("dialog").get_by_role("button", name="Start now").click()
    learner.wait_for_url("**/learn/sessions/*")
    learner.locator("#conn-state", has_text="Connected").wait_for()
    before = _minutes_left(learner)

    examiner = new_page()
    login(examiner, live_server, "examiner@example.org")
    assert examiner.url.endswith("/monitor")
    examiner.get_by_label("Exam", exact=True).select_option(label=TIMED)
    row = examiner.locator("#attempt-rows tr", has_text="Lea Learner")
    row.wait_for()
    assert "in progress" in row.inner_text()
    screenshot(examiner, "examiner-monitor")
    assert not audit(examiner, under_csp=True)

    # Browser signals (docs/protocol.md §7) reach the examiner: four copies exceed the standard policy's limit.
    for _ in range(4):
        learner.evaluate("document.querySelector('.item-stem').dispatchEvent(new ClipboardEvent('copy', {bubbles: true}))")
    learner.wait_for_function("() => !Object.keys(localStorage).some(k => k.startsWith('exam-engine:outbox:')"
                              " && JSON.parse(localStorage[k]).some(e => e.event === 'signal'))")
    row.get_by_role("button", name="Timeline: Lea Learner").click()
    detail = examiner.locator("#detail")
    detail.locator("tr[data-kind=signal]").first.wait_for()
    assert detail.get_by_role("row", name=re.compile("copy")).count() >= 4
    dismiss = detail.get_by_role("button", name=re.compile("^Dismiss flag"))
    if dismiss.count():
        dismiss.first.click()
        dialog = examiner.get_by_role("dialog", name="Dismiss the flag")
        dialog.get_by_label("Note (kept with the review)").fill("Copying the question text for notes is allowed here.")
        dialog.get_by_role("button", name="Dismiss flag").click()
        examiner.locator("#row-count", has_text="Flag dismissed").wait_for()
    screenshot(examiner, "examiner-timeline")
    detail.get_by_role("button", name="Close").click()

    # Pause: the learner's page says so at once and the questions are locked.
    row.get_by_role("button", name="Pause: Lea Learner").click()
    dialog = examiner.get_by_role("dialog", name="Pause the attempt")
    dialog.get_by_role("button", name="Pause").click()
    learner.locator("#banner-paused").wait_for(timeout=5000)
    assert not audit(learner, under_csp=True)
    assert learner.locator("#exam-layout").evaluate("el => el.inert")
    assert "paused" in row.inner_text()

    # A message appears on the learner's page.
    row.get_by_role("button", name="Message: Lea Learner").click()
    dialog = examiner.get_by_role("dialog", name="Send a message")
    dialog.get_by_label("Message").fill("Please keep your eyes on your own screen.")
    dialog.get_by_role("button", name="Send").click()
    learner.locator("#messages li", has_text="Please keep your eyes on your own screen.").wait_for(timeout=5000)

    # Resume and extend: the learner's countdown follows the server.
    row.get_by_role("button", name="Resume: Lea Learner").click()
    examiner.get_by_role("dialog", name="Resume the attempt").get_by_role("button", name="Resume").click()
    learner.locator("#banner-paused").wait_for(state="hidden", timeout=5000)
    assert not learner.locator("#exam-layout").evaluate("el => el.inert")
    row.get_by_role("button", name="Extend time: Lea Learner").click()
    dialog = examiner.get_by_role("dialog", name="Extend the time")
    dialog.get_by_label("Extra minutes").fill("10")
    dialog.get_by_role("button", name="Extend").click()
    learner.wait_for_function(f"() => {{ const t = document.getElementById('timer-text').textContent; "
                              f"const p = t.split(' ')[0].split(':').map(Number); "
                              f"const s = p.length === 3 ? p[0]*3600+p[1]*60+p[2] : p[0]*60+p[1]; return s > {before * 60 + 540}; }}",
                              timeout=5000)
    screenshot(learner, "learner-exam-message")

    # Ending the attempt sends the learner to the result page.
    row.get_by_role("button", name="End attempt: Lea Learner").click()
    dialog = examiner.get_by_role("dialog", name="End the attempt")
    dialog.get_by_label("Reason (recorded and shown to the learner)").fill("Test of the end action")
    dialog.get_by_role("button", name="End attempt").click()
    ended = learner.locator("#closed-text")
    ended.get_by_text("An examiner ended your exam.").wait_for(timeout=5000)
    assert "Test of the end action" in ended.inner_text()
    learner.wait_for_url("**/result", timeout=10_000)
    assert not learner.console_errors, learner.console_errors
    assert not examiner.console_errors, examiner.console_errors
