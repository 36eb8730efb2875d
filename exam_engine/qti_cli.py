"""CLI: `exam-engine import-qti FILE` and `exam-engine export-qti` (with progress bars)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm


def _actor(session, email: str | None):  # noqa: ANN001, ANN202
    from sqlalchemy import select

    from .auth.models import User
    if email:
        user = session.scalar(select(User).where(User.email == email.lower()))
    else:  # the first admin
        user = session.scalar(select(User).where(User.role == "admin").order_by(User.id))
    if user is None:
        raise click.ClickException("no such user (give --as EMAIL of an instructor or admin)")
    return user


def register(group: click.Group, make_app) -> None:  # noqa: ANN001
    @group.command("import-qti")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--bank", "bank_id", type=int, required=True, help="the bank to import into")
    @click.option("--as", "email", default=None, help="acting instructor (default: the first admin)")
    @click.option("--publish/--draft", default=False, help="publish what is imported (default: drafts)")
    @click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="write the per-item report as JSON")
    def import_qti(file: Path, bank_id: int, email: str | None, publish: bool, report_path: Path | None) -> None:
        """Import a QTI 3.0 or 2.x content package (zip) or item file into a bank."""
        from item_bank.errors import DomainError
        from item_bank.interchange import import_into_bank

        from .db import get_db, utcnow
        app = make_app()
        bar = tqdm(desc="importing", unit="item", file=sys.stderr)

        def progress(done: int, total: int, *_ident: object) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        with app.app_context(), get_db().session() as session:
            try:
                report = import_into_bank(session, _actor(session, email), bank_id, file.read_bytes(), now=utcnow(),
                                          publish=publish, progress=progress,
                                          max_media_bytes=app.config["MEDIA_MAX_BYTES"])
                session.commit()
            except DomainError as exc:
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
            finally:
                bar.close()
        for entry in report["items"]:
            if entry["status"] != "imported":
                click.echo(f"{entry['status']:>8}  {entry['identifier']}: {'; '.join(entry['reasons'])}")
        click.echo(f"items: {json.dumps(report['counts'])}; exams: "
                   f"{sum(1 for e in report['exams'] if e['status'] == 'imported')} drafted")
        if report_path:
            report_path.write_text(json.dumps(report, indent=2, default=str))

    @group.command("export-qti")
    @click.option("--bank", "bank_id", type=int, default=None)
    @click.option("--exam", "exam_id", type=int, default=None)
    @click.option("--as", "email", default=None, help="acting instructor (default: the first admin)")
    @click.option("--published-only", is_flag=True, help="bank export: published versions only")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    def export_qti(bank_id: int | None, exam_id: int | None, email: str | None, published_only: bool,
                   output: Path) -> None:
        """Export a bank or an exam as a QTI 3.0 content package."""
        from item_bank.errors import DomainError
        from item_bank.interchange import export_bank

        from .db import get_db
        from .exams.interchange import export_exam
        if (bank_id is None) == (exam_id is None):
            raise click.UsageError("give exactly one of --bank or --exam")
        app = make_app()
        bar = tqdm(desc="exporting", unit="item", file=sys.stderr)

        def progress(done: int, total: int, *_ident: object) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        with app.app_context(), get_db().session() as session:
            try:
                user = _actor(session, email)
                data = (export_bank(session, user, bank_id, status="published" if published_only else None,
                                    progress=progress) if bank_id is not None
                        else export_exam(session, user, exam_id, progress=progress))
            except DomainError as exc:
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
            finally:
                bar.close()
        output.write_bytes(data)
        click.echo(f"wrote {output} ({len(data)} bytes)")
