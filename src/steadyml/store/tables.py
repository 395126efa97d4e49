"""The metadata schema, as SQLAlchemy Core tables (the hot paths use Core, not the ORM).

Times are integer milliseconds since the epoch; structured values are canonical JSON text.
Changing a table here needs a new Alembic revision in `migrations/versions`.
"""

from __future__ import annotations

import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid
MS = sa.BigInteger

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

experiments = sa.Table(
    "experiments", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("created_ms", MS, nullable=False),
)

environments = sa.Table(
    "environments", metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("python_version", sa.String(32), nullable=False),
    sa.Column("platform", sa.String(128), nullable=False),
    sa.Column("packages", sa.Text, nullable=False),  # JSON list of "name==version"
    sa.Column("created_ms", MS, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("experiment_id", ID, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_ms", MS, nullable=False),
    sa.Column("end_ms", MS),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("source", sa.String(1024)),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_branch", sa.String(256)),
    sa.Column("git_dirty", sa.Boolean),
    sa.Column("git_diff_hash", sa.String(64)),
    sa.Column("git_repo", sa.String(1024)),
    sa.Column("environment_hash", sa.String(64), sa.ForeignKey("environments.hash")),
    sa.Index(None, "experiment_id", "start_ms"),
    sa.Index(None, "start_ms"),
)

# params, tags and latest_metrics are clustered by (run_id, key) on SQLite (WITHOUT ROWID):
# loading the values of a page of runs reads each run's rows in one place.
params = sa.Table(
    "params", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Index(None, "key", "value"),
    sqlite_with_rowid=False,
)

tags = sa.Table(
    "tags", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sqlite_with_rowid=False,
)

metrics = sa.Table(
    "metrics", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Float(precision=53)),  # NULL is NaN (SQLite cannot store NaN)
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp_ms", MS, nullable=False),
    # (run_id, step, key): a batch logged at one step lands in one contiguous stretch of
    # the index; (run_id, key, step) would touch a page per key on every batch.
    sa.Index(None, "run_id", "step", "key"),
)

# The last value of each metric of each run (highest step, then latest time): what search
# filters and orders on, kept current by an upsert in the same transaction as the history.
latest_metrics = sa.Table(
    "latest_metrics", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Float(precision=53)),  # NULL is NaN
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp_ms", MS, nullable=False),
    sa.Index(None, "key", "value"),
    sqlite_with_rowid=False,
)

run_artifacts = sa.Table(
    "run_artifacts", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

datasets = sa.Table(
    "datasets", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("num_rows", sa.BigInteger, nullable=False),
    sa.Column("num_columns", sa.Integer, nullable=False),
    sa.Column("schema", sa.Text, nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64)),  # sha256 of the stored Parquet copy, if stored
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.UniqueConstraint("name", "fingerprint"),
    sa.Index(None, "fingerprint"),
)

