"""`exam-engine proctoring purge`: delete signals and snapshots past each exam's retention period."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import click
from flask import Flask


def _the_app(make_app: Callable[[], Flask]) -> Flask:
    from flask.cli import ScriptInfo
    info = click.get_current_context().find_object(ScriptInfo)
    return info.load_app() if info is not None else make_app()


def register(group: click.Group, make_app: Callable[[], Flask]) -> None:
    """Add the `proctoring` command group to the console script."""

    @group.group("proctoring")
    def proctoring() -> None:
        """Proctoring records: retention."""

    @proctoring.command("purge")
    @click.option("--dry-run", is_flag=True, help="count what would be deleted, delete nothing")
    @click.option("--now", "now_text", default=None, help="pretend it is this ISO 8601 instant (tests, audits)")
    def purge(dry_run: bool, now_text: str | None) -> None:
        """Delete proctoring signals and webcam snapshots of attempts older than their exam's retention_days."""
        from ..db import get_db
        from .reports import purge as purge_records
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(timezone.utc)
        if now.tzinfo is None:
            raise click.BadParameter("give a time zone (e.g. +00:00)", param_hint="--now")
        app = _the_app(make_app)
        with app.app_context():
            with get_db().session() as session:
                counts = purge_records(session, now=now, dry_run=dry_run)
                if not dry_run:
                    session.commit()
        verb = "would delete" if dry_run else "deleted"
        click.echo(f"{verb} {counts['signals']} signals and {counts['snapshots']} snapshots "
                   f"of {counts['attempts']} attempts")
