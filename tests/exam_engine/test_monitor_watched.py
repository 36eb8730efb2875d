"""Examiners' rows are built only for exams someone watches, on this worker or another (marked in Redis)."""

from __future__ import annotations

from .test_monitor import emit, monitor_for


def _answer(started):  # noqa: ANN001
    _, sid, sc, state = started
    assert emit(sc, "answer", {"session_id": sid, "item_id": state["items"][0]["item_id"], "response": None, "seq": 1})["ok"]
    return sid


def test_nobody_watching_means_no_rows_built(app, started):
    from exam_engine.monitor import sockets as monitor
    sid = _answer(started)
    with app.app_context():
        assert monitor.flush_ids({sid}) == 0


def test_a_local_watcher_gets_the_batch(app, client, token_for, make_user, started, bank_items):
    from exam_engine.monitor import sockets as monitor
    exam_id = started[0]
    examiner = make_user("examiner")
    assert client.post(f"/api/v1/exams/{exam_id}/examiners", headers=bank_items[2],
                       json={"email": examiner.email}).status_code == 204
    mon = monitor_for(app, client, token_for, examiner)
    assert emit(mon, "watch", {"exam_id": exam_id}, "/monitor")["ok"]
    mon.get_received("/monitor")
    sid = _answer(started)
    with app.app_context():
        assert monitor.locally_watched() == {exam_id}
        assert monitor.flush_ids({sid}) == 1
    updates = [e for e in mon.get_received("/monitor") if e["name"] == "session_updates"]
    assert updates and updates[-1]["args"][0]["sessions"][0]["session_id"] == sid
    assert emit(mon, "unwatch", {"exam_id": exam_id}, "/monitor")["ok"]
    with app.app_context():
        assert monitor.flush_ids({sid}) == 0


def test_a_watcher_on_another_worker_is_seen_through_redis(app, started, redis_url):
    import redis

    from exam_engine.monitor import sockets as monitor
    exam_id = started[0]
    sid = _answer(started)
    app.config["REDIS_URL"] = redis_url
    client = redis.Redis.from_url(redis_url)
    key = monitor.WATCHED_KEY.format(exam_id)
    client.delete(key)
    try:
        with app.app_context():
            assert monitor.flush_ids({sid}) == 0
            client.set(key, 1, ex=monitor.WATCHED_TTL_S)  # what the other worker's watch (and its ticks) write
            assert monitor.flush_ids({sid}) == 1
            monitor.mark_watched({exam_id})
            assert 0 < client.ttl(key) <= monitor.WATCHED_TTL_S
    finally:
        client.delete(key)
        app.config["REDIS_URL"] = None
        app.extensions.pop("exam_engine.monitor_redis", None)
