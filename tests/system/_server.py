"""Helpers of the system tests: real `exam-engine serve` processes, a private PostgreSQL schema, a plain client.

Everything here talks to 127.0.0.1 only. Server processes run in their own
process group so a test can SIGKILL the whole group (the fault test) and
teardown always kills what is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from ._responses import answer_for  # noqa: F401  (re-exported for the tests)

ENGINE = str(Path(sys.executable).with_name("exam-engine"))
DEMO_PASSWORD = "demo-password-123"
SECRET = "system-test-secret-key-not-for-production"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, instance: Path, *, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of one worker: its database, optional Redis, fast background jobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_ENGINE_")}
    env.pop("REDIS_URL", None)
    env.update({"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "EXAM_ENGINE_INSTANCE": str(instance),
                "EXAM_ENGINE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run an `exam-engine` command to completion; its output, or an AssertionError with it."""
    proc = subprocess.run([ENGINE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"exam-engine {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Server:
    """One `exam-engine serve` worker on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "Server":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([ENGINE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not healthy after {timeout} s:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group and reap the process."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


class Api:
    """A tiny REST client for one user (bearer token)."""

    def __init__(self, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
        self.base = base
        resp = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": password}, timeout=30)
        assert resp.status_code == 200, resp.text
        self.token = resp.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201, 204), **kwargs: Any) -> Any:
        resp = requests.request(method, f"{self.base}/api/v1{path}", headers=self.headers, timeout=30, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert resp.status_code in expected, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None


def exam_by_title(api: Api, prefix: str) -> dict:
    page = api.call("GET", "/exams", params={"per_page": 100})
    for exam in page["items"]:
        if exam["title"].startswith(prefix):
            return exam
    raise AssertionError(f"no exam titled {prefix!r} in {[e['title'] for e in page['items']]}")


class Learner:
    """A plain python-socketio client on /exam that records the events the server pushes."""

    def __init__(self, base: str, token: str, *, reconnection: bool = False) -> None:
        import socketio

        self.events: list[tuple[float, str, dict]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=reconnection, request_timeout=10)
        for name in ("time", "status", "message"):
            self.sio.on(name, self._recorder(name), namespace="/exam")
        self.sio.connect(base, namespaces=["/exam"], auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _recorder(self, name: str):  # noqa: ANN202
        def record(data):  # noqa: ANN001
            with self.cond:
                self.events.append((time.monotonic(), name, data))
                self.cond.notify_all()
        return record

    def call(self, event: str, payload: dict, timeout: float = 10) -> dict:
        return self.sio.call(event, payload, namespace="/exam", timeout=timeout)

    def wait_for(self, name: str, pred=lambda d: True, timeout: float = 5, since: float = 0.0):  # noqa: ANN001, ANN201
        """The first `name` event after `since` (monotonic) that satisfies `pred`: (t, data); AssertionError on timeout."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, n, d in self.events:
                    if n == name and t >= since and pred(d):
                        return t, d
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name} event within {timeout} s; got {[(n, d) for _, n, d in self.events]}")
                self.cond.wait(left)

    def close(self) -> None:
        close_client(self.sio)


def close_client(sio) -> None:  # noqa: ANN001
    """Disconnect, and close the websocket even when the server died (engineio leaves it open then)."""
    ws = getattr(sio.eio, "ws", None)
    try:
        sio.disconnect()
    except Exception:  # noqa: BLE001 - the server may be gone already
        pass
    if ws is not None:
        try:
            ws.shutdown()
        except Exception:  # noqa: BLE001
            pass


def new_schema_name() -> str:
    return f"ee_sys_{uuid.uuid4().hex[:10]}"
