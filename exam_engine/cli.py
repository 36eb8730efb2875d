"""The `exam-engine` command line: serve, init-db, demo, create-user, and the feature commands."""

from __future__ import annotations

import os
import socket
import sys

import click
from flask import Flask


def _app() -> Flask:
    from .app import create_app
    return create_app()


@click.group(help="Online assessment and proctored examination engine.")
def main_group() -> None:
    pass


@main_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the app and its websockets (gevent)."""
    app = _app()
    app.config.setdefault("WORKER_ADDRESS", f"{socket.gethostname()}:{port}")
    _tune_gc()
    from .extensions import socketio
    from .jobs import start_background_jobs
    if app.config.get("BACKGROUND_JOBS", True):
        from .sessions.sweeper import register_worker
        register_worker(app)
    start_background_jobs(app)
    click.echo(f"serving on http://{host}:{port} (async mode {socketio.async_mode})", err=True)
    # gevent's default listen backlog (128) drops SYNs when a thousand learners start at once:
    # they retry a second later. The kernel caps it at net.core.somaxconn.
    extra = {"backlog": int(os.environ.get("EXAM_ENGINE_LISTEN_BACKLOG", 2048))} if socketio.async_mode == "gevent" else {}
    socketio.run(app, host=host, port=port, log_output=False, use_reloader=False, allow_unsafe_werkzeug=True, **extra)


def _tune_gc() -> None:
    """Keep the cyclic garbage collector from pausing a busy worker for a fifth of a second.

    Measured under the delivery benchmark (1,000 learners per two workers): full collections
    walked every object of the app (modules, mappers, caches, a thousand sockets) and paused a
    worker for 190-400 ms about twice a minute, which was the whole ack p99. Everything alive
    after start-up is frozen out of the collector's reach (it lives as long as the process), and
    young collections run less often; cycles made while serving are still collected.
    """
    import gc
    gc.collect()
    gc.freeze()
    raw = os.environ.get("EXAM_ENGINE_GC_THRESHOLDS", "50000,20,100")
    try:
        gen0, gen1, gen2 = (int(v) for v in raw.split(","))
        if min(gen0, gen1, gen2) < 1:
            raise ValueError
    except ValueError:
        raise click.UsageError(f"EXAM_ENGINE_GC_THRESHOLDS must be three positive integers like 50000,20,100, "
                               f"not {raw!r}") from None
    gc.set_threshold(gen0, gen1, gen2)


@main_group.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    app = _app()
    from .migrate import upgrade
    upgrade(app.config["DATABASE_URL"])
    click.echo(f"database ready: {_safe_url(app.config['DATABASE_URL'])}")


@main_group.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["learner", "instructor", "examiner", "admin"]), default="learner", show_default=True)
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user_cmd(email: str, role: str, name: str, password: str) -> None:
    """Create an account."""
    app = _app()
    from .auth.services import create_user
    from .db import get_db
    from item_bank.errors import DomainError
    with app.app_context():
        with get_db().session() as session:
            try:
                user = create_user(session, email=email, password=password, role=role, name=name)
                session.commit()
            except DomainError as exc:
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
            click.echo(f"created {user.role} {user.email} (id {user.id})")


@main_group.command("demo")
@click.option("--password", default="demo-password", show_default=True, help="password of the four demo accounts")
def demo(password: str) -> None:
    """Seed the demo accounts, item bank and exams (idempotent)."""
    app = _app()
    from .demo import seed_demo
    with app.app_context():
        summary = seed_demo(app, password=password)
    click.echo(summary)


@main_group.group("audit")
def audit() -> None:
    """Audit attempts' hash-chained logs."""


@audit.command("verify")
@click.argument("session_id")
@click.pass_obj
def audit_verify(app: Flask | None, session_id: str) -> None:
    """Recompute an attempt's hash chain; name the first entry that does not match (exit 1)."""
    app = app or _app()
    from .db import get_db
    from .sessions.eventlog import verify_session
    from .sessions.models import ExamSession
    with app.app_context():
        with get_db().session() as session:
            if session.get(ExamSession, session_id) is None:  # an empty chain would verify: say there is none
                raise click.ClickException(f"no attempt {session_id}")
            report = verify_session(session, session_id)
    if report.ok:
        click.echo(f"ok: {report.length} entries, head {report.head}")
        return
    click.echo(f"TAMPERED: entry {report.first_bad_idx}: {report.reason}")
    sys.exit(1)


from .psychometrics_cli import register as _register_psychometrics  # noqa: E402

_register_psychometrics(main_group, _app)

from .qti_cli import register as _register_qti  # noqa: E402

_register_qti(main_group, _app)


from .credentials_engine.cli import register as _register_credentials  # noqa: E402

_register_credentials(main_group, _app)

from .proctoring.cli import register as _register_proctoring  # noqa: E402

_register_proctoring(main_group, _app)


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


from .lti.cli import lti_cli, roster_cli  # noqa: E402  (feature commands)
main_group.add_command(lti_cli)
main_group.add_command(roster_cli)


def register_commands(app: Flask) -> None:
    """Flask CLI (`flask --app exam_engine.app`) gets the same commands."""
    for name, cmd in main_group.commands.items():
        app.cli.add_command(cmd, name)


def main() -> None:
    """Console script entry point; patches for gevent before anything imports sockets."""
    if len(sys.argv) > 1 and sys.argv[1] == "serve" and os.environ.get("EXAM_ENGINE_ASYNC_MODE", "gevent") == "gevent":
        from gevent import monkey
        monkey.patch_all()
        os.environ["EXAM_ENGINE_ASYNC_MODE"] = "gevent"
    main_group(prog_name="exam-engine")
