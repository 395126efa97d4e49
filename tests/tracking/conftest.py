from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steadyml import Platform, Settings


@pytest.fixture
def platform(store_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A platform on a fresh store (SQLite and PostgreSQL) with local artifacts."""
    settings = Settings(home=tmp_path / "home", db_url=store_url,
                        artifacts=str(tmp_path / "artifacts"), actor="tester")
    with Platform(settings) as opened:
        yield opened
