"""The learner's whole journey in Chromium, over the real /exam socket protocol: dashboard, start, answer one item
of every type, flag, reload mid-exam (answers and position kept), go offline (answers queued), come back (acked),
submit with the confirmation, and the result."""

from __future__ import annotations

import re

import pytest

from .conftest import audit, login, screenshot

QUICK = "Web security: quick check"
ESSAYS = "Web security: written answers"


@pytest.fixture
def learner(page, live_server):  # noqa: ANN001
    resp = page.request.get(live_server("/api/v1/openapi.json"))
    if "/api/v1/exams" not in resp.text():
        pytest.skip("the exam API is not on this server yet")
    login(page, live_server, "learner@example.org")
    return page


def _start(page, title: str) -> None:  # noqa: ANN001
    page.get_by_role("button", name=f"Start exam: {title}").click()
    dialog = page.get_by_role("dialog", name="Start the exam?")
    dialog.wait_for()
    dialog.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/learn/sessions/*")
    page.locator("#conn-state", has_text="Connected").wait_for()


def _card(page):  # noqa: ANN001, ANN202
    return page.locator("section.question-card:visible")


def _answer_current(page) -> str:  # noqa: ANN001
    """Answer the visible question whatever its type; returns the type answered."""
    card = _card(page)
    item = card.locator(".item")
    kind = re.search(r"item-(\w+)", item.get_attribute("class")).group(1)
    if kind == "choice":
        card.locator("input[type=radio], input[type=checkbox]").first.check()
    elif kind == "text_entry":
        card.get_by_label("Your answer").fill("Access-Control-Allow-Origin")
    elif kind == "numeric":
        card.get_by_label("Your answer").fill("47.6")
    elif kind == "extended_text":
        card.get_by_label("Your answer").fill("A fast unsalted hash lets attackers try billions of guesses per second.")
    elif kind == "order":
        card.get_by_role("button", name=re.compile("^Move down")).first.click()
    elif kind == "match":
        for select in card.locator("select").all():
            select.select_option(index=1)
    elif kind == "inline_choice":
        for select in card.locator("select.gap-select").all():
            select.select_option(index=1)
    return kind


def _saved(page) -> None:  # noqa: ANN001
    _card(page).locator(".save-state[data-state=saved]").wait_for()


def test_whole_journey(learner, live_server, page):
    screenshot(page, "learner-dashboard")
    _start(page, QUICK)
    assert page.get_by_role("heading", name=re.compile("Question 1 of")).is_visible()
    total = int(re.search(r"of (\d+)", page.get_by_role("heading", name=re.compile("Question 1 of")).inner_text()).group(1))
    assert re.match(r"^\d\d:\d\d$", page.locator("#timer-text").inner_text())

    kinds = []
    for index in range(3):
        kinds.append(_answer_current(page))
        _saved(page)
        if index == 1:
            _card(page).get_by_role("button", name="⚑ Flag for review").click()
            assert _card(page).get_by_role("button", name="⚑ Flagged for review").get_attribute("aria-pressed") == "true"
        if index == 2:
            screenshot(page, "learner-exam")
            assert not audit(page, under_csp=True)
        _card(page).get_by_role("button", name="Next →").click()
        # Focus moves to the new question's heading.
        assert page.evaluate("document.activeElement.tagName") == "H2"

    # Reload mid-exam: same question, answers and flags kept.
    page.wait_for_timeout(300)  # the navigate message is acknowledged
    page.reload()
    page.locator("#conn-state", has_text="Connected").wait_for()
    assert _card(page).get_by_role("heading").first.inner_text().startswith("Question 4 of")
    nav = page.get_by_role("navigation", name="Questions")
    assert nav.get_by_role("button", name="Question 1: answered").is_visible()
    assert nav.get_by_role("button", name="Question 2: answered, flagged").is_visible()
    assert nav.get_by_role("button", name="Question 4: not answered").get_attribute("aria-current") == "step"

    kinds.append(_answer_current(page))
    _saved(page)
    _card(page).get_by_role("button", name="Next →").click()

    # Offline: the answer waits in the outbox, the banner says so; back online it is sent and acknowledged.
    page.context.set_offline(True)
    page.locator("#banner-offline").wait_for()
    kinds.append(_answer_current(page))
    state = _card(page).locator(".save-state")
    state.filter(has_text=re.compile("Not sent yet|Typing")).wait_for()
    page.locator("#offline-text", has_text="1 answer is not sent yet").wait_for()
    stored = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('exam-engine:outbox:'))"
                           ".map(k => JSON.parse(localStorage[k]).filter(e => e.event === 'answer').length)")
    assert stored == [1]
    screenshot(page, "learner-exam-offline")
    page.context.set_offline(False)
    _saved(page)
    assert page.locator("#banner-offline").is_hidden()

    while True:
        heading = _card(page).get_by_role("heading").first.inner_text()
        position = int(re.search(r"Question (\d+)", heading).group(1))
        kinds.append(_answer_current(page))
        _saved(page)
        if position == total:
            break
        _card(page).get_by_role("button", name="Next →").click()
    assert {"choice", "text_entry", "numeric", "order", "match", "inline_choice"} <= set(kinds)

    # The confirmation lists flagged (and unanswered) questions before submitting.
    _card(page).get_by_role("button", name="Review and submit").click()
    dialog = page.get_by_role("dialog", name="Submit your exam?")
    assert "Flagged for review (1)" in dialog.inner_text()
    assert f"You answered {total} of {total}" in dialog.inner_text()
    screenshot(page, "learner-submit")
    assert not audit(page, under_csp=True)
    dialog.get_by_role("button", name="Submit now").click()
    page.wait_for_url("**/result")
    page.locator("#verdict").wait_for()
    assert page.locator("#verdict").inner_text() in ("Passed", "Not passed")
    assert "points" in page.locator("#result").inner_text()
    screenshot(page, "learner-result")
    assert not audit(page, under_csp=True)
    # The dashboard lists the attempt among the past results, with a link to its result.
    page.get_by_role("link", name="My exams").first.click()
    past = page.get_by_role("table", name="Your attempts")
    past.wait_for()
    assert past.get_by_role("link", name=re.compile(f"^Result of {QUICK}")).count() >= 1
    assert not page.console_errors, page.console_errors


