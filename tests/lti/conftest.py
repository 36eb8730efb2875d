"""Fixtures for the LTI tests: the tool app and a test platform, both served over HTTP on loopback."""

from __future__ import annotations

import pytest

from tests.exam_engine.conftest import bank_items, instructor, learner, make_exam  # noqa: F401  (shared fixtures)
from tests.lti.platform import Browser, Served, TestPlatform, new_rsa_key, pem


@pytest.fixture(scope="session")
def tool_key_pem() -> str:
    """One tool key for the run (generating RSA keys per test is slow)."""
    return pem(new_rsa_key())


@pytest.fixture
def tool(app, tool_key_pem):  # noqa: ANN001
    """The app under test served on a free loopback port; its PUBLIC_URL is that address."""
    from exam_engine.lti.adapter import ToolServiceConnector
    served = Served(app)
    app.config.update(PUBLIC_URL=served.url, LTI_PRIVATE_KEY=tool_key_pem)
    ToolServiceConnector.clear_cache()
    yield served
    served.stop()
    ToolServiceConnector.clear_cache()


@pytest.fixture(scope="session")
def platform_key():
    return new_rsa_key()


@pytest.fixture
def platform(tool, platform_key):  # noqa: ANN001
    p = TestPlatform(platform_key)
    p.tool_jwks_url = f"{tool.url}/lti/jwks.json"
    p.tool_launch_url = f"{tool.url}/lti/launch"
    yield p
    p.stop()


@pytest.fixture
def admin(make_user):  # noqa: ANN001
    return make_user("admin", name="Ada")


@pytest.fixture
def register(db, platform):  # noqa: ANN001
    """register(**overrides) -> the platform's registration (test_registration.py covers the REST API and command)."""
    from exam_engine.db import utcnow
    from exam_engine.lti.services import register_platform

    def go(**overrides):
        row = register_platform(db, {**platform.registration(), **overrides}, now=utcnow())
        db.commit()
        return {"id": row.id}

    return go


@pytest.fixture
def registered(register):  # noqa: ANN001
    return register()


@pytest.fixture
def browser(tool, platform):  # noqa: ANN001
    return Browser(tool.url, platform)


def error_code(resp) -> str:  # noqa: ANN001
    body = resp.get_json() if hasattr(resp, "get_json") else resp.json()
    return body["error"]["code"]
