"""`exam-engine demo`: the four demo accounts log in, the bank is realistic, the exams can be taken at once."""

from __future__ import annotations

from exam_engine.demo import DEMO_USERS, seed_demo


def test_demo_seed_is_complete_and_idempotent(app, client):
    with app.app_context():
        first = seed_demo(app, password="demo-password")
        again = seed_demo(app, password="demo-password")
    assert "75 items (75 new)" in first and "(0 new)" in again
    tokens = {}
    for email, role, _ in DEMO_USERS:
        resp = client.post("/api/v1/auth/token", json={"email": email, "password": "demo-password"})
        assert resp.status_code == 200, email
        assert resp.get_json()["user"]["role"] == role
        tokens[role] = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}
    items = client.get("/api/v1/items?per_page=200&status=published", headers=tokens["instructor"]).get_json()
    assert items["total"] == 75
    assert {i["type"] for i in items["items"]} == {"choice", "text_entry", "numeric", "extended_text", "order", "match",
                                                    "inline_choice"}
    exams = client.get("/api/v1/exams", headers=tokens["learner"]).get_json()["items"]
    assert len(exams) >= 2 and all(e["can_start"] for e in exams)
    timed = next(e for e in exams if "sections" in e["title"])
    assert timed["time_limit_s"] == 1200
    for exam in exams:
        resp = client.post(f"/api/v1/exams/{exam['id']}/sessions", headers=tokens["learner"])
        assert resp.status_code == 201, resp.get_json()
    watched = client.get("/api/v1/exams", headers=tokens["examiner"]).get_json()["items"]
    assert len(watched) == len(exams)
