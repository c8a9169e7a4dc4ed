"""The façade the dashboard and the CLI call: every user action is one method here.

Nothing here imports streamlit; pages stay thin and only render what these
methods return. Errors are ``TributaryError`` with a message safe to show.
"""

from __future__ import annotations

import contextlib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import Engine, delete, select

import connectors
from connectors.base import META_PREFIX, ROW_ERROR_COLUMN, CheckResult, Connector, ConnectorError, StreamInfo
from connectors.redaction import SecretMasker, secret_values
from core import ingest
from core.errors import ConfigurationError, NotFoundError, TributaryError
from core.mapping import ProfileSchema, compile_mapping
from core.models import NAME_PATTERN, ConnectionSpec, DataflowSpec
from core.quality import QualitySuite
from core.secrets import Vault
from core.security import SYSTEM, Actor, Users, audit
from core.security.network import ALLOWED_NETWORKS_SETTING, NetworkPolicy, allowed_entries, network_policy
from core.store import datasets, db
from core.store import tables as t
from core.store.repository import Store, utcnow

if typing.TYPE_CHECKING:
    from core.profiles.query import Profiles
    from core.studio import Studio

MASK = "********"


@dataclass(frozen=True)
class Preview:
    """A sample of a stream and a profile of its columns."""

    frame: pd.DataFrame
    profile: pd.DataFrame
    malformed: int


def format_validation_error(error: ValidationError, where: str) -> str:
    """Turns a pydantic error into one line per problem, never echoing input values."""
    lines = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{where}: {location}: {item['msg']}")
    return "\n".join(lines)


def secret_fields(model: type[BaseModel]) -> set[str]:
    """The names of a config model's ``SecretStr`` fields."""
    found = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        args = typing.get_args(annotation)
        if annotation is SecretStr or SecretStr in args:
            found.add(name)
    return found


