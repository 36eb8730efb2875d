"""The examiner's /monitor namespace: who may watch, the snapshot, actions reaching the learner at once."""

from __future__ import annotations


def emit(sc, event, payload, ns="/exam"):  # noqa: ANN001
    return sc.emit(event, payload, namespace=ns, callback=True)


def payload(event):  # noqa: ANN001
    """The event's data (the test client does not wrap `message` events in a list)."""
    args = event["args"]
    return args[0] if isinstance(args, list) else args


def monitor_for(app, client, token_for, user):  # noqa: ANN001
    from exam_engine.extensions import socketio
    return socketio.test_client(app, namespace="/monitor", auth={"token": token_for(user)}, flask_test_client=client)


def test_learner_cannot_connect_and_unassigned_examiner_cannot_watch(app, client, token_for, make_user, started):
    exam_id = started[0]
    assert not monitor_for(app, client, token_for, make_user("learner")).is_connected("/monitor")
    stranger = monitor_for(app, client, token_for, make_user("examiner"))
    ack = emit(stranger, "watch", {"exam_id": exam_id}, "/monitor")
    assert ack["ok"] is False and ack["error"]["code"] == "exam_not_found"
    # Broadcasting to it looks the same as to a missing exam, whether or not it has open attempts.
    for exam in (exam_id, 999_999):
        ack = emit(stranger, "broadcast", {"exam_id": exam, "text": "Hello"}, "/monitor")
        assert ack["ok"] is False and ack["error"]["code"] == "exam_not_found"
    assert emit(stranger, "unwatch", {"exam_id": "x"}, "/monitor")["error"]["code"] == "malformed_payload"
    assert emit(stranger, "unwatch", {"exam_id": exam_id}, "/monitor") == {"ok": True}


def test_watch_snapshot_and_actions_reach_the_learner(app, client, token_for, make_user, started, bank_items, db):
    exam_id, sid, learner_sc, state = started
    _, _, h = bank_items
    examiner = make_user("examiner", name="Ezra")
    assert client.post(f"/api/v1/exams/{exam_id}/examiners", headers=h, json={"email": examiner.email}).status_code == 204
    mon = monitor_for(app, client, token_for, examiner)
    snap = emit(mon, "watch", {"exam_id": exam_id}, "/monitor")
    assert snap["ok"] and len(snap["sessions"]) == 1
    row = snap["sessions"][0]
    assert row["session_id"] == sid and row["status"] == "in_progress" and row["is_connected"] is True
    assert row["learner"] == "Lea" and row["n_items"] == 7

    learner_sc.get_received("/exam")
    assert emit(mon, "act", {"session_id": sid, "action": "message", "text": "Eyes on your own screen"}, "/monitor")["ok"]
    got = learner_sc.get_received("/exam")
    assert any(e["name"] == "message" and payload(e)["text"] == "Eyes on your own screen" for e in got)

    ack = emit(mon, "act", {"session_id": sid, "action": "pause"}, "/monitor")
    assert ack["ok"] and ack["session"]["status"] == "paused"
    got = learner_sc.get_received("/exam")
    assert [(e["args"][0]["status"], e["args"][0]["reason"]) for e in got if e["name"] == "status"] == \
        [("paused", "examiner_pause")]
    refused = emit(learner_sc, "answer", {"session_id": sid, "item_id": state["items"][0]["item_id"], "response": None, "seq": 1})
    assert refused["error"]["code"] == "session_paused"
    assert emit(mon, "act", {"session_id": sid, "action": "pause"}, "/monitor")["error"]["code"] == "invalid_state"

    assert emit(mon, "act", {"session_id": sid, "action": "resume"}, "/monitor")["ok"]
    assert [(e["args"][0]["status"], e["args"][0]["reason"]) for e in learner_sc.get_received("/exam")
            if e["name"] == "status"] == [("in_progress", "examiner_resume")]
    assert emit(mon, "act", {"session_id": sid, "action": "resume"}, "/monitor")["error"]["code"] == "invalid_state"
    before = snap["sessions"][0]["remaining_s"]
    ack = emit(mon, "act", {"session_id": sid, "action": "extend", "seconds": 120}, "/monitor")
    assert ack["session"]["remaining_s"] > before + 100
    got = learner_sc.get_received("/exam")
    times = [e["args"][0] for e in got if e["name"] == "time"]
    assert times and times[-1]["remaining_s"] > before + 100

    bad = emit(mon, "act", {"session_id": sid, "action": "explode"}, "/monitor")
    assert bad["error"]["code"] == "malformed_payload"
    no_reason = emit(mon, "act", {"session_id": sid, "action": "terminate"}, "/monitor")
    assert no_reason["error"]["code"] == "malformed_payload"
    ack = emit(mon, "act", {"session_id": sid, "action": "terminate", "reason": "Second person in the room"}, "/monitor")
    assert ack["ok"] and ack["session"]["status"] in ("scored", "terminated")
    got = learner_sc.get_received("/exam")
    assert [(e["args"][0]["reason"], e["args"][0].get("detail")) for e in got if e["name"] == "status"] == \
        [("terminated", "Second person in the room")]
    updates = [e for e in mon.get_received("/monitor") if e["name"] == "session_updates"]
    assert updates


def test_broadcast(app, client, token_for, make_user, started, instructor):
    exam_id, sid, learner_sc, _ = started
    mon = monitor_for(app, client, token_for, instructor)  # the exam's owner may watch too
    learner_sc.get_received("/exam")
    ack = emit(mon, "broadcast", {"exam_id": exam_id, "text": "Ten minutes left"}, "/monitor")
    assert ack == {"ok": True, "sent": 1}
    assert any(e["name"] == "message" for e in learner_sc.get_received("/exam"))
