"""The peer tools' virtualenvs: one per tool, under `benchmarks/.venvs/<tool>` (git-ignored).

Each is made with `python3 -m venv` + pip, with the pins the reference measurement needed
(see the module constant `SPECS`). Run as a script to create them ahead of a benchmark run:

    python3 benchmarks/drift/venvs.py [evidently nannyml alibi]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/

from _venvs import PeerVenvs, versions  # noqa: E402

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


PEERS = PeerVenvs(SPECS, IMPORTS, REPORTED, also_import="pandas, pyarrow")
python_of, works, ensure = PEERS.python_of, PEERS.works, PEERS.ensure
__all__ = ["IMPORTS", "PEERS", "REPORTED", "SPECS", "ensure", "python_of", "versions", "works"]

if __name__ == "__main__":
    PEERS.main(sys.argv[1:])