class Workspace:
    """One Tributary store with its vault and profile schema, acting for one actor.

    Every public action checks the actor's role (:mod:`core.security.access`)
    before it reads personal data or changes anything, and every change is
    written to the audit log in its own transaction. The scheduler and the
    local command line act as :data:`~core.security.SYSTEM`; the dashboard
    acts as the signed-in user (:meth:`as_actor`).
    """

    def __init__(self, engine: Engine, vault: Vault, actor: Actor = SYSTEM) -> None:
        self.engine = engine
        self.store = Store(engine)
        self.vault = vault
        self.actor = actor

    @classmethod
    def open(cls, url: str | None = None, *, demo: bool = False, actor: Actor = SYSTEM) -> Workspace:
        """Opens (creating and migrating as needed) the store; adds the demo on first start."""
        engine = db.create_store_engine(url)
        fresh = not db.has_tables(engine)
        db.migrate(engine)
        workspace = cls(engine, Vault.from_environment(db.workspace_dir()), actor)
        if demo and fresh:
            from core import demo as demo_module

            demo_module.install(cls(engine, workspace.vault, SYSTEM))
        return workspace

    def as_actor(self, actor: Actor) -> Workspace:
        """The same store, acting for ``actor`` (the dashboard's signed-in user)."""
        return Workspace(self.engine, self.vault, actor)

    def require(self, permission: str, action: str) -> None:
        """Raises PermissionDeniedError unless the actor has ``permission`` (view, edit, admin…)."""
        self.actor.require(permission, action)

    @property
    def users(self) -> Users:
        """The workspace's accounts (changes need an admin)."""
        return Users(self.engine, self.actor)

    def audit_log(self, limit: int = 500, object_type: str | None = None) -> pd.DataFrame:
        """Who changed what and when, newest first (admins only)."""
        self.require("admin", "read the audit log")
        return audit.entries(self.engine, limit, object_type)

    @property
    def studio(self) -> Studio:
        """The mapping studio's actions: live mapping, dry runs, drift, versions, import/export."""
        from core.studio import Studio

        return Studio(self)

    @property
    def profiles(self) -> Profiles:
        """Unified profiles: lookups, search, counts, merge policies, identity rules, rebuild."""
        from core.profiles.query import Profiles

        return Profiles(self)

    # -- profile schema -------------------------------------------------------
    @property
    def schema(self) -> ProfileSchema:
        """The default profile schema extended by the workspace's own attributes."""
        return ProfileSchema.default().extend(self.setting("attributes", {}))

    def setting(self, key: str, default: Any = None) -> Any:
        """A workspace setting, or ``default``."""
        with self.engine.connect() as c:
            value = c.execute(select(t.settings.c.value).where(t.settings.c.key == key)).scalar()
        return default if value is None else value

    def save_setting(self, key: str, value: Any) -> None:
        """Stores a workspace setting (an admin's; profile attributes an editor's), audited."""
        if key in _EDITOR_SETTINGS:
            self.require("edit", f"change the {key} setting")
        else:
            self.require("admin", f"change the {key} setting")
        if key == ALLOWED_NETWORKS_SETTING:
            value = allowed_entries(value)
        with self.engine.begin() as c:
            before = c.execute(select(t.settings.c.value).where(t.settings.c.key == key)).scalar()
            c.execute(delete(t.settings).where(t.settings.c.key == key))
            c.execute(t.settings.insert().values(key=key, value=value, updated_at=utcnow()))
            changes = audit.diff({"value": before}, {"value": value})
            if changes:
                audit.record(
                    c, self.actor, "created" if before is None else "changed", "setting", key, changes
                )

    # -- connections ---------------------------------------------------------
    def catalog(self) -> pd.DataFrame:
        """Every source in the catalog, by category, with whether it is available now."""
        rows = []
        for category, entries in connectors.CATALOG.items():
            for name, title in entries:
                cls = connectors.REGISTRY.get(name)
                rows.append(
                    {
                        "category": category,
                        "name": name,
                        "title": title,
                        "available": cls is not None,
                        "description": cls.description if cls else "",
                    }
                )
        return pd.DataFrame(rows)

    def connections(self) -> pd.DataFrame:
        """The saved connections (never their secrets)."""
        rows = self.store.connection_rows()
        columns = ["name", "connector", "description", "updated_at"]
        return pd.DataFrame([{k: r[k] for k in columns} for r in rows], columns=columns)

    def connection_spec(self, name: str, *, masked: bool = True) -> ConnectionSpec:
        """A connection's settings, secrets masked (or as ``${ENV}`` references for export)."""
        row = self.store.connection_row(name)
        config = dict(row["config"])
        refs = dict(row["secret_refs"] or {})
        for field in self.store.secret_tokens(row["id"]):
            config[field] = MASK if masked else "${" + refs.get(field, _env_name(name, field)) + "}"
        return ConnectionSpec(connector=row["connector"], config=config, description=row["description"])

    def save_connection(
        self,
        name: str,
        connector: str,
        config: Mapping[str, Any],
        description: str = "",
        secret_refs: Mapping[str, str] | None = None,
    ) -> None:
        """Validates and saves a connection; secrets go to the vault, encrypted.

        A secret left empty or masked keeps the stored value, so forms can
        re-save a connection without showing its password.
        """
        self.require("edit", "save connections")
        _check_name(name, "connection")
        cls = self._connector_class(connector)
        existing_refs: dict[str, str] = {}
        before: dict[str, Any] | None = None
        stored_secrets: dict[str, bytes] = {}
        with contextlib.suppress(NotFoundError):
            row = self.store.connection_row(name)
            existing_refs = dict(row["secret_refs"] or {})
            stored_secrets = self.store.secret_tokens(row["id"])
            before = {
                "connector": row["connector"],
                "description": row["description"],
                "config": row["config"],
            }
        secrets = secret_fields(cls.config_model)
        values = self._with_stored_secrets(name, cls, config)
        try:
            model = cls.config_model.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(format_validation_error(error, f"connection {name!r}")) from None
        dumped = model.model_dump(mode="json", exclude=secrets)
        tokens = {}
        for field in secrets:
            value = getattr(model, field)
            if value is not None:
                tokens[field] = self.vault.encrypt(value)
        refs = {**existing_refs, **(secret_refs or {})}
        after = {"connector": connector, "description": description, "config": dumped}
        if before is not None:  # secrets: "changed" only when a new value was given
            before["config"] = {**before["config"], **{f: "secret" for f in stored_secrets}}
        after["config"] = {
            **dumped,
            **{f: ("secret" if _kept(config.get(f)) else "secret (new)") for f in tokens},
        }
        with self.engine.begin() as c:
            self.store.upsert_connection(c, name, connector, dumped, tokens, refs, description)
            action = "created" if before is None else "changed"
            audit.record(c, self.actor, action, "connection", name, audit.diff(before, after, secrets))

    def delete_connection(self, name: str) -> None:
        """Deletes a connection no dataflow uses."""
        self.require("edit", "delete connections")
        row = self.store.connection_row(name)
        self.store.delete_connection(name)
        with self.engine.begin() as c:
            before = {"connector": row["connector"], "config": row["config"]}
            audit.record(c, self.actor, "deleted", "connection", name, audit.diff(before, None))

    def connector(self, name: str) -> Connector:
        """The connector of a saved connection, with its secrets decrypted."""
        self.require("edit", "use a connection's credentials")
        row = self.store.connection_row(name)
        config = dict(row["config"])
        for field, token in self.store.secret_tokens(row["id"]).items():
            config[field] = self.vault.decrypt(token)
        instance = self._connector_class(row["connector"])(config)
        instance.network = self._network_policy()
        return instance

    def redactor(self, name: str) -> SecretMasker:
        """A function that masks the connection's secrets in any text, in every form they travel in."""
        row = self.store.connection_row(name)
        tokens = self.store.secret_tokens(row["id"]).values()
        return SecretMasker((self.vault.decrypt(token).get_secret_value() for token in tokens), MASK)

    def test_connection(
        self, name: str | None = None, connector: str | None = None, config: Mapping[str, Any] | None = None
    ) -> CheckResult:
        """Checks a saved connection, or unsaved settings; never raises (but for a missing role)."""
        self.require("edit", "test connections")
        try:
            if name is not None and config is None:
                instance = self.connector(name)
                redact = self.redactor(name)
            else:
                cls = self._connector_class(connector or "")
                # Editing a saved connection: secrets left empty mean "keep the stored ones".
                values = self._with_stored_secrets(name, cls, config or {}) if name else dict(config or {})
                instance = cls(values)
                instance.network = self._network_policy()
                redact = SecretMasker(secret_values(instance.config), MASK)

            result = instance.check()
            return CheckResult(result.ok, redact(result.message))
        except ValidationError as error:
            return CheckResult(False, format_validation_error(error, "connection"))
        except (TributaryError, ConnectorError) as error:
            return CheckResult(False, error.user_message)

    def streams(self, connection: str) -> list[StreamInfo]:
        """The streams a connection offers."""
        return self._guard(connection, lambda c: c.discover())

    def preview(
        self, connection: str, stream: str, options: Mapping[str, Any] | None = None, limit: int = 1000
    ) -> Preview:
        """A sample of a stream with a profile of each column."""
        frame = self._guard(
            connection, lambda c: c.sample(stream, limit, c.parse_options(options).model_dump())
        )
        from core.profiling import profile_columns

        malformed = int(frame.get(ROW_ERROR_COLUMN, pd.Series(dtype=object)).notna().sum())
        visible = frame[[c for c in frame.columns if not str(c).startswith(META_PREFIX)]]
        return Preview(frame=visible, profile=profile_columns(visible), malformed=malformed)

    def objects(
        self, connection: str, stream: str, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame | None:
        """The objects a stream of a storage connection matches (name, size, modified, version).

        None for a connection whose streams are not made of objects (a database table).
        """
        parts = self._guard(connection, lambda c: c.partitions(stream, c.parse_options(options).model_dump()))
        if parts is None:
            return None
        frame = pd.DataFrame(
            [(p.name, p.size, p.modified, p.version) for p in parts],
            columns=["name", "size", "modified", "version"],
        )
        frame["size"] = frame["size"].astype("Int64")
        frame["modified"] = pd.to_datetime(frame["modified"], utc=True, format="ISO8601")
        return frame

    # -- dataflows -------------------------------------------------------------
    def dataflows(self) -> pd.DataFrame:
        """The dataflows with their source and last run."""
        runs = self.store.runs_frame(limit=10_000)
        last = runs.drop_duplicates("dataflow_id") if not runs.empty else pd.DataFrame()
        rows = []
        for row in self.store.dataflow_rows():
            spec = DataflowSpec.model_validate(row["spec"])
            latest = last[last["dataflow_id"] == row["id"]] if not last.empty else pd.DataFrame()
            rows.append(
                {
                    "name": row["name"],
                    "connection": spec.source.connection,
                    "stream": spec.source.stream,
                    "mode": spec.sync.mode,
                    "schedule": spec.schedule.every if spec.schedule and spec.schedule.every else "manual",
                    "version": row["version"],
                    "last_status": latest["status"].iloc[0] if not latest.empty else None,
                    "last_run_at": latest["started_at"].iloc[0] if not latest.empty else None,
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
                "name",
                "connection",
                "stream",
                "mode",
                "schedule",
                "version",
                "last_status",
                "last_run_at",
            ],
        )

    def dataflow_spec(self, name: str) -> DataflowSpec:
        """A saved dataflow's spec."""
        return DataflowSpec.model_validate(self.store.dataflow_row(name)["spec"])

    def validate_dataflow(self, name: str, spec: DataflowSpec | Mapping[str, Any]) -> DataflowSpec:
        """Checks a dataflow against its connection, the profile schema and GX; returns it parsed."""
        try:
            parsed = spec if isinstance(spec, DataflowSpec) else DataflowSpec.model_validate(spec)
        except ValidationError as error:
            raise ConfigurationError(format_validation_error(error, f"dataflow {name!r}")) from None
        row = self.store.connection_row(parsed.source.connection)
        cls = self._connector_class(row["connector"])
        try:
            cls.options_model.model_validate(parsed.source.options)
        except ValidationError as error:
            raise ConfigurationError(format_validation_error(error, f"dataflow {name!r}: source")) from None
        sync = parsed.sync
        if sync.mode == "incremental" and not sync.cursor and cls.partitions is Connector.partitions:
            raise ConfigurationError(
                f"dataflow {name!r}: sync.cursor: an incremental sync from a {cls.title} source needs a "
                "cursor column (a timestamp or an increasing number)"
            )
        if parsed.schedule is not None:
            from core.scheduler.timetable import validate_schedule

            validate_schedule(parsed.schedule)
        compiled = compile_mapping(parsed.mapping, self.schema)
        QualitySuite.parse(parsed.quality).check_columns(compiled.targets)
        return parsed

    def save_dataflow(
        self,
        name: str,
        spec: DataflowSpec | Mapping[str, Any],
        *,
        source_schema: Mapping[str, str | None] | None = None,
        note: str = "",
    ) -> None:
        """Validates and saves a dataflow (a changed spec becomes a new version).

        ``source_schema`` (column -> type, as the mapping's sample showed it) is
        what later runs check the source against; without one, the version's
        first run records it.
        """
        self.require("edit", "save dataflows")
        _check_name(name, "dataflow")
        parsed = self.validate_dataflow(name, spec)
        connection = self.store.connection_row(parsed.source.connection)
        before = None
        with contextlib.suppress(NotFoundError):
            before = self.store.dataflow_row(name)["spec"]
        after = parsed.model_dump(mode="json", exclude_none=True)
        with self.engine.begin() as c:
            changes = audit.diff(before, after)
            if before is None or changes:
                action = "created" if before is None else "changed"
                audit.record(c, self.actor, action, "dataflow", name, changes)
            self.store.upsert_dataflow(
                c,
                name,
                connection["id"],
                parsed.model_dump(mode="json", exclude_none=True),
                source_schema=source_schema,
                note=note,
            )

    def dataflow_run(
        self, name: str, *, trigger: str = "manual", progress: ingest.ProgressCallback | None = None
    ) -> ingest.DataflowRun:
        """A run of a saved dataflow, ready to execute (or to dry-run)."""
        self.require("edit", "run dataflows")
        row = self.store.dataflow_row(name)
        spec = DataflowSpec.model_validate(row["spec"])
        return ingest.DataflowRun(
            self.store,
            row,
            self.connector(spec.source.connection),
            self.schema,
            trigger=trigger,
            progress=progress,
            redact=self.redactor(spec.source.connection),
        )

    def run(
        self, name: str, *, trigger: str = "manual", progress: ingest.ProgressCallback | None = None
    ) -> ingest.RunSummary:
        """Runs a dataflow now, in this process."""
        self.require("edit", "run dataflows")
        return self.dataflow_run(name, trigger=trigger, progress=progress).execute()

    def replay(self, run_id: int) -> ingest.RunSummary:
        """Re-ingests a run's quarantined rows through the current mapping, as a new run."""
        from core.replay import replay

        self.require("edit", "replay runs")
        return replay(self, run_id)

    def runs(self, dataflow: str | None = None, limit: int = 200) -> pd.DataFrame:
        """Run history, newest first."""
        dataflow_id = self.store.dataflow_row(dataflow)["id"] if dataflow else None
        return self.store.runs_frame(dataflow_id, limit)

    def run_errors(self, run_id: int, limit: int = 10_000) -> pd.DataFrame:
        """The quarantined rows of a run (they hold the source's personal data)."""
        self.require("view_personal_data", "see quarantined rows")
        self.store.run_row(run_id)
        return self.store.errors_frame(run_id, limit)

    def records(self, dataflow: str, limit: int | None = 1000) -> pd.DataFrame:
        """A dataflow's ingested records (mapped attributes, source key, lineage)."""
        self.require("view_personal_data", "see records")
        row = self.store.dataflow_row(dataflow)
        table = datasets.dataset_table(self.engine, row["id"])
        if table is None:
            return pd.DataFrame()
        return datasets.read_records(self.engine, table, limit)

    def record_count(self, dataflow: str) -> int:
        """How many records a dataflow's dataset holds."""
        table = datasets.dataset_table(self.engine, self.store.dataflow_row(dataflow)["id"])
        return 0 if table is None else datasets.count_records(self.engine, table)

    def overview(self) -> dict[str, Any]:
        """Headline figures for the overview page."""
        runs = self.store.runs_frame(limit=10_000)
        return {
            "connections": len(self.store.connection_rows()),
            "dataflows": len(self.store.dataflow_rows()),
            "runs": len(runs),
            "records_ingested": int(runs["ingested"].sum()) if not runs.empty else 0,
            "rows_failed": int(runs["failed"].sum()) if not runs.empty else 0,
        }

    # -- helpers -------------------------------------------------------------
    def _network_policy(self) -> NetworkPolicy:
        """What HTTP sources may reach beyond the internet: the admin's allowed networks and the server's."""
        return network_policy(self.setting(ALLOWED_NETWORKS_SETTING, []))

    def _with_stored_secrets(
        self, name: str, cls: type[Connector], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``config`` with its empty or masked secrets filled from the saved connection ``name``."""
        values = dict(config)
        try:
            stored = self.store.secret_tokens(self.store.connection_row(name)["id"])
        except NotFoundError:
            return values
        for field in secret_fields(cls.config_model):
            if _kept(values.get(field)) and field in stored:
                values[field] = self.vault.decrypt(stored[field])
        return values

    def _connector_class(self, name: str) -> type[Connector]:
        try:
            return connectors.connector_class(name)
        except KeyError as error:
            raise ConfigurationError(str(error.args[0])) from None

    def _guard(self, connection: str, action):  # type: ignore[no-untyped-def]
        """Calls ``action(connector)``, turning connector errors into TributaryErrors."""
        instance = self.connector(connection)
        try:
            return action(instance)
        except ConnectorError as error:
            raise ingest.from_connector(error) from None
        except ValidationError as error:
            raise ConfigurationError(format_validation_error(error, "options")) from None


#: Settings an editor may change (the profile attributes a mapping uses); the others are an admin's.
_EDITOR_SETTINGS = frozenset({"attributes"})


def _kept(value: Any) -> bool:
    """Whether a form's secret value means "keep the stored one" (empty or masked)."""
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    return plain in (None, "", MASK)


def _check_name(name: str, kind: str) -> None:
    """Rejects names that ``python -m core apply`` would reject, so exports always re-apply."""
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        raise ConfigurationError(
            f"{kind} name {name!r} must start with a letter and use only letters, digits, '_' or '-'"
        )


def _env_name(connection: str, field: str) -> str:
    return f"{connection}_{field}".upper().replace("-", "_")
