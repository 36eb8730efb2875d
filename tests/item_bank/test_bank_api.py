"""The item bank through the REST API: every type, versions, sharing, pools, keys never to learners."""

from __future__ import annotations

import pytest

from tests.factories import ITEM_TYPES_SAMPLES, item


@pytest.fixture
def instructor(make_user):
    return make_user("instructor")


@pytest.fixture
def bank(client, instructor, auth):
    h = auth(instructor)
    resp = client.post("/api/v1/banks", headers=h, json={"name": "Bank A", "description": "d"})
    assert resp.status_code == 201
    return resp.get_json()["id"], h


@pytest.mark.parametrize("kind", ITEM_TYPES_SAMPLES)
def test_create_publish_reversion_every_type(client, bank, kind):
    bank_id, h = bank
    resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(kind))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["version"] == 1 and body["status"] == "draft" and body["scoring"]
    item_id = body["item_id"]
    # A draft edits in place.
    edited = client.put(f"/api/v1/items/{item_id}", headers=h, json=item(kind, title="Edited draft")).get_json()
    assert edited["version"] == 1 and edited["title"] == "Edited draft"
    pub = client.post(f"/api/v1/items/{item_id}/publish", headers=h).get_json()
    assert pub["status"] == "published" and pub["published_at"]
    # Editing a published item makes version 2; version 1 stays frozen.
    v2 = client.put(f"/api/v1/items/{item_id}", headers=h, json=item(kind, title="Second")).get_json()
    assert v2["version"] == 2 and v2["status"] == "draft"
    v1 = client.get(f"/api/v1/items/{item_id}/versions/1", headers=h).get_json()
    assert v1["title"] == "Edited draft" and v1["status"] == "published"
    history = client.get(f"/api/v1/items/{item_id}/versions", headers=h).get_json()
    assert [v["version"] for v in history] == [1, 2]
    again = client.post(f"/api/v1/items/{item_id}/publish", headers=h)
    assert again.status_code == 200
    twice = client.post(f"/api/v1/items/{item_id}/publish", headers=h)
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "not_a_draft"
    retired = client.post(f"/api/v1/items/{item_id}/versions/1/retire", headers=h).get_json()
    assert retired["status"] == "retired"


def test_preview_has_no_key(client, bank):
    bank_id, h = bank
    for kind in ITEM_TYPES_SAMPLES:
        item_id = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(kind)).get_json()["item_id"]
        view = client.get(f"/api/v1/items/{item_id}/preview", headers=h).get_json()
        assert "scoring" not in view and "correct" not in str(view) and "accepted" not in str(view)
        assert "pairs" not in view["interaction"]


def test_learner_and_examiner_cannot_read_items_or_keys(client, bank, make_user, auth):
    bank_id, h = bank
    item_id = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item()).get_json()["item_id"]
    for role in ("learner", "examiner"):
        other = auth(make_user(role))
        for url in (f"/api/v1/items/{item_id}", f"/api/v1/banks/{bank_id}", "/api/v1/items", f"/api/v1/items/{item_id}/preview"):
            resp = client.get(url, headers=other)
            assert resp.status_code == 403, (role, url)
            assert "paris" not in resp.get_data(as_text=True)


def test_other_instructors_bank_is_invisible_until_shared(client, bank, make_user, auth):
    bank_id, h = bank
    item_id = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item()).get_json()["item_id"]
    colleague = make_user("instructor")
    ch = auth(colleague)
    assert client.get(f"/api/v1/items/{item_id}", headers=ch).status_code == 404
    assert client.put(f"/api/v1/items/{item_id}", headers=ch, json=item()).status_code == 404
    assert client.get("/api/v1/banks", headers=ch).get_json()["total"] == 0
    # Read share: can read, cannot edit or reshare.
    share = client.put(f"/api/v1/banks/{bank_id}/shares", headers=h, json={"email": colleague.email, "permission": "read"})
    assert share.status_code == 200
    assert client.get(f"/api/v1/items/{item_id}", headers=ch).status_code == 200
    denied = client.put(f"/api/v1/items/{item_id}", headers=ch, json=item(title="hijack"))
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "bank_forbidden"
    assert client.put(f"/api/v1/banks/{bank_id}/shares", headers=ch,
                      json={"email": colleague.email, "permission": "edit"}).status_code == 403
    # Edit share: can edit.
    client.put(f"/api/v1/banks/{bank_id}/shares", headers=h, json={"email": colleague.email, "permission": "edit"})
    assert client.put(f"/api/v1/items/{item_id}", headers=ch, json=item(title="fixed")).status_code == 200
    shares = client.get(f"/api/v1/banks/{bank_id}/shares", headers=h).get_json()
    assert shares == [{"user_id": colleague.id, "email": colleague.email, "permission": "edit"}]
    assert client.delete(f"/api/v1/banks/{bank_id}/shares/{colleague.id}", headers=h).status_code == 204
    assert client.get(f"/api/v1/items/{item_id}", headers=ch).status_code == 404


