"""The peers' virtualenvs: one per tool under `benchmarks/.venvs/<tool>` (git-ignored).

Made with `python3 -m venv` + pip. Run as a script to create them ahead of a benchmark run:

    python3 benchmarks/pipelines/peer_venvs.py [prefect dagster]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/

from _venvs import PeerVenvs, versions  # noqa: E402

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


PEERS = PeerVenvs(SPECS, IMPORTS, REPORTED)
python_of, works, ensure = PEERS.python_of, PEERS.works, PEERS.ensure
__all__ = ["IMPORTS", "PEERS", "REPORTED", "SPECS", "ensure", "python_of", "versions", "works"]

if __name__ == "__main__":
    PEERS.main(sys.argv[1:])
