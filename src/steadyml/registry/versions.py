"""Registered models, versions and aliases in the metadata store.

Functions here take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from steadyml.core.errors import AliasNotFoundError, ModelNotFoundError
from steadyml.core.fingerprints import canonical_json
from steadyml.registry.refs import ModelRef
from steadyml.store.tables import (
    datasets,
    model_aliases,
    model_version_datasets,
    model_versions,
    registered_models,
)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    flavor: str
    flavor_meta: dict[str, Any]
    signature: dict[str, Any]
    artifact_digest: str
    artifact_size: int
    run_id: str | None
    description: str
    metrics: dict[str, Any]
    tags: dict[str, str]
    actor: str
    created_ms: int
    aliases: list[str] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **asdict(self)}


def next_version(conn: Connection, name: str, now_ms: int, description: str = "") -> int:
    """Create the registered model if new, lock it, and return its next version number."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(registered_models).values(
        name=name, description=description, created_ms=now_ms, updated_ms=now_ms,
    ).on_conflict_do_nothing(index_elements=["name"]))
    # On PostgreSQL the row lock serialises concurrent registrations of one model; SQLite's
    # BEGIN IMMEDIATE already serialises every writer.
    conn.execute(sa.select(registered_models.c.name).where(registered_models.c.name == name)
                 .with_for_update())
    conn.execute(registered_models.update().where(registered_models.c.name == name)
                 .values(updated_ms=now_ms))
    latest = conn.execute(sa.select(sa.func.max(model_versions.c.version))
                          .where(model_versions.c.model_name == name)).scalar()
    return int(latest or 0) + 1


def insert_version(conn: Connection, *, name: str, version: int, flavor: str,
                   flavor_meta: dict[str, Any], signature: dict[str, Any], digest: str,
                   size: int, run_id: str | None, description: str, metrics: dict[str, Any],
                   tags: dict[str, str], actor: str, now_ms: int,
                   dataset_links: list[tuple[int, str]]) -> None:
    version_id = conn.execute(model_versions.insert().values(
        model_name=name, version=version, flavor=flavor, flavor_meta=canonical_json(flavor_meta),
        signature=canonical_json(signature), artifact_digest=digest, artifact_size=size,
        run_id=run_id, description=description, metrics=canonical_json(metrics),
        tags=canonical_json(tags), actor=actor, created_ms=now_ms)).inserted_primary_key[0]
    if dataset_links:
        conn.execute(model_version_datasets.insert(), [
            {"model_version_id": version_id, "dataset_id": d, "context": c}
            for d, c in dict.fromkeys(dataset_links)])


def resolve(conn: Connection, ref: ModelRef) -> int:
    """Return the version number a reference points at."""
    if ref.version is not None:
        return ref.version
    if ref.alias is not None:
        version = conn.execute(sa.select(model_aliases.c.version).where(
            model_aliases.c.model_name == ref.name, model_aliases.c.alias == ref.alias)).scalar()
        if version is None:
            _require_model(conn, ref.name)
            raise AliasNotFoundError(ref.name, ref.alias)
        return int(version)
    latest = conn.execute(sa.select(sa.func.max(model_versions.c.version))
                          .where(model_versions.c.model_name == ref.name)).scalar()
    if latest is None:
        raise ModelNotFoundError(ref.name)
    return int(latest)


def get_version(conn: Connection, ref: ModelRef) -> ModelVersion:
    version = resolve(conn, ref)
    row = conn.execute(sa.select(model_versions).where(
        model_versions.c.model_name == ref.name, model_versions.c.version == version)).first()
    if row is None:
        _require_model(conn, ref.name)
        raise ModelNotFoundError(ref.name, version)
    return _with_links(conn, [row])[0]


def list_versions(conn: Connection, name: str) -> list[ModelVersion]:
    _require_model(conn, name)
    rows = conn.execute(sa.select(model_versions).where(model_versions.c.model_name == name)
                        .order_by(model_versions.c.version.desc())).all()
    return _with_links(conn, rows)


