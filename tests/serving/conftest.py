from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # serving_fixtures

from serving_fixtures import cancer_frame  # noqa: E402


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return cancer_frame()
