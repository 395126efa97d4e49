"""Each package's `__all__` is sorted, complete and importable (as httpx does)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["steadyml", "steadyml.core", "steadyml.store", "steadyml.tracking",
            "steadyml.monitoring", "steadyml.registry", "steadyml.deployments", "steadyml.access",
            "steadyml.serving", "steadyml.control", "steadyml.pipelines", "steadyml.cli"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_complete_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported)
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"
    public = {k for k, v in vars(module).items()
              if not k.startswith("_") and getattr(v, "__module__", "").startswith("steadyml")
              and not isinstance(v, type(module))}
    assert public <= set(exported), f"{name} defines public names not in __all__"


def test_import_does_no_heavy_work() -> None:
    import subprocess
    import sys

    code = ("import sys, steadyml, steadyml.cli; heavy = [m for m in ('sklearn', 'xgboost', "
            "'lightgbm', 'onnxruntime', 'pandas', 'psycopg', 's3fs', 'alembic') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
