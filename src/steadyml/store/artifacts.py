"""Content-addressed artifact store on fsspec: local directory, S3-compatible, or any fsspec URL.

A blob lives at `<root>/blobs/sha256/<2 hex>/<64 hex>` and is named by the sha256 of its bytes.
Every read hashes what it got and refuses content that does not match its name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from steadyml.core.errors import (
    ArtifactCorruptError,
    ArtifactNotFoundError,
    ConfigurationError,
    StoreUnavailableError,
)
from steadyml.core.fingerprints import CHUNK_BYTES
from steadyml.core.ids import new_id


class ArtifactStore:
    """Put and get immutable blobs by sha256 digest."""

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url.rstrip("/")
        try:
            # A fresh instance: fsspec's cache would pin the endpoint and credentials that the
            # environment had when the first store of this URL was opened.
            self.fs, self.root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True,
                                                       **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(
                f"Cannot open the artifact store {url!r}: {exc}. For s3:// URLs install "
                "'steadyml[s3]'.") from exc
        self.root = self.root.rstrip("/")
        self._is_local = "file" in _protocols(self.fs)

    def path_of(self, digest: str) -> str:
        """Return the store path of a blob."""
        _check_digest(digest)
        return f"{self.root}/blobs/sha256/{digest[:2]}/{digest}"

    def uri_of(self, digest: str) -> str:
        """Return a full URI of a blob, for display and lineage."""
        path = self.path_of(digest)
        protocol = _protocols(self.fs)[0]
        return path if protocol == "file" else f"{protocol}://{path}"

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; return its sha256 digest. Storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        self._write(digest, lambda handle: handle.write(data))
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a local file's content; return its sha256 digest."""
        digest = _hash_file(path)

        def copy(handle: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle, CHUNK_BYTES)

        self._write(digest, copy)
        return digest

    def exists(self, digest: str) -> bool:
        return self._call(self.fs.exists, self.path_of(digest))

    def get_bytes(self, digest: str) -> bytes:
        """Return a blob's bytes after checking they hash to `digest`."""
        path = self.path_of(digest)
        try:
            data = self._call(self.fs.cat_file, path)
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(digest, self.uri_of(digest)) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise ArtifactCorruptError(digest, actual, self.uri_of(digest))
        return data

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a blob to a local file, verified; the file appears only if it verified."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{new_id()}.part")
        hasher = hashlib.sha256()
        try:
            try:
                source = self._call(self.fs.open, self.path_of(digest), "rb")
            except FileNotFoundError as exc:
                raise ArtifactNotFoundError(digest, self.uri_of(digest)) from exc
            with source, open(tmp, "wb") as out:
                while chunk := self._call(source.read, CHUNK_BYTES):
                    hasher.update(chunk)
                    out.write(chunk)
            if hasher.hexdigest() != digest:
                raise ArtifactCorruptError(digest, hasher.hexdigest(), self.uri_of(digest))
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def _write(self, digest: str, fill: Any) -> None:
        path = self.path_of(digest)
        if self._call(self.fs.exists, path):
            return
        if not self._is_local:
            # An object store PUT is atomic: readers see all of the object or none of it.
            try:
                with self._call(self.fs.open, path, "wb") as handle:
                    fill(handle)
            except FileNotFoundError as exc:
                raise StoreUnavailableError(
                    f"Cannot write to the artifact store at {self.url}: {exc}. Create the "
                    "bucket, or point STEADY_ARTIFACTS at an existing one.") from exc
            return
        # Locally: write a temporary file beside the target, then rename it into place.
        directory = Path(path).parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{digest[:8]}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _call(self, fn: Any, *args: Any) -> Any:
        """Call the filesystem; any failure but a missing file means the store is unusable."""
        try:
            return fn(*args)
        except FileNotFoundError:
            raise
        except Exception as exc:  # botocore, aiohttp, OSError...: none share a base class
            raise StoreUnavailableError(
                f"Cannot reach the artifact store at {self.url}: {type(exc).__name__}: {exc}. "
                "Check STEADY_ARTIFACTS, the endpoint and the storage credentials.") from exc


def _hash_file(path: str | os.PathLike[str]) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _check_digest(digest: str) -> None:
    # The digest becomes part of a path: accept only 64 lowercase hex characters.
    if not isinstance(digest, str) or len(digest) != 64 or any(
            c not in "0123456789abcdef" for c in digest):
        raise ArtifactNotFoundError(str(digest)[:80], "(not a sha256 digest)")
