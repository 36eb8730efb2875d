"""Grade passback over HTTP: a released score reaches the platform's AGS endpoint exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.lti.platform import CLAIM


@pytest.fixture
def take_exam(app, client, db):
    """take_exam(sub, exam_id) -> session id: the LTI learner starts and submits the exam (over /exam)."""
    from exam_engine.auth.services import issue_token
    from exam_engine.db import utcnow
    from exam_engine.extensions import socketio
    from exam_engine.lti.models import LtiUser
    from exam_engine.auth.models import User

    def take(sub: str, exam_id: int) -> str:
        user = db.get(User, db.scalar(select(LtiUser.user_id).where(LtiUser.sub == sub)))
        token, _ = issue_token(db, user, now=utcnow(), ttl_s=600)
        db.commit()
        h = {"Authorization": f"Bearer {token}"}
        resp = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=h)
        assert resp.status_code == 201, resp.get_json()
        session_id = resp.get_json()["id"]
        sc = socketio.test_client(app, namespace="/exam", auth={"token": token}, flask_test_client=client)
        state = sc.emit("join", {"session_id": session_id}, namespace="/exam", callback=True)["session"]
        seq = 0
        for item in state["items"]:
            if item["type"] == "extended_text":  # an essay waits for a grader
                seq += 1
                ack = sc.emit("answer", {"session_id": session_id, "item_id": item["item_id"],
                                         "response": "Photosynthesis turns light into sugar.", "seq": seq},
                              namespace="/exam", callback=True)
                assert ack["ok"], ack
        ack = sc.emit("submit", {"session_id": session_id, "seq": seq + 1}, namespace="/exam", callback=True)
        assert ack["ok"], ack
        sc.disconnect(namespace="/exam")
        return session_id

    return take


def launch_learner(browser, platform, exam_id, sub="s-1", **kw):  # noqa: ANN001
    resp = browser.launch(platform.claims(sub=sub, **{f"{CLAIM}custom": {"exam_id": str(exam_id)}}, **kw))
    assert resp.status_code == 303, resp.text


def outbox(db):  # noqa: ANN001
    from exam_engine.lti.models import ScoreOutbox
    db.rollback()  # a fresh snapshot (the publisher wrote in its own session)
    return db.scalars(select(ScoreOutbox)).all()


def test_score_reaches_platform_exactly_once(app, registered, browser, platform, make_exam, take_exam, db):
    from exam_engine.lti.ags import publish_due
    exam_id = make_exam()
    launch_learner(browser, platform, exam_id)
    session_id = take_exam("s-1", exam_id)
    [row] = outbox(db)
    assert row.session_id == session_id and row.status == "pending"
    assert publish_due(app)["sent"] == 1
    [got] = platform.scores_for("s-1")
    score = got["score"]
    from exam_engine.sessions.models import ExamSession
    attempt = db.get(ExamSession, session_id)
    assert score["scoreGiven"] == pytest.approx(attempt.score) and score["scoreMaximum"] == pytest.approx(attempt.max_score)
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["userId"] == "s-1" and score["timestamp"]
    # Later passes (and the publisher of another worker) send nothing more.
    assert publish_due(app) == {"queued": 0, "sent": 0, "failed": 0}
    assert publish_due(app)["sent"] == 0
    assert len(platform.scores) == 1
    assert outbox(db)[0].status == "sent"


def test_platform_down_first_retries_with_backoff_then_sends_once(app, registered, browser, platform, make_exam,
                                                                  take_exam, db):
    from exam_engine.db import utcnow
    from exam_engine.lti.ags import publish_due
    exam_id = make_exam()
    launch_learner(browser, platform, exam_id)
    take_exam("s-1", exam_id)
    platform.down = True
    now = utcnow()
    assert publish_due(app, now=now)["failed"] == 1
    [row] = outbox(db)
    assert row.status == "pending" and row.tries == 1 and "503" in row.last_error
    assert (row.next_try_at - now).total_seconds() == pytest.approx(15, abs=1)
    # Not due yet: nothing is attempted.
    assert publish_due(app, now=now + timedelta(seconds=5)) == {"queued": 0, "sent": 0, "failed": 0}
    assert publish_due(app, now=now + timedelta(seconds=16))["failed"] == 1
    row = outbox(db)[0]
    assert row.tries == 2 and (row.next_try_at - now).total_seconds() == pytest.approx(16 + 30, abs=1)
    platform.down = False
    assert publish_due(app, now=now + timedelta(seconds=60))["sent"] == 1
    assert publish_due(app, now=now + timedelta(seconds=3600))["sent"] == 0
    assert len(platform.scores_for("s-1")) == 1 and outbox(db)[0].status == "sent"


def test_manual_release_publishes_on_release(app, registered, browser, platform, make_exam, take_exam, db, client,
                                             instructor, auth):
    from exam_engine.lti.ags import publish_due
    exam_id = make_exam(release="manual")
    launch_learner(browser, platform, exam_id)
    take_exam("s-1", exam_id)
    assert publish_due(app) == {"queued": 0, "sent": 0, "failed": 0}
    assert outbox(db) == [] and platform.scores == []
    assert client.post(f"/api/v1/exams/{exam_id}/release", headers=auth(instructor)).status_code == 204
    assert publish_due(app)["sent"] == 1
    assert publish_due(app)["sent"] == 0
    assert len(platform.scores_for("s-1")) == 1


def test_line_item_created_when_only_the_container_is_offered(app, registered, browser, platform, make_exam,
                                                               take_exam, db):
    from exam_engine.lti.ags import publish_due
    from exam_engine.lti.models import LtiLineItem
    exam_id = make_exam()
    launch_learner(browser, platform, exam_id, with_lineitem=False)
    take_exam("s-1", exam_id)
    assert publish_due(app)["sent"] == 1
    created = [k for k in platform.line_items if "-created-" in k]
    assert len(created) == 1 and platform.line_items[created[0]]["tag"] == f"exam-{exam_id}"
    assert platform.scores[0]["line_item"] == created[0]
    db.rollback()
    assert db.scalar(select(LtiLineItem.url)).endswith(created[0])


def test_rescore_is_sent_as_a_new_revision_once(app, registered, browser, platform, make_exam, take_exam, db):
    from exam_engine.db import utcnow
    from exam_engine.lti.ags import publish_due, queue_score
    from exam_engine.sessions.models import ExamSession
    exam_id = make_exam()
    launch_learner(browser, platform, exam_id)
    session_id = take_exam("s-1", exam_id)
    publish_due(app)
    attempt = db.get(ExamSession, session_id)
    assert queue_score(db, attempt, utcnow()) == 0  # same score: nothing to send
    attempt.score = (attempt.score or 0) + 1
    assert queue_score(db, attempt, utcnow()) == 1
    db.commit()
    assert publish_due(app)["sent"] == 1 and publish_due(app)["sent"] == 0
    assert [s["score"]["scoreGiven"] for s in platform.scores_for("s-1")][1] == pytest.approx(attempt.score)
    assert outbox(db)[0].revision == 2 and outbox(db)[0].sent_revision == 2


def test_backoff_grows_and_is_capped():
    from exam_engine.lti.ags import backoff_s
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert backoff_s(30) == 3600


def test_essay_awaiting_a_grader_is_sent_as_pending_manual(app, registered, browser, platform, make_exam, bank_items,
                                                           take_exam, db):
    from exam_engine.lti.ags import publish_due
    _, ids, _ = bank_items
    exam_id = make_exam(sections=[{"id": "main", "title": "Essay", "items": [ids["extended_text"], ids["choice"]]}])
    launch_learner(browser, platform, exam_id)
    take_exam("s-1", exam_id)
    assert publish_due(app)["sent"] == 1
    [got] = platform.scores_for("s-1")
    assert got["score"]["gradingProgress"] == "PendingManual" and got["score"]["activityProgress"] == "Completed"


def test_purge_forgets_spent_nonces_and_old_launches(registered, browser, platform, db):
    from datetime import timedelta
    from sqlalchemy import func
    from exam_engine.db import utcnow
    from exam_engine.lti.models import LtiLaunch, LtiNonce
    from exam_engine.lti.services import purge_expired
    browser.launch(platform.claims())
    assert purge_expired(db, now=utcnow()) == 0
    assert purge_expired(db, now=utcnow() + timedelta(days=40)) == 2
    db.commit()
    assert db.scalar(select(func.count()).select_from(LtiNonce)) == 0
    assert db.scalar(select(func.count()).select_from(LtiLaunch)) == 0


def test_two_publishers_at_once_send_once(app, registered, browser, platform, make_exam, take_exam, db):
    import threading
    from exam_engine.lti.ags import publish_due
    exam_id = make_exam()
    for sub in ("s-1", "s-2", "s-3"):
        launch_learner(browser, platform, exam_id, sub=sub)
        take_exam(sub, exam_id)
    results, barrier = [], threading.Barrier(2)

    def worker():  # noqa: ANN202
        barrier.wait()
        results.append(publish_due(app))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r["sent"] for r in results) == 3
    assert sorted(s["score"]["userId"] for s in platform.scores) == ["s-1", "s-2", "s-3"]


def test_claim_of_a_dead_worker_expires_and_the_score_is_sent(app, registered, browser, platform, make_exam,
                                                              take_exam, db):
    from sqlalchemy import update
    from exam_engine.db import utcnow
    from exam_engine.lti.ags import CLAIM_S, publish_due
    from exam_engine.lti.models import ScoreOutbox
    exam_id = make_exam()
    launch_learner(browser, platform, exam_id)
    take_exam("s-1", exam_id)
    now = utcnow()
    # A worker claimed the row and died before sending.
    db.execute(update(ScoreOutbox).values(status="sending", claimed_until=now + timedelta(seconds=CLAIM_S), tries=1))
    db.commit()
    assert publish_due(app, now=now)["sent"] == 0
    assert publish_due(app, now=now + timedelta(seconds=CLAIM_S + 1))["sent"] == 1
    assert len(platform.scores_for("s-1")) == 1 and outbox(db)[0].status == "sent"
