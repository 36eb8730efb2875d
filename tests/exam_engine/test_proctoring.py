"""Proctoring end to end with real socket test clients: signals becoming flags, automatic actions, review,
reports, collusion screening, rate limiting, malformed signals, snapshots, purge and access control."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.factories import item
from tests.system.conftest import pg_url, start_server  # noqa: F401  (fixtures of the two-worker test)

from .test_monitor import emit, monitor_for, payload


@pytest.fixture
def proctored(app, client, make_exam, make_user, learner, auth, socket_for, bank_items, token_for):
    """proctored(level, **settings) -> dict(exam_id, sid, sc (learner socket), state, mon (examiner socket), examiner)."""
    _, _, h = bank_items

    def factory(level="standard", learner_user=None, exam_id=None, **settings):
        if exam_id is None:
            exam_id = make_exam(proctoring={"level": level, "settings": settings})
        user = learner_user or learner
        resp = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user))
        assert resp.status_code in (200, 201), resp.get_json()
        sid = resp.get_json()["id"]
        sc = socket_for(user)
        ack = emit(sc, "join", {"session_id": sid})
        assert ack["ok"], ack
        examiner = make_user("examiner", name="Ezra")
        assert client.post(f"/api/v1/exams/{exam_id}/examiners", headers=h, json={"email": examiner.email}).status_code == 204
        mon = monitor_for(app, client, token_for, examiner)
        assert emit(mon, "watch", {"exam_id": exam_id}, "/monitor")["ok"]
        return {"exam_id": exam_id, "sid": sid, "sc": sc, "state": ack["session"], "mon": mon, "examiner": examiner,
                "learner": user}

    return factory


class Seq:
    def __init__(self, start=0):
        self.n = start

    def __call__(self):
        self.n += 1
        return self.n


def signal(sc, sid, kind, seq, **detail):  # noqa: ANN001
    return emit(sc, "signal", {"session_id": sid, "kind": kind, "at": int(time.time() * 1000), "detail": detail,
                               "seq": seq})


def events(sc, name, ns="/exam"):  # noqa: ANN001
    return [payload(e) for e in sc.get_received(ns) if e["name"] == name]


def test_signals_become_flags_warn_the_learner_and_alert_examiners(proctored, client, auth):
    p = proctored("standard", max_focus_losses=2, alert_from="medium")
    sc, sid, mon, seq = p["sc"], p["sid"], p["mon"], Seq()
    assert p["state"]["proctoring"]["level"] == "standard" and p["state"]["proctoring"]["is_recorded"]
    sc.get_received("/exam")
    mon.get_received("/monitor")
    for _ in range(2):
        assert signal(sc, sid, "focus_lost", seq()) == {"ok": True, "seq": seq.n}
    assert not events(sc, "warning")
    assert signal(sc, sid, "tab_hidden", seq())["ok"]  # the third time away crosses max_focus_losses=2
    warnings = events(sc, "warning")
    assert len(warnings) == 1 and warnings[0]["rule"] == "focus_losses" and "3 times" in warnings[0]["text"]
    got = mon.get_received("/monitor")
    flags = [payload(e) for e in got if e["name"] == "flag"]
    assert flags and flags[0]["flag"]["rule"] == "focus_losses" and flags[0]["flag"]["severity"] == "medium"
    assert flags[0]["alert"] is True and flags[0]["risk"] > 0
    rows = [r for e in got if e["name"] == "session_updates" for r in payload(e)["sessions"]]
    assert rows and rows[-1]["flags"] == 1 and rows[-1]["risk"] == flags[0]["risk"]
    listed = client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=auth(p["examiner"])).get_json()["flags"]
    assert [(f["rule"], f["status"], f["detail"]["count"]) for f in listed] == [("focus_losses", "open", 3)]
    # Three more escalate the same flag to high (6 = twice the first crossing), no new flag.
    for _ in range(3):
        signal(sc, sid, "focus_lost", seq())
    listed = client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=auth(p["examiner"])).get_json()["flags"]
    assert len(listed) == 1 and listed[0]["severity"] == "high" and listed[0]["count"] == 2
    # Replays are idempotent.
    assert signal(sc, sid, "focus_lost", 1)["duplicate"] is True


def test_strict_policy_pauses_at_the_risk_threshold(proctored):
    p = proctored("strict", pause_at_risk=45)
    sc, sid, mon, seq = p["sc"], p["sid"], p["mon"], Seq()
    sc.get_received("/exam")
    assert signal(sc, sid, "fullscreen_exit", seq())["ok"]  # fullscreen required: medium (15)
    assert [w["rule"] for w in events(sc, "warning")] == ["fullscreen"]
    assert signal(sc, sid, "print", seq())["ok"]  # high (35): risk 50 >= 45
    got = sc.get_received("/exam")
    statuses = [payload(e) for e in got if e["name"] == "status"]
    assert statuses and statuses[-1]["status"] == "paused"
    item_id = p["state"]["items"][0]["item_id"]
    refused = emit(sc, "answer", {"session_id": sid, "item_id": item_id, "response": None, "seq": seq()})
    assert refused["error"]["code"] == "session_paused"
    # Signals are still recorded while paused; the examiner resumes and the pause does not come back by itself.
    assert signal(sc, sid, "copy", seq())["ok"]
    ack = emit(mon, "act", {"session_id": sid, "action": "resume"}, "/monitor")
    assert ack["ok"] and ack["session"]["status"] == "in_progress" and ack["session"]["risk"] >= 45
    assert emit(sc, "answer", {"session_id": sid, "item_id": item_id, "response": None, "seq": seq()})["ok"]


def test_record_only_flags_silently_and_none_records_nothing(proctored, make_exam, make_user, client, auth):
    p = proctored("record_only", max_focus_losses=0)
    sc, sid = p["sc"], p["sid"]
    sc.get_received("/exam")
    assert signal(sc, sid, "focus_lost", 1)["ok"]
    assert not events(sc, "warning")
    flags = client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=auth(p["examiner"])).get_json()["flags"]
    assert [f["rule"] for f in flags] == ["focus_losses"]

    other = make_user("learner", name="Nina")
    q = proctored("none", learner_user=other)
    assert q["state"]["proctoring"]["is_recorded"] is False
    assert signal(q["sc"], q["sid"], "focus_lost", 1) == {"ok": True, "seq": 1, "recorded": False}
    report = client.get(f"/api/v1/sessions/{q['sid']}/proctoring/report", headers=auth(q["examiner"])).get_json()
    assert report["signals"] == [] and report["flags"] == []


def test_risk_orders_the_examiners_view(proctored, make_user, app, client, token_for, bank_items):
    p = proctored("standard", max_focus_losses=0)
    calm = make_user("learner", name="Calm")
    q = proctored(exam_id=p["exam_id"], learner_user=calm)
    assert signal(p["sc"], p["sid"], "focus_lost", 1)["ok"]
    snap = emit(q["mon"], "watch", {"exam_id": p["exam_id"]}, "/monitor")
    assert [r["session_id"] for r in snap["sessions"]] == [p["sid"], q["sid"]]
    assert snap["sessions"][0]["risk"] > snap["sessions"][1]["risk"] == 0
    assert snap["sessions"][0]["flags"] == 1


def test_review_over_rest_and_monitor(proctored, client, auth, make_user, app, token_for):
    p = proctored("standard", max_focus_losses=0, max_clipboard=0)
    sc, sid, mon = p["sc"], p["sid"], p["mon"]
    signal(sc, sid, "focus_lost", 1)
    signal(sc, sid, "paste", 2)
    h = auth(p["examiner"])
    flags = {f["rule"]: f for f in client.get(f"/api/v1/exams/{p['exam_id']}/proctoring/flags?status=open",
                                               headers=h).get_json()["flags"]}
    assert set(flags) == {"focus_losses", "clipboard"}
    risk_before = emit(mon, "watch", {"exam_id": p["exam_id"]}, "/monitor")["sessions"][0]["risk"]

    no_note = client.post(f"/api/v1/proctoring/flags/{flags['clipboard']['id']}/review", headers=h,
                          json={"status": "confirmed"})
    assert no_note.status_code == 422
    resp = client.post(f"/api/v1/proctoring/flags/{flags['clipboard']['id']}/review", headers=h,
                       json={"status": "confirmed", "note": "Pasted a paragraph into the essay"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "confirmed" and resp.get_json()["reviewer_id"] == p["examiner"].id

    mon.get_received("/monitor")
    ack = emit(mon, "review_flag", {"flag_id": flags["focus_losses"]["id"], "status": "dismissed",
                                    "note": "The fire alarm went off"}, "/monitor")
    assert ack["ok"] and ack["flag"]["status"] == "dismissed" and ack["flag"]["note"] == "The fire alarm went off"
    got = mon.get_received("/monitor")
    assert any(e["name"] == "flag" and payload(e)["flag"]["status"] == "dismissed" for e in got)
    # Confirmed clipboard (medium x 1.5) and dismissed focus (0): 22.5 instead of 30 before.
    assert ack["risk"] == 22.5 and ack["risk"] < risk_before
    bad = emit(mon, "review_flag", {"flag_id": flags["focus_losses"]["id"], "status": "maybe", "note": "x"}, "/monitor")
    assert bad["error"]["code"] == "malformed_payload"

    stranger = make_user("examiner")
    assert client.post(f"/api/v1/proctoring/flags/{flags['clipboard']['id']}/review", headers=auth(stranger),
                       json={"status": "dismissed", "note": "x"}).get_json()["error"]["code"] == "flag_not_found"
    smon = monitor_for(app, client, token_for, stranger)
    assert emit(smon, "review_flag", {"flag_id": flags["clipboard"]["id"], "status": "dismissed", "note": "x"},
                "/monitor")["error"]["code"] == "flag_not_found"
    learner_resp = client.post(f"/api/v1/proctoring/flags/{flags['clipboard']['id']}/review", headers=auth(p["learner"]),
                               json={"status": "dismissed", "note": "not me"})
    assert learner_resp.status_code == 404


def test_report_timeline_and_summary(proctored, client, auth, make_user):
    p = proctored("standard", max_focus_losses=0)
    sc, sid, mon, seq = p["sc"], p["sid"], p["mon"], Seq()
    first = p["state"]["items"][0]
    assert emit(sc, "answer", {"session_id": sid, "item_id": first["item_id"], "response": None, "seq": seq()})["ok"]
    signal(sc, sid, "tab_hidden", seq(), hidden_ms=1200)
    assert emit(mon, "act", {"session_id": sid, "action": "message", "text": "Please stay on the page"}, "/monitor")["ok"]
    h = auth(p["examiner"])
    flag = client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=h).get_json()["flags"][0]
    client.post(f"/api/v1/proctoring/flags/{flag['id']}/review", headers=h, json={"status": "confirmed", "note": "seen"})
    assert emit(sc, "submit", {"session_id": sid, "seq": seq()})["ok"]

    report = client.get(f"/api/v1/sessions/{sid}/proctoring/report", headers=h).get_json()
    assert report["chain"]["ok"] is True and report["chain"]["length"] == len(report["timeline"])
    assert report["session"]["started_at"].startswith(str(datetime.now(timezone.utc).year))  # ISO 8601
    kinds = [e["kind"] for e in report["timeline"]]
    for k in ("start", "answer", "signal", "flag_raised", "proctoring_warning", "examiner_action", "flag_reviewed", "submit"):
        assert k in kinds, (k, kinds)
    assert kinds.index("answer") < kinds.index("signal") < kinds.index("flag_raised") < kinds.index("flag_reviewed")
    sig = next(e for e in report["timeline"] if e["kind"] == "signal")
    assert sig["category"] == "signal" and sig["detail"] == {"hidden_ms": 1200} and sig["actor"]["role"] == "learner"
    action = next(e for e in report["timeline"] if e["kind"] == "examiner_action")
    assert action["actor"]["role"] == "examiner" and action["data"]["text"] == "Please stay on the page"
    assert report["flags"][0]["status"] == "confirmed" and report["counts"] == {"tab_hidden": 1}

    summary = client.get(f"/api/v1/exams/{p['exam_id']}/proctoring/summary", headers=h).get_json()
    assert summary["attempts"] == 1 and summary["flagged_attempts"] == 1
    assert summary["flags_by_rule"] == {"focus_losses": {"open": 0, "confirmed": 1, "dismissed": 0}}
    assert summary["signals_by_kind"] == {"tab_hidden": 1}

    # Nobody else sees it: another learner, the learner, an examiner of another exam.
    for user in (make_user("learner"), p["learner"], make_user("examiner")):
        r = client.get(f"/api/v1/sessions/{sid}/proctoring/report", headers=auth(user))
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "session_not_found"
        assert client.get(f"/api/v1/exams/{p['exam_id']}/proctoring/summary", headers=auth(user)).status_code == 404
        assert client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=auth(user)).status_code == 404


def test_malformed_signals_are_refused_with_a_code(proctored, socket_for, make_user):
    p = proctored("standard")
    sc, sid = p["sc"], p["sid"]
    cases = [
        ("not a dict", "malformed_payload"),
        ({"session_id": sid, "kind": "telepathy", "seq": 1}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy"}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": 0}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": "1"}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": 1, "at": "yesterday"}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": 1, "at": "2026-11-28T10:00:00"}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": 1, "detail": {"x": {"nested": 1}}}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": 1, "detail": {"x": "y" * 2000}}, "malformed_payload"),
        ({"session_id": sid, "kind": "copy", "seq": 1, "extra": True}, "malformed_payload"),
        ({"session_id": "0" * 32, "kind": "copy", "seq": 1}, "not_joined"),
    ]
    for body, code in cases:
        ack = sc.emit("signal", body, namespace="/exam", callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == code, (body, ack)
    ack = sc.emit("signal", {"session_id": sid, "kind": "copy", "seq": 1, "at": "2026-11-28T10:00:00Z"},
                  namespace="/exam", callback=True)
    assert ack == {"ok": True, "seq": 1}
    intruder = socket_for(make_user("learner"))
    ack = emit(intruder, "join", {"session_id": sid})
    assert ack["error"]["code"] == "session_not_found"
    assert signal(intruder, sid, "copy", 2)["error"]["code"] == "not_joined"


def test_a_signal_flood_is_rate_limited_while_answers_are_acked(proctored, client, auth):
    p = proctored("standard", signal_rate=20, signal_window_s=60)
    sc, sid, seq = p["sc"], p["sid"], Seq()
    items = p["state"]["items"]
    codes, answer_ms = [], []
    for i in range(400):
        ack = signal(sc, sid, random.choice(["resize", "context_menu", "focus_gained"]), seq())
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
        if i % 40 == 0:
            t0 = time.perf_counter()
            ack = emit(sc, "answer", {"session_id": sid, "item_id": items[(i // 40) % len(items)]["item_id"],
                                      "response": None, "seq": seq()})
            answer_ms.append((time.perf_counter() - t0) * 1000)
            assert ack["ok"], ack
    assert codes.count("ok") == 20 and codes.count("rate_limited") == 380
    assert max(answer_ms) < 2000
    limited = signal(sc, sid, "copy", seq())
    assert 0 < limited["error"]["details"]["retry_after_s"] <= 60
    report = client.get(f"/api/v1/sessions/{sid}/proctoring/report", headers=auth(p["examiner"])).get_json()
    assert len(report["signals"]) == 20  # refused signals leave nothing behind


def test_a_connection_that_keeps_flooding_is_dropped(proctored, app, socket_for):
    app.config["PROCTORING_FLOOD_DISCONNECT"] = 50
    p = proctored("standard", signal_rate=5, signal_window_s=60)
    sc, sid, seq = p["sc"], p["sid"], Seq()
    codes = []
    while sc.is_connected("/exam") and len(codes) < 100:
        codes.append(signal(sc, sid, "resize", seq()).get("error", {}).get("code", "ok"))
    # 5 accepted, one refused by the database, 50 shed by the connection, then it is dropped.
    assert codes == ["ok"] * 5 + ["rate_limited"] * 51 and not sc.is_connected("/exam")
    # The learner comes back (the outbox reconnects): the attempt is intact, the window still full.
    again = socket_for(p["learner"])
    state = emit(again, "join", {"session_id": sid})["session"]
    assert state["status"] == "in_progress"
    assert signal(again, sid, "resize", 1000)["error"]["code"] == "rate_limited"
    item_id = state["items"][0]["item_id"]
    assert emit(again, "answer", {"session_id": sid, "item_id": item_id, "response": None, "seq": 1001})["ok"]


def test_rate_limiter_in_redis(app, redis_url):
    import uuid
    from datetime import datetime, timezone

    import redis

    from exam_engine.proctoring.services import RedisRateLimiter
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url))
    sid, now = uuid.uuid4().hex, datetime.now(timezone.utc)
    allowed = [limiter.allow(None, sid, now=now, rate=5, window_s=10) for _ in range(8)]
    assert allowed == [True] * 5 + [False] * 3
    assert limiter.allow(None, sid, now=now + timedelta(seconds=10), rate=5, window_s=10)


@pytest.fixture
def timed_exam(client, bank_items, make_exam):
    """An exam whose items say they take 5 minutes each (fast answers are flagged)."""
    bank_id, _, h = bank_items
    ids = []
    for i in range(4):
        body = item("choice", title=f"Timed {i}", metadata={"estimated_time_s": 300})
        ids.append(client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=body).get_json()["item_id"])
        assert client.post(f"/api/v1/items/{ids[-1]}/publish", headers=h).status_code == 200
    return lambda **settings: make_exam(sections=[{"id": "t", "items": ids}],
                                        proctoring={"level": "standard", "settings": settings})


def test_server_seen_signals(proctored, timed_exam, app, client, auth, socket_for, token_for):
    from exam_engine.db import get_db, utcnow
    from exam_engine.extensions import socketio
    from exam_engine.proctoring import notify, services

    exam_id = timed_exam(max_fast_answers=1, inactivity_s=60, alert_from="medium", max_disconnected_s=0)
    p = proctored(exam_id=exam_id)
    sc, sid, seq = p["sc"], p["sid"], Seq()
    for it in p["state"]["items"][:3]:
        opt = it["interaction"]["options"][0]["id"]
        assert emit(sc, "answer", {"session_id": sid, "item_id": it["item_id"], "response": [opt], "seq": seq()})["ok"]
    p["mon"].get_received("/monitor")
    assert notify.scan_once(app) == 1  # the periodic job: three answers in well under 15% of 300 s
    assert notify.scan_once(app) == 0  # nothing new
    h = auth(p["examiner"])
    flags = {f["rule"]: f for f in client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=h).get_json()["flags"]}
    assert flags["fast_answers"]["detail"]["count"] == 2
    assert any(e["name"] == "flag" and payload(e)["flag"]["rule"] == "fast_answers" for e in p["mon"].get_received("/monitor"))

    # A second device with another browser and address takes over: second connection, user agent and IP change.
    app.config["TRUST_PROXY"] = True
    other = socketio.test_client(app, namespace="/exam", auth={"token": token_for(p["learner"])}, flask_test_client=client,
                                 headers={"User-Agent": "OtherBrowser/1.0", "X-Forwarded-For": "10.9.9.9"})
    assert emit(other, "join", {"session_id": sid})["ok"]
    flags = {f["rule"]: f for f in client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=h).get_json()["flags"]}
    assert "second_connection" in flags and flags["second_connection"]["severity"] == "medium"
    assert "user_agent_change" in flags and flags["user_agent_change"]["detail"]["to"] == "OtherBrowser/1.0"
    assert flags["ip_change"]["detail"]["to"] == "10.9.9.9"

    # Time disconnected (max_disconnected_s 0: any reconnection after a gap counts).
    other.disconnect(namespace="/exam")
    time.sleep(0.05)
    other = socketio.test_client(app, namespace="/exam", auth={"token": token_for(p["learner"])}, flask_test_client=client,
                                 headers={"User-Agent": "OtherBrowser/1.0", "X-Forwarded-For": "10.9.9.9"})
    assert emit(other, "join", {"session_id": sid})["ok"]
    flags = {f["rule"]: f for f in client.get(f"/api/v1/sessions/{sid}/proctoring/flags", headers=h).get_json()["flags"]}
    assert flags["disconnected"]["detail"]["total_s"] > 0

    # Long inactivity (the scan run as if 2 minutes had passed).
    with app.app_context():
        db = get_db().session()
        effects = services.scan_attempt(db, sid, now=utcnow() + timedelta(seconds=120))
        db.commit()
        db.close()
    assert [f["rule"] for f in effects.flags] == ["inactivity"]
    other.disconnect(namespace="/exam")


def _snapshot_bytes(size=2000):  # noqa: ANN001
    return b"\xff\xd8\xff\xe0" + bytes(random.Random(1).getrandbits(8) for _ in range(size))


def test_snapshots_need_consent_and_only_examiners_see_them(proctored, client, auth, make_user):
    p = proctored("standard", snapshot_interval_s=30)
    sid, h_learner = p["sid"], auth(p["learner"])
    assert p["state"]["proctoring"]["webcam"] is True and p["state"]["proctoring"]["consent_required"] is True
    notice = client.get(f"/api/v1/exams/{p['exam_id']}/proctoring/notice", headers=h_learner).get_json()
    assert notice["snapshot_interval_s"] == 30 and "webcam" in notice["text"] and notice["retention_days"] == 180
    url = f"/api/v1/sessions/{sid}/proctoring/snapshots"
    jpeg = {**h_learner, "Content-Type": "image/jpeg"}
    r = client.post(url, headers=jpeg, data=_snapshot_bytes())
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "consent_required"
    assert client.post(f"/api/v1/sessions/{sid}/proctoring/consent", headers=h_learner).status_code == 200
    assert client.post(url, headers=jpeg, data=b"GIF89a" + b"0" * 100).get_json()["error"]["code"] == "snapshot_type"
    assert client.post(url, headers=jpeg, data=_snapshot_bytes(600 * 1024)).status_code == 413
    r = client.post(url, headers=jpeg, data=_snapshot_bytes())
    assert r.status_code == 201, r.get_json()
    snap = r.get_json()
    again = client.post(url, headers=jpeg, data=_snapshot_bytes())
    assert again.status_code == 429 and again.get_json()["error"]["code"] == "rate_limited"

    h = auth(p["examiner"])
    listed = client.get(url, headers=h).get_json()["snapshots"]
    assert [s["id"] for s in listed] == [snap["id"]]
    img = client.get(f"/api/v1/proctoring/snapshots/{snap['id']}", headers=h)
    assert img.status_code == 200 and img.mimetype == "image/jpeg" and img.data == _snapshot_bytes()
    for user in (p["learner"], make_user("learner"), make_user("examiner")):
        assert client.get(f"/api/v1/proctoring/snapshots/{snap['id']}", headers=auth(user)).status_code == 404
        assert client.get(url, headers=auth(user)).status_code == 404
    # Another learner cannot upload into this attempt either.
    stranger = make_user("learner")
    r = client.post(url, headers={**auth(stranger), "Content-Type": "image/jpeg"}, data=_snapshot_bytes())
    assert r.status_code == 404


def test_snapshots_are_refused_when_the_policy_takes_none(proctored, client, auth):
    p = proctored("standard")
    r = client.post(f"/api/v1/sessions/{p['sid']}/proctoring/snapshots",
                    headers={**auth(p["learner"]), "Content-Type": "image/jpeg"}, data=_snapshot_bytes())
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "snapshots_disabled"


def test_purge_deletes_signals_and_snapshots_past_retention(proctored, app, client, auth):
    p = proctored("standard", retention_days=30, snapshot_interval_s=30, max_focus_losses=0)
    sc, sid, h_learner = p["sc"], p["sid"], auth(p["learner"])
    signal(sc, sid, "focus_lost", 1, note="x")
    client.post(f"/api/v1/sessions/{sid}/proctoring/consent", headers=h_learner)
    assert client.post(f"/api/v1/sessions/{sid}/proctoring/snapshots", headers={**h_learner, "Content-Type": "image/jpeg"},
                       data=_snapshot_bytes()).status_code == 201
    assert emit(sc, "submit", {"session_id": sid, "seq": 2})["ok"]
    runner = app.test_cli_runner()
    from exam_engine.db import utcnow
    soon = (utcnow() + timedelta(days=29)).isoformat()
    later = (utcnow() + timedelta(days=31)).isoformat()
    out = runner.invoke(args=["proctoring", "purge", "--now", soon])
    assert out.exit_code == 0 and "deleted 0 signals and 0 snapshots" in out.output, out.output
    out = runner.invoke(args=["proctoring", "purge", "--now", later, "--dry-run"])
    assert "would delete 1 signals and 1 snapshots of 1 attempts" in out.output, out.output
    out = runner.invoke(args=["proctoring", "purge", "--now", later])
    assert "deleted 1 signals and 1 snapshots of 1 attempts" in out.output, out.output
    report = client.get(f"/api/v1/sessions/{sid}/proctoring/report", headers=auth(p["examiner"])).get_json()
    assert report["signals"] == [] and report["snapshots"] == []
    # The chained log keeps the signal's kind and time only, so the chain still verifies; flags stay.
    assert report["chain"]["ok"] is True
    sig = next(e for e in report["timeline"] if e["kind"] == "signal")
    assert sig["data"]["kind"] == "focus_lost" and sig["detail"] is None
    assert [f["rule"] for f in report["flags"]] == ["focus_losses"]


def test_collusion_screening_on_a_seeded_case(client, bank_items, make_exam, make_user, auth, socket_for):
    """Ten learners answer 30 four-option items; learner 1 copies learner 0's answers (wrong ones included)."""
    bank_id, _, h = bank_items
    ids = []
    for i in range(30):
        body = item("choice", title=f"Q{i}", interaction={"options": [{"id": o, "html": o} for o in "abcd"],
                                                          "max_choices": 1},
                    scoring={"correct": ["a"], "points": 1})
        ids.append(client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=body).get_json()["item_id"])
        assert client.post(f"/api/v1/items/{ids[-1]}/publish", headers=h).status_code == 200
    exam_id = make_exam(sections=[{"id": "s", "items": ids}], time_limit_s=3600)
    rng = random.Random(7)
    # Each item has its own distractor popularity, the same for everyone (as in real tests).
    popularity = {i: rng.sample(["b", "c", "d"], 3) for i in ids}
    answers = []
    for n in range(10):
        ability = rng.uniform(0.3, 0.7)
        answers.append({i: "a" if rng.random() < ability else rng.choices(popularity[i], weights=[5, 3, 2])[0]
                        for i in ids})
    answers[1] = {i: (answers[0][i] if rng.random() < 0.95 else answers[1][i]) for i in ids}
    learners, sids = [], []
    for n in range(10):
        user = make_user("learner", name=f"L{n}")
        sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
        sc = socket_for(user)
        assert emit(sc, "join", {"session_id": sid})["ok"]
        for k, i in enumerate(ids, start=1):
            assert emit(sc, "answer", {"session_id": sid, "item_id": i, "response": [answers[n][i]], "seq": k})["ok"]
        assert emit(sc, "submit", {"session_id": sid, "seq": 100})["ok"]
        sc.disconnect(namespace="/exam")
        learners.append(user)
        sids.append(sid)
    examiner = make_user("examiner")
    assert client.post(f"/api/v1/exams/{exam_id}/examiners", headers=h, json={"email": examiner.email}).status_code == 204
    resp = client.get(f"/api/v1/exams/{exam_id}/proctoring/collusion", headers=auth(examiner))
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["attempts"] == 10 and report["tests"] == 90
    flagged = [pair for pair in report["pairs"] if pair["is_flagged"]]
    assert len(flagged) == 1, [(p["learners"], p["k_index"]) for p in report["pairs"]]
    pair = flagged[0]
    assert {pair["a"], pair["b"]} == {sids[0], sids[1]}
    assert pair["k_index"]["p_adjusted"] < 0.05 and pair["identical_wrong"] >= 8
    wrong0 = {i for i in ids if answers[0][i] != "a" and answers[1][i] == answers[0][i]}
    assert {e["item"] for e in pair["items"]} == wrong0
    assert all(e["response"] == [answers[0][e["item"]]] for e in pair["items"])
    assert pair["error_similarity"]["p_value"] < 0.01
    # Only the exam's examiners may run it.
    for user in (learners[2], make_user("examiner")):
        r = client.get(f"/api/v1/exams/{exam_id}/proctoring/collusion", headers=auth(user))
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "exam_not_found"


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_proctoring_across_two_workers(tmp_path, pg_url, redis_url, start_server):  # noqa: F811
    """A learner on worker A trips the strict policy; the examiner on worker B gets the flags, reviews and resumes."""
    import threading

    import socketio

    from tests.system._server import DEMO_PASSWORD, Api, Learner

    from tests.system.conftest import seed_demo
    seed_demo(pg_url, tmp_path)
    a = start_server(pg_url, redis_url=redis_url, name="a")
    b = start_server(pg_url, redis_url=redis_url, name="b")

    inst = Api(a.url, "instructor@example.org", DEMO_PASSWORD)
    bank = inst.call("POST", "/banks", json={"name": "Proctoring across workers"})["id"]
    item_id = inst.call("POST", f"/banks/{bank}/items", json=item("choice"))["item_id"]
    inst.call("POST", f"/items/{item_id}/publish")
    definition = {"title": "Proctored across workers", "sections": [{"id": "s", "items": [item_id]}], "time_limit_s": 600,
                  "proctoring": {"level": "strict", "settings": {"max_focus_losses": 1, "pause_at_risk": 30}}}
    exam_id = inst.call("POST", "/exams", json={"definition": definition})["id"]
    inst.call("POST", f"/exams/{exam_id}/publish")
    inst.call("POST", f"/exams/{exam_id}/examiners", json={"email": "examiner@example.org"})
    learner_api = Api(a.url, "learner@example.org", DEMO_PASSWORD)
    sid = learner_api.call("POST", f"/exams/{exam_id}/sessions", expect=201)["id"]

    learner = Learner(a.url, learner_api.token)
    learner.sio.on("warning", learner._recorder("warning"), namespace="/exam")
    flags: list[dict] = []
    got_flag = threading.Condition()

    def on_flag(data):  # noqa: ANN001
        with got_flag:
            flags.append(data)
            got_flag.notify_all()

    examiner = socketio.Client(reconnection=False, request_timeout=10)
    examiner.on("flag", on_flag, namespace="/monitor")
    examiner.connect(b.url, namespaces=["/monitor"], auth={"token": Api(b.url, "examiner@example.org", DEMO_PASSWORD).token},
                     transports=["websocket"], wait_timeout=10)

    def wait_flags(n: int, timeout: float = 3.0) -> list[dict]:
        end = time.monotonic() + timeout
        with got_flag:
            while len(flags) < n:
                left = end - time.monotonic()
                assert left > 0, f"only {flags} within {timeout} s"
                got_flag.wait(left)
            return list(flags)

    try:
        assert learner.call("join", {"session_id": sid})["session"]["proctoring"]["level"] == "strict"
        assert examiner.call("watch", {"exam_id": exam_id}, namespace="/monitor", timeout=10)["ok"]
        since = time.monotonic()
        for seq, kind in enumerate(["focus_lost", "focus_lost", "fullscreen_exit"], start=1):
            assert learner.call("signal", {"session_id": sid, "kind": kind, "seq": seq}) == {"ok": True, "seq": seq}
        got = wait_flags(2)
        assert [f["flag"]["rule"] for f in got] == ["focus_losses", "fullscreen"] and all(f["alert"] for f in got)
        assert got[-1]["risk"] == 30
        learner.wait_for("warning", lambda d: d["rule"] == "fullscreen", since=since, timeout=1)
        learner.wait_for("status", lambda d: d["status"] == "paused", since=since, timeout=1)

        ack = examiner.call("review_flag", {"flag_id": got[0]["flag"]["id"], "status": "dismissed",
                                            "note": "Camera shows the learner alone"}, namespace="/monitor", timeout=10)
        assert ack["ok"] and ack["risk"] == 15
        since = time.monotonic()
        assert examiner.call("act", {"session_id": sid, "action": "resume"}, namespace="/monitor", timeout=10)["ok"]
        learner.wait_for("status", lambda d: d["status"] == "in_progress", since=since, timeout=1)
        report = Api(b.url, "examiner@example.org", DEMO_PASSWORD).call("GET", f"/sessions/{sid}/proctoring/report")
        kinds = [e["kind"] for e in report["timeline"]]
        assert kinds.count("signal") == 3 and "auto_pause" in kinds and "flag_reviewed" in kinds
        assert report["chain"]["ok"] is True
    finally:
        learner.close()
        examiner.disconnect()


def test_effective_policy_refuses_bad_settings_and_shows_the_rest(make_exam, client, auth, bank_items, make_user):
    _, ids, h = bank_items
    bad = client.post("/api/v1/exams", headers=h, json={"definition": {
        "title": "x", "sections": [{"id": "a", "items": [ids["choice"]]}],
        "proctoring": {"level": "strict", "settings": {"max_focus_losses": "many"}}}})
    assert bad.status_code == 422 and "proctoring.max_focus_losses" in bad.get_json()["error"]["details"]
    exam_id = make_exam(proctoring={"level": "strict", "settings": {"max_clipboard": 4}})
    out = client.get(f"/api/v1/exams/{exam_id}/proctoring/policy", headers=h).get_json()
    assert out["level"] == "strict" and out["settings"]["max_focus_losses"] == 2 and out["settings"]["max_clipboard"] == 4
    assert not out["problems"]
    assert client.get(f"/api/v1/exams/{exam_id}/proctoring/policy", headers=auth(make_user("learner"))).status_code == 404

