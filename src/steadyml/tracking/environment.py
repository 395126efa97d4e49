"""What code and which environment a run executes: captured automatically when it starts."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from steadyml.core.fingerprints import sha256_json

GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class CodeVersion:
    """The git state of the working directory: commit, branch, dirty flag, hash of the diff."""

    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    diff_hash: str | None = None  # sha256 of `git diff HEAD` plus untracked file names

    @property
    def is_known(self) -> bool:
        return self.commit is not None


@dataclass(frozen=True)
class Environment:
    """The Python interpreter and the installed distributions, with a hash of the list."""

    python_version: str
    platform: str
    packages: tuple[str, ...]  # sorted "name==version"
    hash: str


def capture_code(cwd: str | os.PathLike[str] | None = None) -> CodeVersion:
    """Return the git state of `cwd` (default: the working directory), or an unknown version."""
    cwd = Path(cwd or os.getcwd())
    status = _git(cwd, "status", "--porcelain=v2", "--branch", "--untracked-files=normal")
    if status is None:
        return CodeVersion()
    commit = branch = None
    changes: list[str] = []
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif not line.startswith("#"):
            changes.append(line)
    if commit is None:
        return CodeVersion()
    dirty = bool(changes)
    diff_hash = None
    if dirty:
        diff = _git(cwd, "diff", "HEAD", "--no-color", "--no-ext-diff", binary=True) or b""
        untracked = sorted(c for c in changes if c.startswith("?"))
        diff_hash = hashlib.sha256(diff + "\n".join(untracked).encode()).hexdigest()
    top = _git(cwd, "rev-parse", "--show-toplevel")
    return CodeVersion(repo=top.strip() if top else None, commit=commit, branch=branch,
                       dirty=dirty, diff_hash=diff_hash)


def capture_environment() -> Environment:
    """Return the running interpreter's environment.

    The package scan is cached per process and redone only when a directory on sys.path
    changes (its mtime moves when a package is installed or removed).
    """
    return _environment(_path_signature())


def source_of_main() -> str | None:
    """Return the script or module this process was started with, if any."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).absolute()) if path else None


@lru_cache(maxsize=4)
def _environment(_signature: tuple[tuple[str, int], ...]) -> Environment:
    packages = sorted({f"{dist.metadata['Name']}=={dist.version}"
                       for dist in metadata.distributions() if dist.metadata["Name"]},
                      key=str.lower)
    python_version = platform.python_version()
    system = f"{platform.system()}-{platform.machine()}"
    digest = sha256_json({"python": python_version, "platform": system, "packages": packages})
    return Environment(python_version=python_version, platform=system,
                       packages=tuple(packages), hash=digest)


def _path_signature() -> tuple[tuple[str, int], ...]:
    signature = []
    for entry in sys.path:
        try:
            signature.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(signature)


def _git(cwd: Path, *args: str, binary: bool = False) -> str | bytes | None:  # type: ignore[return]
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout if binary else done.stdout.decode(errors="replace")