def list_models(conn: Connection) -> list[dict[str, Any]]:
    """Return every registered model with its latest version and aliases."""
    latest = (sa.select(model_versions.c.model_name, sa.func.max(model_versions.c.version)
                        .label("latest"), sa.func.count().label("versions"))
              .group_by(model_versions.c.model_name).subquery())
    rows = conn.execute(sa.select(registered_models, latest.c.latest, latest.c.versions)
                        .select_from(registered_models.outerjoin(
                            latest, latest.c.model_name == registered_models.c.name))
                        .order_by(registered_models.c.name)).all()
    aliases: dict[str, dict[str, int]] = {}
    for name, alias, version in conn.execute(sa.select(
            model_aliases.c.model_name, model_aliases.c.alias, model_aliases.c.version)):
        aliases.setdefault(name, {})[alias] = version
    return [{"name": r.name, "description": r.description, "latest_version": r.latest,
             "versions": r.versions or 0, "aliases": aliases.get(r.name, {}),
             "updated_ms": r.updated_ms} for r in rows]


def set_alias(conn: Connection, name: str, alias: str, version: int, now_ms: int) -> int | None:
    """Point `alias` at `version`; return the version it pointed at before, if any."""
    previous = conn.execute(sa.select(model_aliases.c.version).where(
        model_aliases.c.model_name == name, model_aliases.c.alias == alias)
        .with_for_update()).scalar()
    if previous is None:
        conn.execute(model_aliases.insert().values(model_name=name, alias=alias,
                                                   version=version, updated_ms=now_ms))
    else:
        conn.execute(model_aliases.update().where(
            model_aliases.c.model_name == name, model_aliases.c.alias == alias)
            .values(version=version, updated_ms=now_ms))
    return None if previous is None else int(previous)


def delete_alias(conn: Connection, name: str, alias: str) -> int:
    previous = conn.execute(sa.select(model_aliases.c.version).where(
        model_aliases.c.model_name == name, model_aliases.c.alias == alias)).scalar()
    if previous is None:
        _require_model(conn, name)
        raise AliasNotFoundError(name, alias)
    conn.execute(model_aliases.delete().where(model_aliases.c.model_name == name,
                                              model_aliases.c.alias == alias))
    return int(previous)


def _require_model(conn: Connection, name: str) -> None:
    if conn.execute(sa.select(registered_models.c.name)
                    .where(registered_models.c.name == name)).first() is None:
        raise ModelNotFoundError(name)


def _with_links(conn: Connection, rows: list[Any]) -> list[ModelVersion]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    names = {r.model_name for r in rows}
    aliases: dict[tuple[str, int], list[str]] = {}
    for name, alias, version in conn.execute(
            sa.select(model_aliases.c.model_name, model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.model_name.in_(names)).order_by(model_aliases.c.alias)):
        aliases.setdefault((name, version), []).append(alias)
    links: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(
            sa.select(model_version_datasets.c.model_version_id, model_version_datasets.c.context,
                      datasets.c.id, datasets.c.name, datasets.c.fingerprint, datasets.c.uri,
                      datasets.c.num_rows, datasets.c.num_columns)
            .join(datasets, datasets.c.id == model_version_datasets.c.dataset_id)
            .where(model_version_datasets.c.model_version_id.in_(ids))
            .order_by(datasets.c.id)):
        links.setdefault(row.model_version_id, []).append({
            "context": row.context, "id": row.id, "name": row.name,
            "fingerprint": row.fingerprint, "uri": row.uri, "rows": row.num_rows,
            "columns": row.num_columns})
    return [ModelVersion(
        name=r.model_name, version=r.version, flavor=r.flavor,
        flavor_meta=json.loads(r.flavor_meta), signature=json.loads(r.signature),
        artifact_digest=r.artifact_digest, artifact_size=r.artifact_size, run_id=r.run_id,
        description=r.description, metrics=json.loads(r.metrics), tags=json.loads(r.tags),
        actor=r.actor, created_ms=r.created_ms, aliases=aliases.get((r.model_name, r.version), []),
        datasets=links.get(r.id, [])) for r in rows]
