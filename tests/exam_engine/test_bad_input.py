"""Bad input of every class gets the right 4xx with a stable code and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.factories import item


@pytest.fixture
def setup(client, make_user, auth):
    instructor = make_user("instructor")
    h = auth(instructor)
    bank_id = client.post("/api/v1/banks", headers=h, json={"name": "B"}).get_json()["id"]
    return bank_id, h


def count_items(client, h) -> int:
    return client.get("/api/v1/items?status=any", headers=h).get_json()["total"]


def test_malformed_json(client, setup):
    bank_id, h = setup
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers={**h, "Content-Type": "application/json"}, data="{not json")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "malformed_json"
    assert count_items(client, h) == 0


def test_wrong_types_and_missing_fields(client, setup):
    bank_id, h = setup
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json={"type": "choice", "title": 5})
    err = resp.get_json()["error"]
    assert resp.status_code == 422 and err["code"] == "validation_error"
    assert "title" in err["details"] and "stem" in err["details"] and "scoring" in err["details"]
    assert count_items(client, h) == 0


def test_unknown_fields_refused(client, setup):
    bank_id, h = setup
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json={**item(), "is_admin": True})
    assert resp.status_code == 422 and "is_admin" in resp.get_json()["error"]["details"]
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h,
                       json=item(interaction={**item()["interaction"], "secret": 1}))
    assert resp.status_code == 422 and "interaction.secret" in resp.get_json()["error"]["details"]


def test_unknown_item_type(client, setup):
    bank_id, h = setup
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(type="drawing"))
    assert resp.status_code == 422 and "type" in resp.get_json()["error"]["details"]


def test_oversized_body(client, setup, app):
    bank_id, h = setup
    app.config["MAX_JSON_BYTES"] = 1000
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(stem="<p>" + "x" * 5000 + "</p>"))
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    app.config["MAX_CONTENT_LENGTH"] = 2000
    resp = client.post(f"/api/v1/banks/{bank_id}/media", headers=h, data=b"x" * 5000,
                       content_type="application/octet-stream")
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    assert count_items(client, h) == 0


def test_another_instructors_bank(client, setup, make_user, auth):
    bank_id, _ = setup
    other = auth(make_user("instructor"))
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=other, json=item())
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "bank_not_found"


def test_unknown_routes_and_methods(client, setup):
    _, h = setup
    resp = client.get("/api/v1/nope", headers=h)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.delete("/api/v1/banks", headers=h)
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    resp = client.get("/api/v1/items/999999", headers=h)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "item_not_found"


def test_bad_query_args(client, setup):
    _, h = setup
    resp = client.get("/api/v1/items?per_page=100000", headers=h)
    assert resp.status_code == 422 and "per_page" in resp.get_json()["error"]["details"]
    resp = client.get("/api/v1/items?type=drawing", headers=h)
    assert resp.status_code == 422


def test_every_error_is_one_format(client):
    for resp in (client.get("/api/v1/me"), client.post("/api/v1/auth/token", json={}),
                 client.post("/api/v1/auth/token", data="x", content_type="application/json")):
        body = resp.get_json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
        json.dumps(body)


def test_nul_characters_are_refused_everywhere(client, setup):
    bank_id, h = setup
    resp = client.post("/api/v1/banks", headers=h, json={"name": "x", "description": "a\u0000b"})
    assert resp.status_code == 422 and "description" in resp.get_json()["error"]["details"]
    bad_item = item(scoring={"correct": ["paris"], "points": 1}, metadata={"tags": ["ok", "nu\u0000l"]})
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=bad_item)
    assert resp.status_code == 422 and "metadata.tags[1]" in resp.get_json()["error"]["details"]


def test_nul_characters_in_query_strings_are_refused(client, setup):
    """Found by schemathesis: a NUL in a repeated query argument reached PostgreSQL (a 500)."""
    _, h = setup
    for query in ("tag=ok&tag=a%00b", "q=a%00", "objective=%00", "tag=a%00"):
        resp = client.get(f"/api/v1/items?{query}", headers=h)
        assert resp.status_code == 422, (query, resp.status_code, resp.get_json())
        assert resp.get_json()["error"]["code"] == "validation_error"
