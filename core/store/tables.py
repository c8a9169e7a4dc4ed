"""Tributary's own tables (SQLAlchemy Core). Alembic migrations create them.

Datasets (one table per dataflow) are not here: their columns follow the
dataflow's mapping, so ``core.store.datasets`` creates and widens them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

connections = Table(
    "connections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("connector", String(100), nullable=False),
    Column("config", JSON, nullable=False),  # non-secret settings only
    Column("secret_refs", JSON, nullable=False, default=dict),  # field -> ${ENV} name it came from
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

secrets = Table(
    "secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False),
    Column("field", String(200), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("connection_id", "field", name="uq_secrets_connection_field"),
)

dataflows = Table(
    "dataflows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("connection_id", Integer, ForeignKey("connections.id"), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("enabled", Integer, nullable=False, default=1),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dataflow_versions = Table(
    "dataflow_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataflow_id", Integer, ForeignKey("dataflows.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("source_schema", JSON(none_as_null=True)),  # column -> type the mapping was built on, when known
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataflow_id", "version", name="uq_dataflow_versions_version"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataflow_id", Integer, ForeignKey("dataflows.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),  # running|succeeded|partial|failed|abandoned
    Column("trigger", String(20), nullable=False, default="manual"),
    Column("mode", String(20), nullable=False, default="full_refresh"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("received", BigInteger, nullable=False, default=0),
    Column("ingested", BigInteger, nullable=False, default=0),
    Column("failed", BigInteger, nullable=False, default=0),
    Column("deleted", BigInteger, nullable=False, default=0),
    Column("chunks", Integer, nullable=False, default=0),
    Column("duration_s", Float),
    Column("error_code", String(50)),
    Column("error_message", Text),
    Column("resumed_from", Integer),
    Column("dataflow_version", Integer),  # the dataflow version (mapping, suite) the run used
    Column("validation", JSON(none_as_null=True)),  # the quality suite's summary over the run's chunks
    Column("warnings", JSON(none_as_null=True)),  # e.g. schema drift the run went on with
    Index("ix_runs_dataflow_started", "dataflow_id", "started_at"),
)

run_errors = Table(
    "run_errors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("dataflow_id", Integer, nullable=False),
    Column("source_key", Text),
    Column("origin", Text),
    Column("code", String(50), nullable=False),
    Column("field", String(200)),
    Column("reason", Text, nullable=False),
    Column("row", JSON),  # the source row as received, for replay and download
    Index("ix_run_errors_run", "run_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("dataflow_id", Integer, ForeignKey("dataflows.id", ondelete="CASCADE"), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

cursor_partitions = Table(
    "cursor_partitions",
    metadata,
    Column("dataflow_id", Integer, ForeignKey("dataflows.id", ondelete="CASCADE"), primary_key=True),
    Column("name", Text, primary_key=True),  # the object's path, as Partition.name
    Column("version", Text),  # the version ingested completely; NULL: never completed
    Column("reading", Text),  # the version a run is reading now; NULL: none in progress
    Column("chunks_done", Integer, nullable=False, server_default="0"),  # chunks of `reading` committed
    Column("run_id", Integer),  # the run (first of a resumed series) whose progress this row holds
    Column("progress", JSON(none_as_null=True)),  # that run's cursor progress in this object (run_max)
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("dataflow_id", Integer, primary_key=True),
    Column("owner", String(200)),
    Column("token", BigInteger, nullable=False, default=0),
    Column("acquired_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataflow_id", Integer, ForeignKey("dataflows.id", ondelete="CASCADE"), primary_key=True),
    Column("table_name", String(200), nullable=False, unique=True),
    Column("columns", JSON, nullable=False),  # attribute path -> type
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("dataflow_id", Integer, nullable=False, primary_key=True),
    Column("source_key", Text, nullable=False, primary_key=True),
    Column("namespace", String(100), nullable=False, primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_identities_namespace_value", "namespace", "value"),
)

profile_members = Table(
    "profile_members",
    metadata,
    Column("dataflow_id", Integer, primary_key=True),
    Column("source_key", Text, primary_key=True),
    Column("profile_id", String(40), nullable=False),  # deterministic from the profile's members
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_profile_members_profile", "profile_id"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("profile_id", String(40), primary_key=True),
    Column("members", Integer, nullable=False),  # records merged into it
    Column("identities", JSON, nullable=False),  # namespace -> [values]
    Column("dataflows", JSON, nullable=False),  # dataflow names contributing records
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

profile_decisions = Table(
    "profile_decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("profile_id", String(40)),
    Column("dataflow_id", Integer),
    Column("source_key", Text),
    Column("namespace", String(100), nullable=False),
    Column("value", Text),
    Column("rule", String(50), nullable=False),  # merged | blocked_value | namespace_limit | ...
    Column("detail", Text, nullable=False),  # why, in words
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_profile_decisions_profile", "profile_id"),
    Index("ix_profile_decisions_record", "dataflow_id", "source_key"),
)

schedule_state = Table(
    "schedule_state",
    metadata,
    Column("dataflow_id", Integer, ForeignKey("dataflows.id", ondelete="CASCADE"), primary_key=True),
    Column("next_due_at", DateTime(timezone=True)),  # UTC; None = not scheduled
    Column("last_due_at", DateTime(timezone=True)),  # the slot the last scheduled run served
    Column("last_started_at", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_run_id", Integer),
    Column("attempts", Integer, nullable=False, server_default="0"),  # retries of the current slot
    Column("retry_at", DateTime(timezone=True)),
    Column("schedule", JSON(none_as_null=True)),  # the schedule next_due_at was computed from
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

scheduler_heartbeats = Table(
    "scheduler_heartbeats",
    metadata,
    Column("owner", String(200), primary_key=True),  # host:pid:random
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("beat_at", DateTime(timezone=True), nullable=False),
    Column("running", JSON(none_as_null=True)),  # dataflow names it is running now
    Column("stopped_at", DateTime(timezone=True)),
)

alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # webhook | email
    Column("config", JSON, nullable=False),  # non-secret settings
    Column("secret", LargeBinary),  # Fernet ciphertext: webhook URL or SMTP password
    Column("events", JSON, nullable=False),  # the event kinds it receives
    Column("enabled", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(400), nullable=False),  # one delivery per (event occurrence, channel)
    Column("channel_id", Integer, ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(50), nullable=False),
    Column("dataflow_id", Integer),
    Column("run_id", Integer),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("key", name="uq_alert_deliveries_key"),
    Index("ix_alert_deliveries_status", "status", "next_attempt_at"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(200), nullable=False),
    Column("password_hash", Text),  # NULL: signs in through OpenID Connect only
    Column("role", String(20), nullable=False),  # viewer | editor | admin
    Column("grants", JSON, nullable=False),  # extra rights: ["personal_data"]
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("username", name="uq_users_username"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),  # created | changed | deleted | signed_in | ...
    Column("object_type", String(40), nullable=False),  # connection | dataflow | user | setting | ...
    Column("object_name", String(200), nullable=False),
    Column("diff", JSON, nullable=False),  # field -> {"before": ..., "after": ...}; secrets as "changed"
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_object", "object_type", "object_name"),
)
