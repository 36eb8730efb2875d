"""Configuration defaults and the account commands."""

from __future__ import annotations

import os
import stat

from click.testing import CliRunner

from exam_engine.config import load_config


def test_secret_key_is_random_persisted_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    second = load_config(tmp_path)["SECRET_KEY"]
    other = load_config(tmp_path / "elsewhere")["SECRET_KEY"]
    assert first == second and first != other and len(first) >= 40
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_config(tmp_path)["SECRET_KEY"] == "from-the-environment"


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    cfg = load_config(tmp_path)
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'exam_engine.sqlite'}" and cfg["REDIS_URL"] is None
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert load_config(tmp_path)["DATABASE_URL"] == "postgresql+psycopg://u@h/db"


def test_create_user_command(app, client, monkeypatch):
    from exam_engine import cli
    monkeypatch.setattr(cli, "_app", lambda: app)
    runner = CliRunner()
    ok = runner.invoke(cli.main_group, ["create-user", "--email", "New@Example.org", "--role", "examiner"],
                       input="a long password\na long password\n")
    assert ok.exit_code == 0, ok.output
    assert client.post("/api/v1/auth/token", json={"email": "new@example.org", "password": "a long password"}).status_code == 200
    dup = runner.invoke(cli.main_group, ["create-user", "--email", "new@example.org"], input="a long password\na long password\n")
    assert dup.exit_code != 0 and "email_taken" in dup.output
    weak = runner.invoke(cli.main_group, ["create-user", "--email", "w@example.org"], input="short\nshort\n")
    assert weak.exit_code != 0 and "weak_password" in weak.output