def test_type_specific_validation_names_the_field(client, bank):
    bank_id, h = bank
    cases = [
        (item("choice", scoring={"correct": []}), "scoring.correct"),
        (item("choice", scoring={"correct": ["rome"]}), "scoring.correct"),
        (item("match", scoring={"pairs": [["fr", "madrid"]]}), "scoring.pairs[0]"),
        (item("numeric", scoring={"value": 1, "tolerance": -0.1}), "scoring.tolerance"),
        (item("order", scoring={"correct_order": ["mercury", "venus"]}), "scoring.correct_order"),
        (item("inline_choice", stem="<p>no gap here</p>"), "stem"),
        (item("choice", interaction={"options": [{"id": "a", "html": "A"}, {"id": "a", "html": "B"}]},
              scoring={"correct": ["a"]}), "interaction.options[1].id"),
        (item("text_entry", scoring={"accepted": []}), "scoring.accepted"),
        (item("extended_text", scoring={"rubric": {"criteria": []}}), "scoring.rubric"),
        (item("choice", metadata={"irt": {"a": -1, "b": 0}}), "metadata.irt.a"),
    ]
    for data, field in cases:
        resp = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=data)
        assert resp.status_code == 422, (field, resp.get_json())
        err = resp.get_json()["error"]
        assert err["code"] == "item_invalid" and field in err["details"], (field, err)
    assert client.get("/api/v1/items?status=any", headers=h).get_json()["total"] == 0  # nothing was stored


def test_script_in_stem_is_sanitised(client, bank):
    bank_id, h = bank
    data = item(stem='<p onclick="steal()">Q<script>alert(1)</script><img src="javascript:alert(2)"><math><mi>x</mi></math></p>')
    body = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=data).get_json()
    assert "script" not in body["stem"] and "onclick" not in body["stem"] and "javascript" not in body["stem"]
    assert "<math><mi>x</mi></math>" in body["stem"]


def test_pool_queries_and_search(client, bank):
    bank_id, h = bank
    ids = {}
    for kind in ITEM_TYPES_SAMPLES:
        ids[kind] = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(kind)).get_json()["item_id"]
    for kind in ("choice", "multi", "numeric"):
        client.post(f"/api/v1/items/{ids[kind]}/publish", headers=h)

    def q(qs: str) -> set[int]:
        body = client.get(f"/api/v1/items?{qs}", headers=h).get_json()
        return {row["item_id"] for row in body["items"]}

    assert q("status=published") == {ids["choice"], ids["multi"], ids["numeric"]}
    assert q("status=published&tag=math") == {ids["multi"], ids["numeric"]}
    assert q("tag=geo&tag=europe") == {ids["choice"]}
    assert q("objective=capitals") == {ids["choice"]}
    assert q("type=match&type=order") == {ids["match"], ids["order"]}
    assert q("difficulty_min=0.5") == {ids["choice"], ids["multi"]}
    assert q("difficulty_max=0.5") == {ids["numeric"]}
    assert q("q=capital%20france") == {ids["choice"]}
    assert q("q=berlin") == {ids["match"]}  # option text is searched too
    page = client.get("/api/v1/items?per_page=3&page=2", headers=h).get_json()
    assert page["total"] == 8 and len(page["items"]) == 3 and page["page"] == 2
    # A new draft of a published item does not hide the published version from pools.
    client.put(f"/api/v1/items/{ids['choice']}", headers=h, json=item(title="v2 draft"))
    assert ids["choice"] in q("status=published")


def test_media_upload_limits(client, bank, app):
    bank_id, h = bank
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    ok = client.post(f"/api/v1/banks/{bank_id}/media", headers=h, content_type="multipart/form-data",
                     data={"file": (__import__("io").BytesIO(png), "diagram.png", "image/png")})
    assert ok.status_code == 201, ok.get_json()
    url = ok.get_json()["url"]
    got = client.get(url, headers=h)
    assert got.data == png and got.headers["Content-Type"] == "image/png"
    svg = client.post(f"/api/v1/banks/{bank_id}/media", headers=h, content_type="multipart/form-data",
                      data={"file": (__import__("io").BytesIO(b"<svg onload=x>"), "x.svg", "image/svg+xml")})
    assert svg.status_code == 422 and svg.get_json()["error"]["code"] == "media_type_not_allowed"
    fake = client.post(f"/api/v1/banks/{bank_id}/media", headers=h, content_type="multipart/form-data",
                       data={"file": (__import__("io").BytesIO(b"<html>"), "x.png", "image/png")})
    assert fake.get_json()["error"]["code"] == "media_type_mismatch"
    app.config["MEDIA_MAX_BYTES"] = 10
    big = client.post(f"/api/v1/banks/{bank_id}/media", headers=h, content_type="multipart/form-data",
                      data={"file": (__import__("io").BytesIO(png), "big.png", "image/png")})
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "media_too_large"


def test_delete_only_unpublished(client, bank):
    bank_id, h = bank
    a = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item()).get_json()["item_id"]
    b = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item()).get_json()["item_id"]
    client.post(f"/api/v1/items/{b}/publish", headers=h)
    assert client.delete(f"/api/v1/items/{a}", headers=h).status_code == 204
    refused = client.delete(f"/api/v1/items/{b}", headers=h)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "item_frozen"


def test_type_cannot_change(client, bank):
    bank_id, h = bank
    item_id = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item()).get_json()["item_id"]
    resp = client.put(f"/api/v1/items/{item_id}", headers=h, json=item("numeric"))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "item_type_change"
