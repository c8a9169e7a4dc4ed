"""The shapes users write: connections, dataflows and their parts (pydantic).

The same models validate the YAML of ``python -m core apply``, the dashboard's
forms and what the store keeps, so a dataflow means one thing everywhere.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,99}\Z"  # \Z: "$" would also match before a final newline
_EVERY = re.compile(r"^\s*(?:(\d+)\s+)?(minute|hour|day|week)s?\s*$", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionSpec(_Strict):
    """A connection: which connector, and its settings (secrets as ``${ENV}``)."""

    connector: str
    config: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class SourceSpec(BaseModel):
    """Where a dataflow reads: a connection, a stream, and the connector's stream options."""

    model_config = ConfigDict(extra="allow")

    connection: str
    stream: str

    @property
    def options(self) -> dict[str, Any]:
        """The connector-specific options (``format`` for files, ...)."""
        return dict(self.model_extra or {})


class SyncSpec(_Strict):
    """How a dataflow reads: full refresh, or incremental.

    Incremental reads rows past the last value of a ``cursor`` column; over
    files and objects it also reads only new and changed objects, so there
    the cursor is optional (the workspace checks that against the connector).
    """

    mode: Literal["full_refresh", "incremental"] = "full_refresh"
    cursor: str | None = None
    primary_key: list[str] = Field(default_factory=list)
    chunk_size: int = Field(default=50_000, ge=1, le=5_000_000)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_key_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ScheduleSpec(_Strict):
    """When a dataflow runs: ``every: 1 hour`` from ``start``, in ``timezone``."""

    every: str | None = None
    once: bool = False
    start: datetime | None = None
    timezone: str = "UTC"

    @field_validator("every")
    @classmethod
    def _known_interval(cls, value: str | None) -> str | None:
        if value is not None and not _EVERY.match(value):
            raise ValueError("must look like '15 minutes', '1 hour', 'day' or '2 weeks'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris") from None
        return value

    def interval(self) -> tuple[int, str] | None:
        """The interval as (count, unit), or None for a one-off or manual dataflow."""
        if not self.every:
            return None
        match = _EVERY.match(self.every)
        assert match is not None  # validated above
        return int(match.group(1) or 1), match.group(2).lower()


class DataflowSpec(_Strict):
    """A dataflow: a source stream, how to sync it, how to map and check it."""

    source: SourceSpec
    sync: SyncSpec = Field(default_factory=SyncSpec)
    mapping: dict[str, str]
    identities: dict[str, str] = Field(default_factory=dict)
    quality: list[dict[str, Any]] = Field(default_factory=list)
    error_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    schedule: ScheduleSpec | None = None
    description: str = ""
    enabled: bool = True

    @field_validator("mapping")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("map at least one attribute")
        return value

    @model_validator(mode="after")
    def _identities_are_mapped(self) -> DataflowSpec:
        for namespace, attribute in self.identities.items():
            if attribute not in self.mapping:
                raise ValueError(
                    f"identity {namespace!r} uses {attribute!r}, which the mapping does not produce"
                )
        return self


class ProfilesSpec(_Strict):
    """How records become profiles: identity rules and merge policies (``profiles:`` in YAML).

    Attributes:
        default_region: the region phone numbers without +country are read in
            (``US``, ``FR``…); empty: numbers need their country code.
        namespaces: namespace -> overrides (``type``, ``normaliser``, ``limit``, ``priority``).
        blocked: namespace (``"*"`` for all) -> values that never link records.
        policies: merge policy name -> ``{kind, order, timestamps}``.
    """

    default_region: str = "US"
    namespaces: dict[str, dict[str, Any]] = Field(default_factory=dict)
    blocked: dict[str, list[str]] = Field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)


class WorkspaceSpec(_Strict):
    """A whole configuration file: custom attributes, connections, dataflows and profile rules."""

    attributes: dict[str, Any] = Field(default_factory=dict)
    profiles: ProfilesSpec | None = None
    connections: dict[str, ConnectionSpec] = Field(default_factory=dict)
    dataflows: dict[str, DataflowSpec] = Field(default_factory=dict)

    @field_validator("connections", "dataflows")
    @classmethod
    def _valid_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(
                    f"name {name!r} must start with a letter and use only letters, digits, '_' or '-'"
                )
        return value
