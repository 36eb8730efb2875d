"""`exam-engine keys generate|rotate|show`, `exam-engine verify FILE_OR_JWT`, `exam-engine credentials issue-pending`."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app, has_app_context


def register(group: click.Group, make_app: Callable[[], Flask]) -> None:
    """Attach the credentials commands to the `exam-engine` group."""

    def app_() -> Flask:
        return current_app._get_current_object() if has_app_context() else make_app()  # noqa: SLF001

    @group.group("keys")
    def keys() -> None:
        """The issuer's signing keys (a ring file under KEYS_DIR, or EXAM_ENGINE_ISSUER_KEYRING)."""

    @keys.command("generate")
    @click.option("--force", is_flag=True, help="replace an existing ring (credentials it signed stop verifying "
                                                 "with our JWKS; prefer `keys rotate`)")
    def keys_generate(force: bool) -> None:
        """Create the issuer's key ring (Ed25519), written with mode 0600."""
        from .keys import env_configured, generate_ring
        app = app_()
        if env_configured():
            click.echo("note: EXAM_ENGINE_ISSUER_KEYRING/EXAM_ENGINE_ISSUER_KEY is set and takes precedence", err=True)
        try:
            ring, path = generate_ring(app, force=force)
        except FileExistsError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"issuer key ring written to {path} (mode 0600)\ncurrent key: {ring.current.verification_method}")

    @keys.command("rotate")
    @click.option("--drop-private", is_flag=True,
                  help="keep only the public half of the old key (it was compromised); its status lists freeze")
    def keys_rotate(drop_private: bool) -> None:
        """Make a new current key; old keys stay in the ring so old credentials keep verifying."""
        from .keys import rotate_ring
        try:
            ring, key, path = rotate_ring(app_(), keep_private=not drop_private)
        except (FileNotFoundError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"rotated {path}: new current key {key.verification_method}; {len(ring.keys) - 1} older key(s) kept")

    @keys.command("show")
    def keys_show() -> None:
        """Print where the ring comes from and its public keys (JWKS); never the private halves."""
        from .keys import env_configured, load_ring, ring_path
        app = app_()
        ring = load_ring(app)
        if ring is None:
            raise click.ClickException(f"no issuer key: run `exam-engine keys generate` (writes {ring_path(app)})")
        source = "environment" if env_configured() else str(ring_path(app))
        click.echo(f"source: {source}\nissuer (did:key): {ring.current.did}\ncurrent: {ring.current.verification_method}")
        click.echo(json.dumps(ring.jwks(), indent=2))

    @group.command("verify")
    @click.argument("credential")
    @click.option("--status-list", "status_list", type=click.Path(exists=True, dir_okay=False),
                  help="a local copy of the status list credential (JSON or JWT) to check revocation against")
    @click.option("--offline", is_flag=True, help="never fetch the status list (revocation is then unchecked)")
    @click.option("--jwks", type=click.Path(exists=True, dir_okay=False),
                  help="keys you trust for an https issuer (a JWKS file)")
    @click.option("--schema", type=click.Path(exists=True, dir_okay=False),
                  help="the OB 3.0 JSON Schema (default: EXAM_ENGINE_OB_SCHEMA)")
    @click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
    @click.option("--timeout", default=5.0, show_default=True, help="seconds to wait for the status list")
    def verify_cmd(credential: str, status_list: str | None, offline: bool, jwks: str | None, schema: str | None,
                   as_json: bool, timeout: float) -> None:
        """Verify a credential (a JSON file, a file holding a JWT, or a compact JWT); exit 0 only when valid.

        Works offline: our proofs name a did:key. The status list is fetched from the URL in the
        credential when reachable (or read from --status-list); when it cannot be read the report
        says revocation was not checked.
        """
        from credentials.verify import format_report, load_schema, verify
        text = _read_credential(credential)
        fetcher = None
        if status_list:
            local = Path(status_list).read_text("utf-8")
            fetcher = lambda _url: local  # noqa: E731
        elif not offline:
            fetcher = lambda url: _fetch(url, timeout)  # noqa: E731
        keys = json.loads(Path(jwks).read_text("utf-8")) if jwks else None
        try:
            report = verify(text, keys=keys, status_fetcher=fetcher, schema=load_schema(schema) if schema else None)
        except (TypeError, ValueError) as exc:
            raise click.ClickException(f"cannot read the credential: {exc}") from None
        if as_json:
            click.echo(json.dumps({k: v for k, v in report.items() if k != "credential"}, indent=2))
        else:
            click.echo(format_report(report))
        sys.exit(0 if report["valid"] else 1)

    @group.group("credentials")
    def credentials_group() -> None:
        """Credential issuing maintenance."""

    @credentials_group.command("issue-pending")
    def issue_pending_cmd() -> None:
        """Sign every credential left pending (after a crash or before a key existed)."""
        from . import run_outbox_once
        done = run_outbox_once(app_())
        click.echo(f"{len(done)} credential(s) issued")


def _read_credential(value: str) -> str:
    """The credential text: a path to a file, or the compact JWT itself."""
    path = Path(value)
    try:
        if len(value) < 4096 and path.is_file():
            return path.read_text("utf-8").strip()
    except OSError:
        pass
    if value.count(".") == 2 and not value.lstrip().startswith("{"):
        return value.strip()
    if value.lstrip().startswith("{"):
        return value
    raise click.ClickException(f"{value!r} is neither a file nor a compact JWT")


def _fetch(url: str, timeout: float) -> str | None:
    """The status list at `url`, or None when unreachable (verification then reports it unchecked)."""
    if not url.startswith(("https://", "http://")):
        return None
    request = urllib.request.Request(url, headers={"Accept": "application/vc+ld+json, application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked above
            return response.read(8 * 1024 * 1024).decode("utf-8")
    except OSError:
        return None
