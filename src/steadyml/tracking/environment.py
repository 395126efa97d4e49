"""What code and which environment a run executes: captured automatically when it starts."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from steadyml.core.fingerprints import sha256_json

GIT_TIMEOUT_S = 10
CODE_MAX_AGE_S = 2.0


@dataclass(frozen=True)
class CodeVersion:
    """The git state of the working directory: commit, branch, dirty flag, hash of the diff."""

    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    diff_hash: str | None = None  # sha256 over each uncommitted path and its current bytes

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


def capture_code(cwd: str | os.PathLike[str] | None = None, *,
                 max_age_s: float = CODE_MAX_AGE_S) -> CodeVersion:
    """Return the git state of `cwd` (default: the working directory), or an unknown version.

    Re-read when the last reading is older than `max_age_s` or HEAD or the index moved, so
    a sweep that starts many runs a second runs git once, not once per run.
    """
    start = Path(cwd or os.getcwd()).absolute()
    top = _repo_root(start)
    if top is None:
        return CodeVersion()
    cached = _CODE_CACHE.get(str(start))
    now = time.monotonic()
    if cached is not None and cached[0] == _git_signature(top) and now - cached[1] < max_age_s:
        return cached[2]
    code = _read_code(start, top)
    # Signed after reading: `git status` may itself rewrite the index.
    _CODE_CACHE[str(start)] = (_git_signature(top), now, code)
    return code


def _read_code(cwd: Path, top: Path) -> CodeVersion:
    status = _git(cwd, "status", "--porcelain=v2", "--branch", "--untracked-files=normal", "-z")
    if status is None:
        return CodeVersion()
    commit = branch = None
    changed: list[str] = []
    entries = status.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif entry[:2] in ("1 ", "u "):
            changed.append(entry.split(" ", 8 if entry[0] == "1" else 10)[-1])
        elif entry.startswith("2 "):  # rename: the original path follows as its own entry
            changed.append(entry.split(" ", 9)[-1])
            i += 1
        elif entry.startswith("? "):
            changed.append(entry[2:])
        i += 1
    if commit is None:
        return CodeVersion()
    diff_hash = _hash_changes(top, changed) if changed else None
    return CodeVersion(repo=str(top), commit=commit, branch=branch, dirty=bool(changed),
                       diff_hash=diff_hash)


def _hash_changes(top: Path, paths: list[str]) -> str:
    """Hash what the uncommitted state is made of: each changed path and its current bytes."""
    h = hashlib.sha256()
    for rel in sorted(set(paths)):
        h.update(rel.encode() + b"\0")
        try:
            with open(top / rel, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    h.update(chunk)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            h.update(b"\0<absent>\0")  # deleted, or a directory of untracked files
    return h.hexdigest()


def _repo_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _git_signature(top: Path) -> tuple[int, ...]:
    git_dir = top / ".git"
    stamps = []
    for name in ("HEAD", "index"):
        try:
            stamps.append(os.stat(git_dir / name).st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


_CODE_CACHE: dict[str, tuple[tuple[int, ...], float, CodeVersion]] = {}


def clear_code_cache() -> None:
    """Forget cached git readings: the next capture runs git again."""
    _CODE_CACHE.clear()


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
