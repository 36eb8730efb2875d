"""The machine's ceiling: a bare Flask-SocketIO (python-socketio) server that acknowledges the benchmark's messages.

Same stack and async mode as `exam-engine serve` (gevent after monkey patching,
Flask-SocketIO's `socketio.run`, the same ping settings), the same routes and
events the benchmark drives, and no persistence, no validation, no database:

    python bare_server.py --port 5099 --sample-state state.json [--async-mode gevent]

`POST /api/v1/exams/<id>/sessions` answers a new random id; `/exam` accepts any
token, answers `join` (and `start`) with the real join payload captured from the engine
(`--sample-state`, so both servers send the same bytes), and acks every
`answer` with `{"ok": true, "seq"}`.
"""

from __future__ import annotations

import argparse
import sys

# Patch before anything imports sockets, as `exam-engine serve` does (unless threading mode is asked for).
if __name__ == "__main__" and "threading" not in sys.argv:
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402
import secrets  # noqa: E402

from flask import Flask, jsonify  # noqa: E402
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO  # noqa: E402


def build(sample_state: dict, async_mode: str) -> tuple[Flask, SocketIO]:
    app = Flask("bare")
    sio = SocketIO(app, async_mode=async_mode, ping_interval=10, ping_timeout=20, max_http_buffer_size=2_000_000,
                   logger=False, engineio_logger=False)

    @app.post("/api/v1/exams/<int:exam_id>/sessions")
    def start(exam_id: int):  # noqa: ANN202
        return jsonify({"id": secrets.token_hex(16), "exam_id": exam_id, "status": "in_progress"}), 201

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        return jsonify({"status": "ok"})

    class Exam(Namespace):
        def on_connect(self, auth=None):  # noqa: ANN001
            if not isinstance(auth, dict) or not auth.get("token"):
                raise ConnectionRefusedError({"code": "unauthorized"})

        def on_join(self, payload=None):  # noqa: ANN001
            return {"ok": True, "session": {**sample_state["session"], "id": payload.get("session_id")}}

        def on_start(self, payload=None):  # noqa: ANN001
            return {"ok": True, "session": {**sample_state["session"], "id": secrets.token_hex(16)}}

        def on_answer(self, payload=None):  # noqa: ANN001
            return {"ok": True, "seq": payload.get("seq")}

    sio.on_namespace(Exam("/exam"))
    return app, sio


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sample-state", required=True)
    p.add_argument("--async-mode", default="gevent", choices=["gevent", "threading"])
    args = p.parse_args()
    with open(args.sample_state) as fh:
        sample = json.load(fh)
    app, sio = build(sample, args.async_mode)
    print(f"bare server on 127.0.0.1:{args.port} ({sio.async_mode})", file=sys.stderr, flush=True)
    extra = {"backlog": 2048} if sio.async_mode == "gevent" else {}  # as `exam-engine serve`
    sio.run(app, host="127.0.0.1", port=args.port, log_output=False, use_reloader=False, allow_unsafe_werkzeug=True,
            **extra)


if __name__ == "__main__":
    main()
