"""The content-addressed artifact store on a local directory and on a real S3-compatible server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from steadyml.core.errors import ArtifactCorruptError, ArtifactNotFoundError, ConfigurationError
from steadyml.store import ArtifactStore


@dataclass
class Backend:
    """An artifact store plus raw access to its storage that bypasses the store's checks."""

    store: ArtifactStore
    overwrite: Callable[[str, bytes], None]   # replace a blob's bytes behind the store's back
    delete: Callable[[str], None]
    list_blobs: Callable[[], list[str]]       # every object/file under the store's root


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        root = tmp_path / "artifacts"
        store = ArtifactStore(str(root))

        def overwrite(digest: str, data: bytes) -> None:
            Path(store.path_of(digest)).write_bytes(data)

        def delete(digest: str) -> None:
            Path(store.path_of(digest)).unlink()

        def list_blobs() -> list[str]:
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

        return Backend(store, overwrite, delete, list_blobs)

    s3_url = request.getfixturevalue("s3_url")
    s3_server = request.getfixturevalue("s3_server")
    options = request.getfixturevalue("s3_storage_options")
    store = ArtifactStore(s3_url, storage_options=options)
    client = s3_server.client()
    prefix = s3_url.removeprefix(f"s3://{s3_server.bucket}/")

    def key_of(digest: str) -> str:
        bucket, key = store.path_of(digest).split("/", 1)
        assert bucket == s3_server.bucket
        return key

    def s3_overwrite(digest: str, data: bytes) -> None:
        client.put_object(Bucket=s3_server.bucket, Key=key_of(digest), Body=data)

    def s3_delete(digest: str) -> None:
        client.delete_object(Bucket=s3_server.bucket, Key=key_of(digest))

    def s3_list() -> list[str]:
        listing = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/")
        return sorted(o["Key"].removeprefix(f"{prefix}/") for o in listing.get("Contents", []))

    return Backend(store, s3_overwrite, s3_delete, s3_list)


def _blob(size: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


@pytest.mark.parametrize("size", [0, 1, 3 << 20])  # empty, tiny, several read chunks
def test_bytes_round_trip(backend: Backend, size: int) -> None:
    data = _blob(size)
    digest = backend.store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert backend.store.exists(digest)
    assert backend.store.get_bytes(digest) == data


def test_file_round_trip(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(_blob(2 << 20, seed=3))
    digest = backend.store.put_file(source)
    assert digest == hashlib.sha256(source.read_bytes()).hexdigest()

    dest = backend.store.get_file(digest, tmp_path / "out" / "copy.bin")
    assert dest == tmp_path / "out" / "copy.bin"
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]  # no temporary left


def test_same_content_is_stored_once(backend: Backend, tmp_path: Path) -> None:
    data = b"the same bytes"
    source = tmp_path / "same.txt"
    source.write_bytes(data)
    digests = {backend.store.put_bytes(data), backend.store.put_bytes(data),
               backend.store.put_file(source)}
    assert len(digests) == 1
    digest = digests.pop()
    assert backend.list_blobs() == [f"blobs/sha256/{digest[:2]}/{digest}"]

    other = backend.store.put_bytes(b"different bytes")
    assert other != digest
    assert len(backend.list_blobs()) == 2


def test_uri_names_the_blob(backend: Backend) -> None:
    digest = backend.store.put_bytes(b"x")
    uri = backend.store.uri_of(digest)
    assert uri.endswith(f"/blobs/sha256/{digest[:2]}/{digest}")
    if backend.store.url.startswith("s3://"):
        assert uri.startswith(backend.store.url + "/")


@pytest.mark.parametrize("damage", ["flipped", "truncated", "emptied", "replaced"])
def test_corrupt_blob_is_refused(backend: Backend, tmp_path: Path, damage: str) -> None:
    data = _blob(100_000, seed=7)
    digest = backend.store.put_bytes(data)
    damaged = {
        "flipped": data[:500] + bytes([data[500] ^ 0x01]) + data[501:],
        "truncated": data[:-1],
        "emptied": b"",
        "replaced": b"some other artifact entirely",
    }[damage]
    backend.overwrite(digest, damaged)

    with pytest.raises(ArtifactCorruptError) as info:
        backend.store.get_bytes(digest)
    assert digest in str(info.value)
    assert hashlib.sha256(damaged).hexdigest() in str(info.value)
    assert isinstance(info.value, ValueError)

    dest_dir = tmp_path / "restore"
    with pytest.raises(ArtifactCorruptError):
        backend.store.get_file(digest, dest_dir / "model.bin")
    assert not (dest_dir / "model.bin").exists()
    assert list(dest_dir.iterdir()) == []  # not even a partial file


def test_corrupt_blob_does_not_replace_an_existing_destination(backend: Backend,
                                                                tmp_path: Path) -> None:
    digest = backend.store.put_bytes(b"good content")
    backend.overwrite(digest, b"bad content!")
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"previous version")
    with pytest.raises(ArtifactCorruptError):
        backend.store.get_file(digest, dest)
    assert dest.read_bytes() == b"previous version"


def test_missing_blob_is_not_found(backend: Backend, tmp_path: Path) -> None:
    never_stored = hashlib.sha256(b"never stored").hexdigest()
    assert not backend.store.exists(never_stored)
    with pytest.raises(ArtifactNotFoundError, match=never_stored):
        backend.store.get_bytes(never_stored)
    with pytest.raises(ArtifactNotFoundError):
        backend.store.get_file(never_stored, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


def test_deleted_blob_is_not_found(backend: Backend) -> None:
    digest = backend.store.put_bytes(b"soon gone")
    backend.delete(digest)
    with pytest.raises(ArtifactNotFoundError) as info:
        backend.store.get_bytes(digest)
    assert isinstance(info.value, LookupError)


def test_putting_again_restores_a_deleted_blob(backend: Backend) -> None:
    digest = backend.store.put_bytes(b"restorable")
    backend.delete(digest)
    assert backend.store.put_bytes(b"restorable") == digest
    assert backend.store.get_bytes(digest) == b"restorable"


MALFORMED_DIGESTS = [
    "../../etc/passwd",
    "../" * 21 + "a",                              # 64 characters, still a traversal
    "/" + "a" * 63,
    "a" * 63,
    "a" * 65,
    "A" * 64,                                      # upper case is not the canonical name
    "g" * 64,
    "",
    "a" * 62 + "/.",
]


@pytest.mark.parametrize("digest", MALFORMED_DIGESTS)
def test_malformed_digest_is_rejected(backend: Backend, tmp_path: Path, digest: str) -> None:
    for read in (backend.store.get_bytes, backend.store.exists, backend.store.path_of,
                 backend.store.uri_of):
        with pytest.raises(ArtifactNotFoundError):
            read(digest)
    with pytest.raises(ArtifactNotFoundError):
        backend.store.get_file(digest, tmp_path / "out" / "x")
    assert not (tmp_path / "out" / "x").exists()


def test_traversal_cannot_read_a_file_outside_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    secret = tmp_path / "secret"
    secret.write_bytes(b"top secret")
    store = ArtifactStore(str(root))
    sneaky = os.path.relpath(secret, root / "blobs" / "sha256" / "xx")
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes(sneaky)


def test_unknown_protocol_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no-such-protocol"):
        ArtifactStore("no-such-protocol://bucket/prefix")
