"""Peer tools' virtualenvs, one per tool under `benchmarks/.venvs/<tool>` (git-ignored).

Each is made with `python3 -m venv` + pip from the pins a benchmark gives (`PeerVenvs`); a
venv that already imports its tool is used as it is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"

_VERSIONS = ("import importlib.metadata as m, json, sys\nout = {}\n"
             "for d in sys.argv[1:]:\n    try:\n        out[d] = m.version(d)\n"
             "    except m.PackageNotFoundError:\n        out[d] = None\nprint(json.dumps(out))\n")


class PeerVenvs:
    """The venvs of one benchmark's peers: pip `specs`, the module each must import (plus
    `also_import`, e.g. "pandas, pyarrow"), and the distributions whose versions to report."""

    def __init__(self, specs: Mapping[str, Sequence[str]], imports: Mapping[str, str],
                 reported: Mapping[str, Sequence[str]], *, also_import: str = "") -> None:
        self.specs, self.imports, self.reported = specs, imports, reported
        self.also_import = also_import

    def python_of(self, tool: str) -> Path:
        return VENVS_DIR / tool / "bin" / "python"

    def works(self, tool: str) -> bool:
        py = self.python_of(tool)
        if not py.exists():
            return False
        modules = ", ".join(filter(None, [self.imports[tool], self.also_import]))
        proc = subprocess.run([str(py), "-c", f"import {modules}"], capture_output=True,
                              text=True)
        return proc.returncode == 0

    def ensure(self, tool: str, log: Callable[[str], object] = print) -> Path:
        """Create (or repair) the venv of `tool` unless it already imports; return its python."""
        if self.works(tool):
            return self.python_of(tool)
        venv = VENVS_DIR / tool
        if venv.exists():
            shutil.rmtree(venv)
        VENVS_DIR.mkdir(parents=True, exist_ok=True)
        log(f"[venv] creating {venv} ({' '.join(self.specs[tool])})")
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        pip = [str(self.python_of(tool)), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *self.specs[tool]], check=True)
        if not self.works(tool):
            raise RuntimeError(f"the {tool} venv does not import {self.imports[tool]}")
        return self.python_of(tool)

    def main(self, argv: Sequence[str]) -> None:
        """Create the venvs named in `argv` (all by default) and print their versions."""
        for name in argv or list(self.specs):
            self.ensure(name)
            print(name, versions(self.python_of(name), self.reported[name]))


def versions(python: str | Path, dists: Sequence[str]) -> dict[str, str | None]:
    """Installed versions of `dists` in the environment of `python` (None if missing)."""
    proc = subprocess.run([str(python), "-c", _VERSIONS, *dists], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return {d: None for d in dists}
    return json.loads(proc.stdout)


if __name__ == "__main__":
    sys.exit("Run benchmarks/drift/venvs.py or benchmarks/pipelines/peer_venvs.py instead.")
