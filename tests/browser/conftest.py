"""Browser tests: the real app served on 127.0.0.1 in a thread, driven by Playwright and Debian's Chromium.

Chromium must be at /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it). Where it is
absent the tests skip with a reason, and fail under CI. The vendor JavaScript files come from
webclient/node_modules (`make js`).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from tests._fixtures import REPO_ROOT, in_ci

CHROMIUM = Path(os.environ.get("EXAM_ENGINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
NODE_MODULES = REPO_ROOT / "webclient" / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
PASSWORD = "demo-password"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def _missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The app served by werkzeug in a background thread."""

    def __init__(self, app, url: str, server) -> None:  # noqa: ANN001
        self.app, self.url, self.server = app, url, server

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The engine with the web client, on a temp SQLite database seeded with the demo (one per test module).

    Per module because the engine's SocketIO object is process-wide and bound by the latest create_app:
    a fresh server per module is bound to its own app whatever other tests created in between.
    """
    from werkzeug.serving import make_server

    from exam_engine.app import create_app
    from exam_engine.db import make_engine
    from exam_engine.demo import seed_demo
    from exam_engine.models import metadata

    base = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{base / 'browser.sqlite'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    app = create_app({"TESTING": False, "INSTANCE_PATH": str(base / "instance"), "SECRET_KEY": "browser-tests-secret-key",
                      "DATABASE_URL": url, "REDIS_URL": None, "BACKGROUND_JOBS": False, "ASYNC_MODE": "threading",
                      "LOG_LEVEL": "WARNING", "LOGIN_MAX_FAILURES": 1000})
    with app.app_context():
        seed_demo(app, password=PASSWORD)
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{port}", server)
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["exam_engine.db"].engine.dispose()


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    """Headless Debian Chromium through Playwright (skips, or fails under CI, when absent)."""
    if not CHROMIUM.exists():
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    if not (NODE_MODULES / "socket.io-client").exists():
        _missing(f"the web client's npm packages are not installed in {NODE_MODULES} (make js)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class ConsoleErrors(list):
    """Errors printed in the page console (CSP violations, uncaught exceptions, failed module loads)."""


def _watch(page) -> ConsoleErrors:  # noqa: ANN001
    errors = ConsoleErrors()
    # Failed requests are checked by the tests that expect them; here: CSP violations, script errors.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


@pytest.fixture
def new_page(browser):  # noqa: ANN001
    """new_page(**context_options) -> a page in a fresh context (closed at teardown), with .console_errors."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = _watch(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):  # noqa: ANN001
    return new_page()


def login(page, live_server, email: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    """Log in through the form and wait for the landing page."""
    page.goto(live_server("/login"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def audit(page, *, under_csp: bool = False) -> list[dict]:  # noqa: ANN001
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page; returns the serious and critical violations.

    axe is injected with a script tag (the context must bypass the pages' CSP), or with `under_csp`
    through the DevTools protocol, which the page's CSP does not govern (for pages of a journey).
    """
    if under_csp:
        page.evaluate("source => { (0, eval)(source); }", AXE.read_text())
    else:
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("typeof axe") == "object", "axe-core did not load"
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> None:  # noqa: ANN001
    """Keep a screenshot of a main page in docs/screenshots/ (set EXAM_ENGINE_SCREENSHOTS=1 to refresh them)."""
    if os.environ.get("EXAM_ENGINE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