run_datasets = sa.Table(
    "run_datasets", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("dataset_id", ID, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("context", sa.String(32), primary_key=True),
)

registered_models = sa.Table(
    "registered_models", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)

model_versions = sa.Table(
    "model_versions", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(128), sa.ForeignKey("registered_models.name"),
              nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("flavor", sa.String(32), nullable=False),
    sa.Column("flavor_meta", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("artifact_digest", sa.String(64), nullable=False),
    sa.Column("artifact_size", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.UniqueConstraint("model_name", "version"),
)

model_version_datasets = sa.Table(
    "model_version_datasets", metadata,
    sa.Column("model_version_id", ID, sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("dataset_id", ID, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("context", sa.String(32), primary_key=True),
)

model_aliases = sa.Table(
    "model_aliases", metadata,
    sa.Column("model_name", sa.String(128), sa.ForeignKey("registered_models.name"),
              primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)

# Append-only and hash-chained: `seq` is assigned as previous + 1 (never autoincrement), so a
# removed entry leaves a gap, and each `hash` covers the previous entry's hash.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts_ms", MS, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "subject"),
)

# --- deployments (revision 0002) -----------------------------------------------------------------

deployments = sa.Table(
    "deployments", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),  # the revision serving now
    sa.Column("config", sa.Text, nullable=False),  # JSON: batching, timeouts, price
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)

# Append-only: a change writes a new revision and moves deployments.revision to it.
deployment_revisions = sa.Table(
    "deployment_revisions", metadata,
    sa.Column("deployment", sa.String(128), sa.ForeignKey("deployments.name"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("stable_model", sa.String(128), nullable=False),
    sa.Column("stable_version", sa.Integer, nullable=False),
    sa.Column("candidate_model", sa.String(128)),
    sa.Column("candidate_version", sa.Integer),
    sa.Column("mode", sa.String(16)),  # canary | shadow | blue-green, with a candidate
    sa.Column("weight", sa.Float, nullable=False),  # % of traffic the candidate answers
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256; the secret is shown once
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("revoked_ms", MS),
)

# --- monitoring and control (revision 0003) ------------------------------------------------------

# Ground truth, keyed by the request id the prediction log carries; a later value replaces an
# earlier one (a corrected label). Numbers in value_num, labels in value_text.
outcomes = sa.Table(
    "outcomes", metadata,
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("value_num", sa.Float),
    sa.Column("value_text", sa.String(256)),
    sa.Column("received_ms", MS, nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False, server_default="api"),
)

policies = sa.Table(
    "policies", metadata,
    sa.Column("deployment", sa.String(128), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),  # JSON, as Policy.to_dict()
    sa.Column("source", sa.Text, nullable=False, server_default=""),  # the YAML as applied
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)

# One row per open condition (deployment + key); a repeat raises `count` and `last_ms`.
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("deployment", sa.String(128), nullable=False),
    sa.Column("key", sa.String(256), nullable=False),  # what breached, e.g. "slo:error_rate"
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | resolved
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("first_ms", MS, nullable=False),
    sa.Column("last_ms", MS, nullable=False),
    sa.Column("notified_ms", MS),
    sa.Column("resolved_ms", MS),
    sa.Index(None, "deployment", "key", "status"),
)

# What the controller saw and did, in order: the timeline `steady controller` and the demo show.
controller_events = sa.Table(
    "controller_events", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("deployment", sa.String(128), nullable=False),
    sa.Column("ts_ms", MS, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Index(None, "deployment", "ts_ms"),
)

# Each evaluated drift window: the history behind persistence rules and the report's charts.
drift_windows = sa.Table(
    "drift_windows", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("deployment", sa.String(128), nullable=False),
    sa.Column("end_ms", MS, nullable=False),
    sa.Column("window_s", sa.Float, nullable=False),
    sa.Column("reference", sa.String(32), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("flagged", sa.Text, nullable=False),  # JSON list
    sa.Column("summary", sa.Text, nullable=False),  # JSON: feature -> {psi, drifted, ...}
    sa.Index(None, "deployment", "end_ms"),
)

retrains = sa.Table(
    "retrains", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("deployment", sa.String(128), nullable=False, index=True),
    sa.Column("started_ms", MS, nullable=False),
    sa.Column("finished_ms", MS),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("estimated_cost", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | succeeded | failed | busy
    sa.Column("exit_code", sa.Integer),
    sa.Column("output_tail", sa.Text, nullable=False, server_default=""),
)

# --- pipelines (revision 0004) -------------------------------------------------------------------

# One row per pipeline run; the run itself (status, times, code, environment) is in `runs`.
# `params` is the typed JSON the run used, so a rerun gets exactly the same values back.
pipeline_runs = sa.Table(
    "pipeline_runs", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("pipeline", sa.String(128), nullable=False),
    sa.Column("source", sa.Text),  # "FILE:ATTRIBUTE" it was loaded from, when known
    sa.Column("params", sa.Text, nullable=False),  # canonical JSON
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("rerun_of", sa.String(32)),
    sa.Column("started_ms", MS, nullable=False),
    sa.Index(None, "pipeline", "started_ms"),
    sa.Index(None, "started_ms"),
)

# One row per executed, cached or failed step of a pipeline run. A step whose `cache_key`
# matches an earlier succeeded/cached row reuses that row's outputs (content-addressed blobs).
pipeline_steps = sa.Table(
    "pipeline_steps", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("pipeline_runs.run_id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("step", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # succeeded | cached | failed
    sa.Column("cache_key", sa.String(64), nullable=False),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON: input name -> fingerprint
    sa.Column("outputs", sa.Text, nullable=False),  # JSON: name -> {format, digest, ...}
    sa.Column("metrics", sa.Text, nullable=False),  # JSON: what the step logged
    sa.Column("cached_from", sa.String(32)),  # the run that executed it, for cached rows
    sa.Column("started_ms", MS, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("log_digest", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("run_id", "position"),
    sa.Index(None, "cache_key"),
)

# --- gates (revision 0005) -----------------------------------------------------------------------

# One row per gate result recorded on a model version (append-only: a gate run again adds a row;
# the newest row of a gate is its current result). `result` holds every number the gate compared.
model_version_gates = sa.Table(
    "model_version_gates", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("model_version_id", ID, sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("gate", sa.String(128), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("result", sa.Text, nullable=False),  # canonical JSON of the gate result
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index(None, "model_version_id", "gate"),
)

# --- pipeline triggers, locks and schedules (revision 0006) --------------------------------------

# One row per target while a pipeline run holds it: the unique `target` is the lock. Inserted in
# its own transaction before the run starts, deleted when it ends; a row whose holder process is
# gone (same host) or whose heartbeat is older than the stale timeout may be taken over.
pipeline_locks = sa.Table(
    "pipeline_locks", metadata,
    sa.Column("target", sa.String(256), primary_key=True),
    sa.Column("holder", sa.String(32), nullable=False),  # a token unique to the lock taker
    sa.Column("pipeline", sa.String(128), nullable=False),
    sa.Column("run_id", sa.String(32)),  # set once the tracked run exists
    sa.Column("trigger_id", ID),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_ms", MS, nullable=False),
    sa.Column("heartbeat_ms", MS, nullable=False),
)

# Every request to run a pipeline (manual, schedule, drift), including refused ones.
pipeline_triggers = sa.Table(
    "pipeline_triggers", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(128), nullable=False),
    sa.Column("target", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # manual | schedule | drift
    sa.Column("origin", sa.String(256), nullable=False),  # actor, schedule name, deployment
    sa.Column("status", sa.String(16), nullable=False),  # queued | started | refused
    sa.Column("run_id", sa.String(32)),
    sa.Column("reason", sa.Text),  # why it was refused, or the lock it took over
    sa.Column("detail", sa.Text, nullable=False),  # JSON, e.g. the drifted features
    sa.Column("requested_ms", MS, nullable=False),
    sa.Column("decided_ms", MS),
    sa.Index(None, "pipeline", "requested_ms"),
    sa.Index(None, "target", "requested_ms"),
    sa.Index(None, "requested_ms"),
)

# Pipelines run on a cron schedule by `steady server`'s scheduler. `next_run_ms` is advanced in
# the transaction that claims a tick, so two servers never start the same tick.
pipeline_schedules = sa.Table(
    "pipeline_schedules", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("ref", sa.Text, nullable=False),  # FILE:PIPELINE, the file's path absolute
    sa.Column("pipeline", sa.String(128), nullable=False),
    sa.Column("cron", sa.String(128), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: param -> command-line text
    sa.Column("target", sa.String(256)),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("next_run_ms", MS, nullable=False),
    sa.Column("last_run_ms", MS),
    sa.Column("last_exit_code", sa.Integer),
    sa.Column("last_output", sa.Text),
    sa.Index(None, "next_run_ms"),
)
