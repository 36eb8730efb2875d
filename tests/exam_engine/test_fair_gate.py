"""FairGate: at most `size` holders; waiters enter in arrival order and a newcomer never takes a freed place."""

from __future__ import annotations

import threading
import time

import pytest

from exam_engine.db import FairGate, GateTimeout


def _until(condition, timeout_s: float = 5.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.001)


def _enter_and_record(gate: FairGate, name: str, order: list[str], leave: threading.Event) -> threading.Thread:
    def run() -> None:
        with gate:
            order.append(name)
            leave.wait(5)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_waiters_enter_in_arrival_order_and_newcomers_queue_behind_them():
    gate = FairGate(1)
    order: list[str] = []
    go = threading.Event()
    holder_leaves = threading.Event()
    holder = _enter_and_record(gate, "holder", order, holder_leaves)
    _until(lambda: order == ["holder"])
    waiters = []
    for i in range(5):
        waiters.append(_enter_and_record(gate, f"w{i}", order, go))
        _until(lambda i=i: gate.waiting == i + 1)  # each one queued before the next arrives
    holder_leaves.set()
    holder.join(5)
    _until(lambda: order[-1] == "w0")  # the place went to the first waiter...
    newcomer = _enter_and_record(gate, "newcomer", order, go)  # ...and a newcomer arriving now waits its turn
    _until(lambda: gate.waiting == 5)
    go.set()
    for thread in [*waiters, newcomer]:
        thread.join(5)
    assert order == ["holder", "w0", "w1", "w2", "w3", "w4", "newcomer"]
    assert gate.waiting == 0


def test_a_holder_that_leaves_and_comes_back_at_once_queues_behind_the_waiter():
    gate = FairGate(1)
    order: list[str] = []
    done = threading.Event()
    done.set()
    with gate:
        order.append("a")
        waiter = _enter_and_record(gate, "b", order, done)
        _until(lambda: gate.waiting == 1)
    with gate:  # the place was handed to b on leaving: a waits for b to be done
        order.append("a")
    waiter.join(5)
    assert order == ["a", "b", "a"]


def test_at_most_size_holders_at_once():
    gate = FairGate(3)
    inside, peak, lock = [0], [0], threading.Lock()

    def work() -> None:
        for _ in range(50):
            with gate:
                with lock:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                time.sleep(0.0002)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert peak[0] == 3
    # Every place is free again: three holders enter without waiting.
    with gate, gate, gate:
        assert gate.waiting == 0


def test_a_waiter_that_times_out_leaves_the_queue_and_frees_nothing():
    gate = FairGate(1, timeout_s=0.05)
    with gate:
        with pytest.raises(GateTimeout):
            with gate:
                pass
        assert gate.waiting == 0
    with gate:  # the holder's place came back; the timed-out waiter took none
        pass


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        FairGate(0)


def test_a_socket_event_without_a_turn_in_time_is_answered_server_busy(app, make_exam, learner, socket_for, db):
    from exam_engine.sessions.models import SessionResponse
    sc = socket_for(learner)
    ack = sc.emit("start", {"exam_id": make_exam()}, namespace="/exam", callback=True)
    session_id, item_id = ack["session"]["id"], ack["session"]["items"][0]["item_id"]
    flag = {"session_id": session_id, "item_id": item_id, "flagged": True, "seq": 1}
    database = app.extensions["exam_engine.db"]
    kept, database.events = database.events, FairGate(1, timeout_s=0.05)
    try:
        with database.events:  # every place taken (a burst ahead of this event)
            ack = sc.emit("flag", flag, namespace="/exam", callback=True)
    finally:
        database.events = kept
    assert ack == {"ok": False, "error": {"code": "server_busy", "message": "the server is busy: try again",
                                          "details": {"retry_after_s": 1}}}
    assert db.query(SessionResponse).filter_by(session_id=session_id).count() == 0  # nothing was done
    assert sc.emit("flag", flag, namespace="/exam", callback=True)["ok"]  # sent again: done


def test_a_waiter_interrupted_while_queued_leaves_without_taking_a_place():
    gate = FairGate(1)

    class Interrupted(BaseException):
        pass

    holder_leaves, order = threading.Event(), []
    holder = _enter_and_record(gate, "holder", order, holder_leaves)
    _until(lambda: order == ["holder"])
    real_wait = threading.Event.wait

    def interrupted_wait(self, timeout=None):  # noqa: ANN001, ANN202
        raise Interrupted

    threading.Event.wait = interrupted_wait
    try:
        with pytest.raises(Interrupted):
            with gate:
                pass
    finally:
        threading.Event.wait = real_wait
    assert gate.waiting == 0
    holder_leaves.set()
    holder.join(5)
    with gate:  # the holder's place came back, not lost to the interrupted waiter
        pass
