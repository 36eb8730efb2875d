"""`exam-engine lti ...` (platform registration, tool info, publishing scores) and `exam-engine roster import`."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from item_bank.errors import DomainError


@contextmanager
def _app():  # noqa: ANN202
    """An app for one command; its database connections are closed at the end."""
    from ..app import create_app
    app = create_app()
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["exam_engine.db"].engine.dispose()


@click.group("lti", help="LTI 1.3 tool: platform registrations, tool URLs, grade passback.")
def lti_cli() -> None:
    pass


@lti_cli.command("register")
@click.option("--issuer", required=True, help="the platform's iss, e.g. https://canvas.instructure.com")
@click.option("--client-id", required=True, help="the client id the platform gave this tool")
@click.option("--deployment-id", "deployment_ids", multiple=True, help="accepted deployment id (repeatable)")
@click.option("--auth-login-url", required=True, help="the platform's OIDC authorisation endpoint")
@click.option("--auth-token-url", required=True, help="the platform's OAuth2 token endpoint")
@click.option("--key-set-url", default=None, help="the platform's JWKS URL")
@click.option("--key-set-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="the platform's JWKS as a file (instead of --key-set-url)")
@click.option("--auth-audience", default=None, help="aud of the client assertion if not the token URL")
@click.option("--name", default="", help="display name")
@click.option("--trust-email/--no-trust-email", default=False, help="link launches to accounts with the same e-mail")
@click.option("--allow-admin-role/--no-allow-admin-role", default=False, help="map LTI Administrator to admin")
def register(issuer, client_id, deployment_ids, auth_login_url, auth_token_url, key_set_url, key_set_file,  # noqa: ANN001
             auth_audience, name, trust_email, allow_admin_role) -> None:
    """Register a platform."""
    from ..db import get_db, utcnow
    from .services import register_platform
    data = {"issuer": issuer, "client_id": client_id, "deployment_ids": list(deployment_ids),
            "auth_login_url": auth_login_url, "auth_token_url": auth_token_url, "key_set_url": key_set_url,
            "key_set": json.loads(Path(key_set_file).read_text()) if key_set_file else None,
            "auth_audience": auth_audience, "name": name, "is_email_trusted": trust_email,
            "is_admin_role_allowed": allow_admin_role}
    with _app(), get_db().session() as session:
        try:
            platform = register_platform(session, data, now=utcnow())
            session.commit()
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        click.echo(f"registered platform {platform.id}: {platform.issuer} (client {platform.client_id})")


@lti_cli.command("add-deployment")
@click.argument("platform_id", type=int)
@click.argument("deployment_id")
def add_deployment(platform_id: int, deployment_id: str) -> None:
    """Accept one more deployment id from a registered platform."""
    from ..db import get_db
    from .services import get_platform, update_platform
    with _app(), get_db().session() as session:
        try:
            ids = list(get_platform(session, platform_id).deployment_ids or [])
            update_platform(session, platform_id, {"deployment_ids": sorted(set(ids) | {deployment_id})})
            session.commit()
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        click.echo(f"platform {platform_id} accepts deployment {deployment_id}")


@lti_cli.command("platforms")
def platforms() -> None:
    """List registered platforms."""
    from ..db import get_db
    from .services import list_platforms
    with _app(), get_db().session() as session:
        for p in list_platforms(session):
            click.echo(f"{p.id}\t{p.issuer}\t{p.client_id}\tdeployments={','.join(p.deployment_ids or [])}"
                       f"\t{'active' if p.is_active else 'inactive'}")


@lti_cli.command("tool-info")
def tool_info() -> None:
    """The URLs and key to enter in the LMS (from EXAM_ENGINE_PUBLIC_URL)."""
    from .keys import load_tool_key
    with _app() as app:
        base = app.config.get("LTI_PUBLIC_URL", app.config["PUBLIC_URL"]).rstrip("/")
        key = load_tool_key(app.config)
    click.echo(json.dumps({"login_url": f"{base}/lti/login", "launch_url": f"{base}/lti/launch",
                           "redirect_uris": [f"{base}/lti/launch"], "deep_linking_url": f"{base}/lti/launch",
                           "jwks_url": f"{base}/lti/jwks.json", "kid": key.kid}, indent=2))


@lti_cli.command("publish-scores")
def publish_scores() -> None:
    """Send due scores to platforms now (the serve process does this every few seconds)."""
    from .ags import publish_due
    with _app() as app:
        click.echo(json.dumps(publish_due(app)))


@click.group("roster", help="Roster import without LTI (OneRoster CSV).")
def roster_cli() -> None:
    pass


@roster_cli.command("import")
@click.option("--users", "users_file", type=click.Path(exists=True, dir_okay=False), help="OneRoster users.csv")
@click.option("--enrollments", "enrollments_file", type=click.Path(exists=True, dir_okay=False),
              help="OneRoster enrollments.csv")
@click.option("--classes", "classes_file", type=click.Path(exists=True, dir_okay=False),
              help="OneRoster classes.csv (course titles)")
@click.option("--dry-run", is_flag=True, help="check and report without saving")
def roster_import(users_file, enrollments_file, classes_file, dry_run) -> None:  # noqa: ANN001
    """Import users and enrolments; prints the report; exit 1 when any row was refused."""
    if not users_file and not enrollments_file:
        raise click.UsageError("give --users and/or --enrollments")
    from ..db import get_db, utcnow
    from .roster import import_roster

    def read(path):  # noqa: ANN001, ANN202
        return Path(path).read_text(encoding="utf-8-sig") if path else None

    with _app(), get_db().session() as session:
        try:
            report = import_roster(session, users_csv=read(users_file), enrollments_csv=read(enrollments_file),
                                   classes_csv=read(classes_file), now=utcnow())
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        if dry_run:
            session.rollback()
        else:
            session.commit()
    click.echo(json.dumps(report, indent=2))
    if report["errors"]:
        sys.exit(1)
