"""Credentials in the browser: pass an exam, find the credential in the wallet, open its public page, and
verify it on the public verification page by pasting its JWT (no account needed)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from sqlalchemy import select

from .conftest import audit, login, screenshot

QUICK = "Web security: quick check"


@pytest.fixture(autouse=True)
def _credentials_api(page, live_server):  # noqa: ANN001
    if "/api/v1/credentials/verify" not in page.request.get(live_server("/api/v1/openapi.json")).text():
        pytest.skip("the credentials API is not on this server yet")


def _keys(live_server) -> dict[int, dict]:  # noqa: ANN001
    """item id -> the demo bank item (with its key), for answering correctly."""
    from item_bank.models import Item

    bank = json.loads(resources.files("exam_engine.demo_data").joinpath("bank.json").read_text())
    by_key = {raw["key"]: raw for b in bank["banks"] for raw in b["items"]}
    session = live_server.app.extensions["exam_engine.db"].session()
    try:
        return {item_id: by_key[ext] for item_id, ext in session.execute(select(Item.id, Item.external_id))
                if ext in by_key}
    finally:
        session.close()


def _answer_correctly(card, raw: dict) -> None:  # noqa: ANN001
    kind, scoring = raw["type"], raw["scoring"]
    if kind == "choice":
        for option_id in scoring["correct"]:
            card.locator(f'input[value="{option_id}"]').check()
    elif kind == "text_entry":
        card.get_by_label("Your answer").fill(scoring["accepted"][0]["value"])
    elif kind == "numeric":
        card.get_by_label("Your answer").fill(str(scoring["value"]))
    elif kind == "order":
        target = scoring["correct_order"]
        for position, option_id in enumerate(target):
            while True:
                current = card.locator("ol.order-list li").evaluate_all("els => els.map(e => e.dataset.optionId)")
                if current.index(option_id) == position:
                    break
                card.locator(f'li[data-option-id="{option_id}"] button[data-dir=up]').click()
    elif kind == "match":
        rows = card.locator("tbody tr")
        for left, right in scoring["pairs"]:
            left_html = next(o["html"] for o in raw["interaction"]["left"] if o["id"] == left)
            rows.filter(has_text=left_html).locator("select").select_option(right)
    elif kind == "inline_choice":
        for gap, option in scoring["correct"].items():
            card.locator(f'select[data-gap="{gap}"]').select_option(option)


def test_pass_wallet_public_page_and_verify(new_page, live_server):
    keys = _keys(live_server)
    page = new_page()
    login(page, live_server, "learner@example.org")
    page.locator("#exams[aria-busy=false]").wait_for()
    start = page.get_by_role("button", name=f"Start exam: {QUICK}")
    if start.count():
        start.click()
        page.get_by_role("dialog").get_by_role("button", name="Start now").click()
    else:
        page.get_by_role("link", name=f"Continue exam: {QUICK}").click()
    page.wait_for_url("**/learn/sessions/*")
    page.locator("#conn-state", has_text="Connected").wait_for()
    total = page.locator("section.question-card").count()
    page.get_by_role("navigation", name="Questions").get_by_role("button", name="Question 1:").click()
    for index in range(total):
        card = page.locator("section.question-card:visible")
        item_id = int(card.locator(".item").get_attribute("data-item-id"))
        _answer_correctly(card, keys[item_id])
        card.locator(".save-state[data-state=saved]").wait_for()
        if index < total - 1:
            card.get_by_role("button", name="Next →").click()
    page.get_by_role("button", name="Finish and submit…").click()
    page.get_by_role("dialog").get_by_role("button", name="Submit now").click()
    page.wait_for_url("**/result")
    assert page.locator("#verdict").inner_text() == "Passed"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My credentials").click()
    card = page.get_by_role("article", name="Web security basics")
    card.wait_for()
    screenshot(page, "learner-credentials")
    assert not audit(page, under_csp=True)
    jwt_url = card.get_by_role("link", name="Download JWT of Web security basics").get_attribute("href")
    jwt = page.request.get(live_server(jwt_url)).text()
    assert jwt.count(".") == 2

    card.get_by_role("link", name="Public page of Web security basics").click()
    page.locator("#verdict", has_text="Valid credential").wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == "Web security basics"

    # Anyone, without an account, pastes the JWT on the verification page.
    public = new_page()
    public.goto(live_server("/verify"))
    public.get_by_label("Credential (JWT or JSON)").fill(jwt)
    public.get_by_role("button", name="Verify").click()
    public.locator("#verdict", has_text="Valid credential").wait_for()
    assert public.get_by_role("table", name="Verification checks").is_visible()
    screenshot(public, "public-verify")
    assert not audit(public, under_csp=True)
    # A tampered credential is not valid.
    header, payload, signature = jwt.split(".")
    public.get_by_label("Credential (JWT or JSON)").fill(f"{header}.{payload}.{signature[:-4]}AAAA")
    public.get_by_role("button", name="Verify").click()
    public.locator("#verdict", has_text="Not valid").wait_for()
    assert not public.console_errors, public.console_errors
