"""The peers' virtualenvs: one per tool under `benchmarks/.venvs/<tool>` (git-ignored).

Made with `python3 -m venv` + pip. Run as a script to create them ahead of a benchmark run:

    python3 benchmarks/pipelines/peer_venvs.py [prefect dagster]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
VENVS_DIR = BENCH_DIR / ".venvs"

# prefect 3.8.8's temporary server does not start with fastapi 0.165 (`Body(min_items=...)`
# raises TypeError); 0.149 satisfies its fastapi>=0.139 and starlette>=1.0.1.
SPECS: dict[str, list[str]] = {
    "prefect": ["prefect==3.8.8", "fastapi>=0.139,<0.150"],
    "dagster": ["dagster==1.13.29"],
}
IMPORTS = {"prefect": "prefect.server.api.server", "dagster": "dagster"}
REPORTED = {
    "prefect": ["prefect", "fastapi", "pydantic", "sqlalchemy"],
    "dagster": ["dagster", "pydantic", "sqlalchemy"],
}


def python_of(tool: str) -> Path:
    return VENVS_DIR / tool / "bin" / "python"


def works(tool: str) -> bool:
    py = python_of(tool)
    if not py.exists():
        return False
    proc = subprocess.run([str(py), "-c", f"import {IMPORTS[tool]}"], capture_output=True,
                          text=True)
    return proc.returncode == 0


def ensure(tool: str, log=print) -> Path:
    """Create (or repair) the venv of `tool` unless it already imports; return its python."""
    if works(tool):
        return python_of(tool)
    venv = VENVS_DIR / tool
    if venv.exists():
        shutil.rmtree(venv)
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    log(f"[venv] creating {venv} ({' '.join(SPECS[tool])})")
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip = [str(python_of(tool)), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *SPECS[tool]], check=True)
    if not works(tool):
        raise RuntimeError(f"the {tool} venv does not import {IMPORTS[tool]}")
    return python_of(tool)


def versions(python: str | Path, dists: list[str]) -> dict[str, str | None]:
    """Installed versions of `dists` in the environment of `python` (None if missing)."""
    code = ("import importlib.metadata as m, json, sys\nout = {}\n"
            "for d in sys.argv[1:]:\n    try:\n        out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError:\n        out[d] = None\nprint(json.dumps(out))\n")
    proc = subprocess.run([str(python), "-c", code, *dists], capture_output=True, text=True)
    if proc.returncode != 0:
        return {d: None for d in dists}
    return json.loads(proc.stdout)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SPECS):
        ensure(name)
        print(name, versions(python_of(name), REPORTED[name]))
