"""Configuration: one frozen value, read from the environment only at the edge."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from steadyml.core.errors import ConfigurationError

ENV_HOME = "STEADY_HOME"
ENV_DB_URL = "STEADY_DB_URL"
ENV_ARTIFACTS = "STEADY_ARTIFACTS"
ENV_ACTOR = "STEADY_ACTOR"


@dataclass(frozen=True)
class Settings:
    """Where steadyml keeps its state.

    `db_url` None means SQLite at `<home>/steady.db`; `artifacts` None means `<home>/artifacts`.
    """

    home: Path = Path(".steady")
    db_url: str | None = None
    artifacts: str | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.home, Path):
            object.__setattr__(self, "home", Path(self.home))

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **overrides: object) -> Settings:
        """Build settings from STEADY_* variables; non-None overrides (CLI options) win."""
        settings = cls(
            home=Path(env.get(ENV_HOME) or ".steady"),
            db_url=env.get(ENV_DB_URL) or None,
            artifacts=env.get(ENV_ARTIFACTS) or None,
            actor=env.get(ENV_ACTOR) or None,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "home" in given:
            given["home"] = Path(str(given["home"]))
        unknown = set(given) - {"home", "db_url", "artifacts", "actor"}
        if unknown:
            raise ConfigurationError(f"Unknown setting(s) {sorted(unknown)}.")
        return replace(settings, **given)  # type: ignore[arg-type]

    @property
    def resolved_db_url(self) -> str:
        """The SQLAlchemy URL of the metadata store."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'steady.db').absolute()}"

    @property
    def resolved_artifacts(self) -> str:
        """The fsspec URL of the artifact store."""
        if self.artifacts:
            return self.artifacts
        return str((self.home / "artifacts").absolute())

    @property
    def resolved_logs(self) -> str:
        """Where prediction logs go: beside the artifacts in an object store, else the home."""
        if self.artifacts:
            return self.artifacts.rstrip("/")
        return str((self.home / "logs").absolute())

    @property
    def is_embedded(self) -> bool:
        """True when the metadata store is the SQLite file in the home."""
        return self.resolved_db_url.startswith("sqlite")
