"""CLI for psychometrics: `exam-engine calibrate` and `exam-engine cat-sim` (with progress bars)."""

from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm


def register(group: click.Group, make_app) -> None:  # noqa: ANN001
    @group.command("calibrate")
    @click.option("--exam", "exam_id", type=int, required=True, help="exam whose scored attempts to use")
    @click.option("--model", type=click.Choice(["1PL", "2PL", "3PL"]), default="2PL", show_default=True)
    @click.option("--write/--no-write", default=False, help="store a, b, c on the items' metadata")
    @click.option("--as-user", "email", default=None, help="the instructor acting (default: the exam's owner)")
    def calibrate(exam_id: int, model: str, write: bool, email: str | None) -> None:
        """Calibrate an exam's items by marginal maximum likelihood (EM) and print the parameters."""
        from sqlalchemy import select

        from item_bank.errors import DomainError

        from .auth.models import User
        from .db import get_db
        from .exams.models import Exam
        from .grading.services import calibrate_exam

        app = make_app()
        with app.app_context(), get_db().session() as session:
            exam = session.get(Exam, exam_id)
            if exam is None:
                raise click.ClickException(f"no exam {exam_id}")
            user = session.scalar(select(User).where(User.email == email)) if email else session.get(User, exam.owner_id)
            try:
                out = calibrate_exam(session, user, exam_id, model=model, write=write,
                                     progress=lambda msg: click.echo(msg, err=True))
                session.commit()
            except DomainError as exc:
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
        click.echo(json.dumps(out, indent=2))
        if not out["converged"]:
            sys.exit(2)

    @group.command("cat-sim")
    @click.option("--bank-size", default=500, show_default=True, help="items in a simulated 2PL bank")
    @click.option("--examinees", default=1000, show_default=True)
    @click.option("--length", default=20, show_default=True, help="maximum test length")
    @click.option("--target-se", default=None, type=float, help="stop early at this posterior SD")
    @click.option("--randomesque", default=1, show_default=True, help="choose among the k most informative items")
    @click.option("--exam", "exam_id", default=None, type=int, help="use a published adaptive exam's calibrated bank")
    @click.option("--seed", default=0, show_default=True)
    def cat_sim(bank_size: int, examinees: int, length: int, target_se: float | None, randomesque: int,
                exam_id: int | None, seed: int) -> None:
        """Simulate adaptive tests: ability RMSE, bias, mean length and item exposure."""
        import numpy as np

        from scoring import cat

        rng = np.random.default_rng(seed)
        if exam_id is not None:
            from .db import get_db
            from .exams.models import Exam, ExamVersion
            from .sessions.adaptive import _bank
            app = make_app()
            with app.app_context(), get_db().session() as session:
                exam = session.get(Exam, exam_id)
                if exam is None or exam.live_version is None:
                    raise click.ClickException(f"no published exam {exam_id}")
                version = session.query(ExamVersion).filter_by(exam_id=exam_id, version=exam.live_version).one()
                if "irt" not in version.definition.get("resolved", {}):
                    raise click.ClickException("that exam is not adaptive")
                bank, _ = _bank(version.definition)
        else:
            bank = cat.ItemBank.from_arrays(rng.lognormal(0, 0.3, bank_size), rng.normal(0, 1, bank_size))
        config = cat.CatConfig(max_length=length, min_length=min(5, length), target_se=target_se, randomesque=randomesque)
        theta = rng.normal(0, 1, examinees)
        with tqdm(total=length, desc="CAT steps", unit="step", file=sys.stderr) as bar:
            result = cat.simulate(bank, theta, config, seed=seed, progress=lambda step, total: bar.update(1))
        out = result.summary()
        out["bank_size"] = bank.size
        click.echo(json.dumps(out, indent=2))
