"""Settings: one frozen value read from the environment at the edge."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from steadyml.core.errors import ConfigurationError
from steadyml.core.settings import Settings


def test_defaults_without_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.home == Path(".steady")
    assert settings.db_url is None and settings.artifacts is None and settings.actor is None
    assert settings.resolved_db_url == f"sqlite:///{tmp_path / '.steady' / 'steady.db'}"
    assert settings.resolved_artifacts == str(tmp_path / ".steady" / "artifacts")
    assert settings.is_embedded


def test_reads_the_steady_variables(tmp_path: Path) -> None:
    env = {"STEADY_HOME": str(tmp_path / "home"),
           "STEADY_DB_URL": "postgresql+psycopg://steady@db.internal/steady",
           "STEADY_ARTIFACTS": "s3://models/prod",
           "STEADY_ACTOR": "ci-bot",
           "UNRELATED": "ignored"}
    settings = Settings.from_env(env)
    assert settings.home == tmp_path / "home"
    assert settings.db_url == env["STEADY_DB_URL"]
    assert settings.resolved_db_url == env["STEADY_DB_URL"]
    assert settings.artifacts == settings.resolved_artifacts == "s3://models/prod"
    assert settings.actor == "ci-bot"
    assert not settings.is_embedded


def test_home_places_the_embedded_stores(tmp_path: Path) -> None:
    settings = Settings.from_env({"STEADY_HOME": str(tmp_path)})
    assert settings.resolved_db_url == f"sqlite:///{tmp_path / 'steady.db'}"
    assert settings.resolved_artifacts == str(tmp_path / "artifacts")
    assert settings.is_embedded


def test_empty_variables_count_as_unset() -> None:
    settings = Settings.from_env({"STEADY_HOME": "", "STEADY_DB_URL": "", "STEADY_ARTIFACTS": ""})
    assert settings == Settings()


def test_cli_overrides_win_over_the_environment(tmp_path: Path) -> None:
    env = {"STEADY_HOME": "/from/env", "STEADY_DB_URL": "sqlite:///env.db",
           "STEADY_ARTIFACTS": "/env/artifacts", "STEADY_ACTOR": "env-user"}
    settings = Settings.from_env(env, home=str(tmp_path), db_url="sqlite:///cli.db",
                                 artifacts="s3://cli/x", actor="cli-user")
    assert settings == Settings(home=tmp_path, db_url="sqlite:///cli.db",
                                artifacts="s3://cli/x", actor="cli-user")
    assert isinstance(settings.home, Path)


def test_none_overrides_keep_the_environment_value() -> None:
    env = {"STEADY_HOME": "/from/env", "STEADY_DB_URL": "sqlite:///env.db"}
    settings = Settings.from_env(env, home=None, db_url=None, artifacts=None, actor=None)
    assert settings.home == Path("/from/env")
    assert settings.db_url == "sqlite:///env.db"


def test_unknown_override_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        Settings.from_env({}, colour="blue")


def test_from_env_reads_os_environ_by_default(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEADY_HOME", str(tmp_path))
    monkeypatch.setenv("STEADY_ARTIFACTS", "s3://bucket/prefix")
    monkeypatch.delenv("STEADY_DB_URL", raising=False)
    settings = Settings.from_env()
    assert settings.home == tmp_path
    assert settings.artifacts == "s3://bucket/prefix"
    assert settings.db_url is None


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.home = Path("/elsewhere")  # type: ignore[misc]
