"""The OpenAPI document is generated from the schemas and describes every route."""

from __future__ import annotations


def test_openapi_document(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/banks", "/api/v1/banks/{bank_id}/items", "/api/v1/items/{item_id}",
                 "/api/v1/items/{item_id}/publish", "/api/v1/items"):
        assert path in paths, path
    assert "ItemAuthoring" in doc["components"]["schemas"]
    assert "ItemDelivery" in doc["components"]["schemas"]


def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
