"""The light request context of Socket.IO events (exam_engine.app.EngineFlask)."""

from __future__ import annotations

from werkzeug.test import EnvironBuilder


def test_events_after_connect_skip_routing_and_the_cookie(app):
    environ = EnvironBuilder(path="/socket.io/", headers={"Cookie": "session=garbage"}).get_environ()
    first = app.request_context(dict(environ))  # the connect event: a full context (cookie login is read there)
    assert first.url_adapter is not None
    from flask_socketio import _ManagedSession
    saved = _ManagedSession({"user_id": 7})  # what Flask-SocketIO keeps per socket after connect
    later = app.request_context({**environ, "saved_session": saved})
    assert later.url_adapter is None
    with later:
        from flask import session
        assert session is not None and session["user_id"] == 7


def test_a_browser_login_still_reaches_the_socket(app, client, make_user):
    from exam_engine.extensions import socketio
    from tests.conftest import PASSWORD
    user = make_user("learner")
    resp = client.post("/api/v1/auth/session", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code in (200, 201, 204), resp.get_json()
    sc = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert sc.is_connected("/exam")
    ack = sc.emit("time", {"session_id": "f" * 32}, namespace="/exam", callback=True)
    assert ack["error"]["code"] == "session_not_found"  # authenticated (not unauthorized), and events still work
    sc.disconnect(namespace="/exam")


def test_gc_thresholds_are_checked(monkeypatch):
    import gc

    import click
    import pytest

    from exam_engine.cli import _tune_gc
    before = gc.get_threshold()
    try:
        monkeypatch.setenv("EXAM_ENGINE_GC_THRESHOLDS", "1000,10,10")
        _tune_gc()
        assert gc.get_threshold() == (1000, 10, 10) and gc.get_freeze_count() > 0
        monkeypatch.setenv("EXAM_ENGINE_GC_THRESHOLDS", "lots")
        with pytest.raises(click.UsageError, match="three positive integers"):
            _tune_gc()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_packets_find_binary_data_as_socketio_does(app):
    from socketio import packet

    from exam_engine.extensions import Packet, socketio
    assert socketio.server.packet_class is Packet
    cases = [None, 1, "text", b"raw", bytearray(b"x"), [], {}, [1, "a", {"b": [2, 3]}],
             {"a": {"b": [{"c": b"deep"}]}}, [[[[bytearray(b"deep")]]]], {"k": ("tuple", b"not scanned")},
             {"session": {"items": [{"id": i, "options": [{"id": "a"}, {"id": "b"}]} for i in range(50)]}},
             [{"x": 1}, {"y": [None, True, 2.5, b"last"]}]]
    for data in cases:
        assert Packet.data_is_binary(data) == packet.Packet.data_is_binary(data), data
    assert Packet(packet.ACK, data=[{"a": [b"x"]}], namespace="/exam", id=1).packet_type == packet.BINARY_ACK
    assert Packet(packet.ACK, data=[{"a": ["x"]}], namespace="/exam", id=1).packet_type == packet.ACK


def test_packet_json_encodes_what_the_standard_encoder_did():
    import json
    from collections import namedtuple

    from engineio import json as engineio_json

    from exam_engine.extensions import Packet, PacketJSON
    assert Packet.json is PacketJSON
    pair = namedtuple("pair", "a b")
    cases = [{"a": 1, "b": [1, 2.5, None, True, "é\u2028</script>"]}, {1: "x", "y": {2: [3]}}, pair(1, [2]),
             2**70, {"big": -(2**80)}, 1e16, 0.1, -0.0, [], {}, ""]
    for data in cases:
        ours = PacketJSON.dumps(data, separators=(",", ":"))
        assert json.loads(ours) == json.loads(engineio_json.dumps(data, separators=(",", ":"))), data
    assert PacketJSON.dumps(float("nan")) == "null"  # the standard library wrote NaN, which is not JSON
    from datetime import datetime
    try:
        PacketJSON.dumps({"at": datetime(2026, 1, 1)})
    except TypeError:
        pass  # refused as the standard library refuses it: a payload bug is not sent
    else:
        raise AssertionError("a datetime was encoded")
    assert PacketJSON.loads('{"a":[1,"é"]}') == {"a": [1, "é"]}
    too_long = "1" * 5000
    try:
        PacketJSON.loads(too_long)
    except ValueError:
        pass  # Engine.IO's bound on integer length still holds for what arrives
    else:
        raise AssertionError("an oversized integer was decoded")
    encoded = Packet(3, data=[{"ok": True, "title": "Sécurité"}], namespace="/exam", id=7).encode()
    assert encoded == '3/exam,7[{"ok":true,"title":"Sécurité"}]'
