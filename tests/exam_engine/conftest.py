"""Fixtures for exams and delivery: a published exam over sample items of every type, learners, socket clients."""

from __future__ import annotations

import pytest

from tests.factories import ITEM_TYPES_SAMPLES, item


@pytest.fixture
def instructor(make_user):
    return make_user("instructor", name="Ines")


@pytest.fixture
def bank_items(client, instructor, auth):
    """A bank with one published item of every sample type: (bank_id, {kind: item_id}, headers)."""
    h = auth(instructor)
    bank_id = client.post("/api/v1/banks", headers=h, json={"name": "Delivery bank"}).get_json()["id"]
    ids = {}
    for kind in ITEM_TYPES_SAMPLES:
        ids[kind] = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=item(kind)).get_json()["item_id"]
        assert client.post(f"/api/v1/items/{ids[kind]}/publish", headers=h).status_code == 200
    return bank_id, ids, h


@pytest.fixture
def make_exam(client, bank_items):
    """make_exam(**definition overrides) -> exam id (published)."""
    bank_id, ids, h = bank_items

    def factory(publish: bool = True, **overrides):
        definition = {"title": "Sample exam", "sections": [{"id": "main", "title": "All types",
                                                            "items": [ids[k] for k in ITEM_TYPES_SAMPLES if k != "extended_text"]}],
                      "time_limit_s": 600, "pass": {"mode": "percentage", "cut_score": 50}}
        definition.update(overrides)
        resp = client.post("/api/v1/exams", headers=h, json={"definition": definition})
        assert resp.status_code == 201, resp.get_json()
        exam_id = resp.get_json()["id"]
        if publish:
            pub = client.post(f"/api/v1/exams/{exam_id}/publish", headers=h)
            assert pub.status_code == 200, pub.get_json()
        return exam_id

    return factory


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lea")


@pytest.fixture
def socket_for(app, client, token_for):
    """socket_for(user) -> a connected /exam test client authenticated with the user's token."""
    from exam_engine.extensions import socketio
    clients = []

    def connect(user):  # noqa: ANN001
        sc = socketio.test_client(app, namespace="/exam", auth={"token": token_for(user)}, flask_test_client=client)
        assert sc.is_connected("/exam")
        clients.append(sc)
        return sc

    yield connect
    for sc in clients:
        if sc.is_connected("/exam"):
            sc.disconnect(namespace="/exam")


@pytest.fixture
def started(client, make_exam, learner, auth, socket_for):
    """(exam_id, session_id, socket client, state) for a learner who started and joined the sample exam."""
    exam_id = make_exam()
    resp = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(learner))
    assert resp.status_code == 201, resp.get_json()
    session_id = resp.get_json()["id"]
    sc = socket_for(learner)
    ack = sc.emit("join", {"session_id": session_id}, namespace="/exam", callback=True)
    assert ack["ok"], ack
    return exam_id, session_id, sc, ack["session"]
