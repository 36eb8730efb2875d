"""A learner takes a demo exam end to end against a real `exam-engine serve`, with a plain python-socketio client.

The client follows docs/protocol.md only: REST token and start, Socket.IO
`/exam` with the token in `auth`, join, an answer to every item (each acked
with its seq), a reconnect that gets every answer back, submit, and the result
over REST.
"""

from __future__ import annotations

import pytest
import requests

from ._server import DEMO_PASSWORD, Api, Learner, answer_for, exam_by_title
from .conftest import seed_demo

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_learner_takes_a_demo_exam_over_the_protocol(backend, request, start_server, tmp_path):  # noqa: ANN001
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    seed_demo(url, tmp_path)
    server = start_server(url)
    assert requests.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"

    api = Api(server.url, "learner@example.org", DEMO_PASSWORD)
    exam = exam_by_title(api, "Web security: quick check")
    assert exam["can_start"] is True
    attempt = api.call("POST", f"/exams/{exam['id']}/sessions", expect=201)
    assert attempt["status"] == "in_progress"
    # A second start (a reload) returns the same attempt.
    assert api.call("POST", f"/exams/{exam['id']}/sessions", expect=200)["id"] == attempt["id"]

    learner = Learner(server.url, api.token)
    try:
        joined = learner.call("join", {"session_id": attempt["id"]})
        assert joined["ok"] is True, joined
        state = joined["session"]
        assert state["id"] == attempt["id"] and state["status"] == "in_progress" and state["last_seq"] == 0
        assert 14 * 60 < state["remaining_s"] <= 15 * 60 and state["responses"] == {}
        assert len(state["items"]) == 7 and "scoring" not in str(state["items"])

        sent = {}
        seq = state["last_seq"]
        for item in state["items"]:
            seq += 1
            response = answer_for(item)
            ack = learner.call("answer", {"session_id": attempt["id"], "item_id": item["item_id"],
                                          "response": response, "seq": seq})
            assert ack == {"ok": True, "seq": seq}, (item["type"], ack)
            sent[str(item["item_id"])] = response
        # A replay of an acked message changes nothing and says so.
        replay = learner.call("answer", {"session_id": attempt["id"], "item_id": state["items"][0]["item_id"],
                                         "response": answer_for(state["items"][0], 1), "seq": seq})
        assert replay == {"ok": True, "seq": seq, "duplicate": True}
        clock = learner.call("time", {"session_id": attempt["id"]})
        assert clock["ok"] and clock["status"] == "in_progress" and clock["remaining_s"] > 14 * 60
    finally:
        learner.close()

    # A reconnect (a reload, or another worker) continues exactly where the learner was.
    learner = Learner(server.url, api.token)
    try:
        state = learner.call("join", {"session_id": attempt["id"]})["session"]
        assert state["responses"] == sent and state["last_seq"] == seq
        done = learner.call("submit", {"session_id": attempt["id"], "seq": seq + 1})
        assert done["ok"] is True and done["status"] in ("submitted", "scored", "pending_grading"), done
        _, status = learner.wait_for("status", lambda d: d["session_id"] == attempt["id"])
        assert status["status"] == done["status"]
        late = learner.call("answer", {"session_id": attempt["id"], "item_id": state["items"][0]["item_id"],
                                       "response": answer_for(state["items"][0]), "seq": seq + 2})
        assert late["ok"] is False and late["error"]["code"] == "session_closed"
    finally:
        learner.close()

    summary = api.call("GET", f"/sessions/{attempt['id']}")
    assert summary["status"] == done["status"] and summary["end_reason"] == "submitted"
    result = api.call("GET", f"/sessions/{attempt['id']}/result")
    assert result["session_id"] == attempt["id"] and set(result["items"]) == set(sent)
    assert result["max_score"] > 0 and 0 <= result["score"] <= result["max_score"]
    assert len(result["log_head"]) == 64
