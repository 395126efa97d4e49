"""The peer tools' virtualenvs: one per tool, under `benchmarks/.venvs/<tool>` (git-ignored).

Each is made with `python3 -m venv` + pip, with the pins the reference measurement needed
(see the module constant `SPECS`). Run as a script to create them ahead of a benchmark run:

    python3 benchmarks/drift/venvs.py [evidently nannyml alibi]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
VENVS_DIR = BENCH_DIR / ".venvs"

# pip requirements per tool. evidently 0.7.23 and nannyml 0.13.1 do not import with pandas 3;
# nannyml imports statsmodels without depending on it; alibi-detect pins numpy<2 while the newest
# pyarrow needs numpy>=2.
SPECS: dict[str, list[str]] = {
    "evidently": ["evidently==0.7.23", "pandas<3", "pyarrow"],
    "nannyml": ["nannyml==0.13.1", "pandas<3", "statsmodels", "pyarrow"],
    "alibi": ["alibi-detect==0.13.0", "numpy<2", "pyarrow<21", "pandas"],
}
# What to import to check a venv works, and which distributions to report the versions of.
IMPORTS = {"evidently": "evidently", "nannyml": "nannyml", "alibi": "alibi_detect"}
REPORTED = {
    "evidently": ["evidently", "pandas", "numpy", "scipy", "pyarrow"],
    "nannyml": ["nannyml", "pandas", "numpy", "scipy", "statsmodels", "pyarrow"],
    "alibi": ["alibi-detect", "numpy", "scipy", "pandas", "pyarrow"],
    "main": ["numpy", "scipy", "pandas", "pyarrow", "steadyml"],
}


def python_of(tool: str) -> Path:
    return VENVS_DIR / tool / "bin" / "python"


def works(tool: str) -> bool:
    py = python_of(tool)
    if not py.exists():
        return False
    proc = subprocess.run([str(py), "-c", f"import {IMPORTS[tool]}, pandas, pyarrow"],
                          capture_output=True, text=True)
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


def versions(python: str | Path, dists: list[str]) -> dict[str, str]:
    """Installed versions of `dists` in the environment of `python` (None if missing)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    try:\n"
        "        out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[d] = None\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([str(python), "-c", code, *dists], capture_output=True, text=True)
    if proc.returncode != 0:
        return {d: None for d in dists}
    return json.loads(proc.stdout)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SPECS):
        ensure(name)
        print(name, versions(python_of(name), REPORTED[name]))