def test_scrolling_form_with_essays_and_unanswered_warning(learner, live_server, page):
    _start(page, ESSAYS)
    cards = page.locator("section.question-card")
    assert cards.count() >= 2 and all(c.is_visible() for c in cards.all())  # presentation "all": one scrolling form
    essay = page.locator(".item-extended_text").first
    essay.get_by_label("Your answer").fill("Salted, slow, memory-hard hashes such as argon2id resist brute force.")
    essay.locator("xpath=ancestor::section").locator(".save-state[data-state=saved]").wait_for()
    assert "words" in essay.locator(".word-count").inner_text()
    # At 200 % zoom (640 px) the exam page reflows: nothing scrolls sideways.
    page.set_viewport_size({"width": 640, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Finish and submit…").click()
    dialog = page.get_by_role("dialog", name="Submit your exam?")
    assert re.search(r"Not answered \(\d+\)", dialog.inner_text())
    dialog.get_by_role("button", name="Keep working").click()
    assert dialog.is_hidden()
    page.get_by_role("button", name="Finish and submit…").click()
    dialog.get_by_role("button", name="Submit now").click()
    page.wait_for_url("**/result")
    page.locator("#verdict").wait_for()
    assert page.locator("#verdict").inner_text() == "Waiting for marking"


def test_another_window_takes_over_and_this_one_can_take_it_back(learner, live_server, page):
    """The exam opened in a second window takes the attempt over (the default policy): the first window stops
    with a notice, the second one saves answers, and "Continue in this window instead" takes it back."""
    _start(page, QUICK)
    _answer_current(page)
    _saved(page)
    other = page.context.new_page()
    other.goto(page.url)
    other.locator("#conn-state", has_text="Connected").wait_for()
    notice = page.locator("#banner-closed")
    notice.get_by_text("open in another window or device").wait_for()
    _card(other).get_by_role("button", name="Next →").click()
    _answer_current(other)
    _saved(other)
    notice.get_by_role("button", name="Continue in this window instead").click()
    other.locator("#banner-closed").get_by_text("open in another window or device").wait_for()
    page.locator("#conn-state", has_text="Connected").wait_for()
    _card(page).get_by_role("button", name="Next →").click()
    _answer_current(page)
    _saved(page)
    other.close()


def _exam_opening_soon(live_server, seconds: float) -> str:  # noqa: ANN001
    """A copy of the quick demo exam that opens `seconds` from now; its title."""
    from datetime import timedelta

    from sqlalchemy import select

    from exam_engine.auth.models import User
    from exam_engine.db import db_session, utcnow
    from exam_engine.exams import services
    from exam_engine.exams.models import Exam

    title = f"Opens soon {utcnow().strftime('%H%M%S%f')}"
    with live_server.app.app_context():
        session = db_session()
        quick = session.scalar(select(Exam).where(Exam.external_id == "demo-websec-quick"))
        definition = {k: v for k, v in services.version_of(session, quick).definition.items() if k != "resolved"}
        opens = utcnow() + timedelta(seconds=seconds)
        definition.update(title=title, opens_at=opens.isoformat(), closes_at=(opens + timedelta(hours=2)).isoformat())
        owner = session.get(User, quick.owner_id)
        version = services.create_exam(session, owner, definition, now=utcnow())
        services.publish_exam(session, owner, version.exam_id, now=utcnow())
        session.commit()
    return title


def test_waiting_room_starts_the_exam_when_it_opens(learner, live_server, page):
    """An exam that opens in a few seconds: the learner waits on the exam page (connected, a countdown by the
    server's clock), and the attempt starts there by itself when the exam opens, with no reload."""
    title = _exam_opening_soon(live_server, 12)
    page.reload()
    page.get_by_role("link", name=f"Wait for the start: {title}").click()
    page.wait_for_url("**/learn/exams/*/take")
    waiting = page.locator("#waiting")
    waiting.wait_for()
    assert "The exam opens in" in page.locator("#waiting-text").inner_text()
    page.locator("#conn-state", has_text="Connected").wait_for()
    screenshot(page, "learner-waiting-room")
    assert not audit(page, under_csp=True)
    page.wait_for_url("**/learn/sessions/*", timeout=25_000)
    _card(page).wait_for(timeout=5000)
    assert waiting.is_hidden() and page.locator("#exam-title").inner_text() == title
    _answer_current(page)
    _saved(page)
    page.reload()  # the address is now the attempt's: a reload joins it
    _card(page).wait_for()
    assert not page.console_errors, page.console_errors


def test_a_start_answered_server_busy_is_sent_again(learner, live_server, page):
    """Every turn at the database is taken when the learner presses Start now: the server answers the start
    `server_busy` (it did nothing), the page sends it again after `details.retry_after_s`, and the attempt
    starts, with no error shown."""
    import threading

    from exam_engine.db import FairGate, GateTimeout

    class CountingGate(FairGate):
        def __init__(self) -> None:
            super().__init__(1, timeout_s=0.2)
            self.timeouts = 0

        def __enter__(self) -> "CountingGate":
            try:
                return super().__enter__()
            except GateTimeout:
                self.timeouts += 1
                raise

    title = _exam_opening_soon(live_server, -5)
    page.reload()
    page.get_by_role("button", name=f"Start exam: {title}").click()
    dialog = page.get_by_role("dialog", name="Start the exam?")
    dialog.wait_for()
    database = live_server.app.extensions["exam_engine.db"]
    kept, gate = database.events, CountingGate()
    gate.__enter__()  # the one place, held until the first start has been turned away

    def release() -> None:
        for _ in range(1500):
            if gate.timeouts:
                break
            threading.Event().wait(0.01)
        gate.__exit__()

    releaser = threading.Thread(target=release)
    database.events = gate
    try:
        releaser.start()
        dialog.get_by_role("button", name="Start now").click()
        page.wait_for_url("**/learn/sessions/*", timeout=20_000)
        _card(page).wait_for(timeout=5000)
    finally:
        releaser.join(20)
        database.events = kept
    assert gate.timeouts >= 1  # the first start was turned away, the page's second one started the attempt
    assert page.locator("#exam-title").inner_text() == title
    assert not page.console_errors, page.console_errors
