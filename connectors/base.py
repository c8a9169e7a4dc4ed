"""The connector contract: a connector declares its config, the engine runs it.

Every connector has a pydantic config model (secret fields are ``SecretStr``;
the same model renders the dashboard form) and four verbs:

- ``check()``: never raises on bad credentials; says what failed.
- ``discover()``: the streams with their fields, key and cursor candidates.
- ``sample(stream, limit)``: fast; never reads the whole source.
- ``read(stream)``: bounded-size chunks; never keeps state of its own.

Connectors never import ``core``. Rows a connector could not parse are not
dropped: they travel in the chunk with :data:`ROW_ERROR_COLUMN` set to the
reason (and :data:`RAW_COLUMN` holding the raw text), so the engine can
quarantine them next to the rows that failed mapping or validation.

Outbound network policy: every connector has a ``network`` attribute, the
:class:`~connectors.network.NetworkPolicy` its HTTP clients obey (loopback,
link-local, private, unspecified, multicast and reserved addresses refused
unless allowed; see :mod:`connectors.network`). It defaults to what the
environment variable ``TRIBUTARY_ALLOWED_NETWORKS`` allows; the engine
(``Workspace.connector()``) sets it to the workspace's policy before any verb
runs. HTTP API connectors hand it to every ``HttpClient`` (``ApiConnector``
does so through ``http_settings``). It covers HTTP API sources only:
databases, SFTP servers and storage endpoints are typed by editors and live
on private networks as a rule, so they are not checked against it.

Hostile input: stream names, file patterns, table and column names reach a
source only after checks (a file pattern stays inside its folder, a table or
column is one reflection found, identifiers are quoted by the dialect); see
``docs/security.md``.

Secrets in logs: ``Connector.__init__`` hands the config's ``SecretStr``
values to :func:`connectors.redaction.guard_logs`, so that no log record made
while the connector lives shows them, whichever library logs it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict

from connectors.redaction import guard_logs, secret_values

if TYPE_CHECKING:
    from connectors.network import NetworkPolicy

#: Prefix of the bookkeeping columns a connector may add to a chunk.
META_PREFIX = "_tributary_"
#: Where in the source a row came from (``path#row`` or a table key); used as
#: the record's source key when the dataflow declares no primary key.
ORIGIN_COLUMN = "_tributary_origin"
#: Set (non-null) on rows the connector could not parse; holds the reason.
ROW_ERROR_COLUMN = "_tributary_row_error"
#: The raw text of a row that could not be parsed.
RAW_COLUMN = "_tributary_raw"
#: True on rows that report a deletion in the source (Salesforce ``IsDeleted``,
#: a tombstone): the engine removes the record with that primary key instead
#: of writing it. The row still carries its key and cursor columns.
DELETED_COLUMN = "_tributary_deleted"
#: Keys of ``StreamInfo.metadata`` a connector may fill for its standard objects:
#: attribute path -> source field (or expression) the mapping studio proposes
#: first, and identity namespace -> attribute path.
SUGGESTED_MAPPING = "suggested_mapping"
SUGGESTED_IDENTITIES = "suggested_identities"

#: Tributary's portable field types.
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp", "json", "binary")

DEFAULT_CHUNK_SIZE = 50_000
DEFAULT_SAMPLE_SIZE = 1_000


class ConnectorError(Exception):
    """Root of the errors a connector raises.

    Attributes:
        user_message: what a person can act on; never contains a secret.
        retriable: whether trying again later may succeed.
    """

    retriable: ClassVar[bool] = False

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class SourceUnreachableError(ConnectorError):
    """The source could not be reached (network, service down, timeout)."""

    retriable = True


class AuthenticationError(ConnectorError):
    """The source refused the credentials."""


class StreamNotFoundError(ConnectorError):
    """The stream (file pattern, table, object) does not exist or matches nothing."""


class FormatError(ConnectorError):
    """The data could not be parsed as a whole (wrong format, encoding...)."""


class DestinationNotAllowedError(ConnectorError):
    """The network policy refuses where a request would go (an internal address, another host)."""


class ConnectorConfig(BaseModel):
    """Base of every connector's configuration model. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class StreamOptions(BaseModel):
    """Base of per-stream read options (a file format, a query...)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class FieldInfo:
    """One field of a stream, with its portable type (one of FIELD_TYPES)."""

    name: str
    type: str = "string"


@dataclass(frozen=True)
class StreamInfo:
    """A stream a connector offers, as ``discover()`` describes it."""

    name: str
    fields: tuple[FieldInfo, ...] = ()
    primary_key_candidates: tuple[str, ...] = ()
    cursor_candidates: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CursorRequest:
    """An incremental read the engine asks for: rows whose cursor is at least ``start``.

    A connector that can push this down (a database) reads only those rows,
    ordered by (cursor, primary key); one that cannot (files) ignores it and
    the engine filters. ``start`` is inclusive because rows sharing the last
    cursor value may have arrived since: the engine drops the ones it has seen.

    Attributes:
        column: the cursor column.
        start: the lowest value to read, or None to read everything (still ordered).
            A timezone-aware pandas Timestamp (UTC) for timestamp cursors, a float
            for numeric ones, a str otherwise.
        primary_key: the columns that order rows sharing a cursor value.
    """

    column: str
    start: Any = None
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Partition:
    """One independently readable part of a stream (a file/object) and its version."""

    name: str  # the object's path relative to the connection's url
    version: str  # changes when the object's content changes (etag/md5/generation, else size+mtime)
    size: int | None = None
    modified: str | None = None  # ISO 8601 UTC


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``check()``: ok, and a message a person can act on."""

    ok: bool
    message: str


class Connector(ABC):
    """A source of customer data. Subclasses declare; the engine runs.

    Class attributes:
        name: registry key used in YAML (``connector: files``).
        title: shown in the catalog.
        category: catalog section.
        description: one line for the catalog.
        config_model: the pydantic model of the connection's settings.
        options_model: the pydantic model of per-stream read options.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str] = ""
    config_model: ClassVar[type[ConnectorConfig]]
    options_model: ClassVar[type[StreamOptions]] = StreamOptions
    #: Whether ``read`` filters and orders by a CursorRequest itself.
    pushes_down_cursor: ClassVar[bool] = False

    def __init__(self, config: ConnectorConfig | Mapping[str, Any]) -> None:
        if not isinstance(config, self.config_model):
            config = self.config_model.model_validate(config)
        self.config = config
        self._network: NetworkPolicy | None = None
        # the libraries a connector drives may log its secrets (botocore at DEBUG): never in clear
        guard_logs(self, secret_values(config))

    @property
    def network(self) -> NetworkPolicy:
        """The outbound network policy of this connector's HTTP requests.

        The engine sets it (the workspace's allowed networks); until then it is
        what ``TRIBUTARY_ALLOWED_NETWORKS`` allows, read when first asked for.
        """
        if self._network is None:
            from connectors.network import NetworkPolicy

            self._network = NetworkPolicy.from_environment()
        return self._network

    @network.setter
    def network(self, policy: NetworkPolicy) -> None:
        self._network = policy

    def parse_options(self, options: Mapping[str, Any] | StreamOptions | None) -> StreamOptions:
        """Validates per-stream options against ``options_model``."""
        if isinstance(options, self.options_model):
            return options
        return self.options_model.model_validate(dict(options or {}))

    @abstractmethod
    def check(self) -> CheckResult:
        """Tests the connection. Never raises for bad credentials or hosts."""

    @abstractmethod
    def discover(self) -> list[StreamInfo]:
        """Lists the streams the source offers."""

    @abstractmethod
    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Returns at most ``limit`` rows from the start of a stream, quickly."""

    @abstractmethod
    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yields the stream's rows in chunks of at most ``chunk_size`` rows.

        Chunks carry ORIGIN_COLUMN, and ROW_ERROR_COLUMN/RAW_COLUMN for rows
        that could not be parsed. The order is deterministic for unchanged data.
        Connectors that set ``pushes_down_cursor`` honour ``cursor``; others
        ignore it.
        """

    def partitions(self, stream: str, options: Mapping[str, Any] | None = None) -> list[Partition] | None:
        """The stream's parts with their versions, or None when it has none (a table)."""
        return None

    def read_partition(
        self,
        stream: str,
        partition: Partition,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Iterator[pd.DataFrame]:
        """Reads one part; chunks carry ORIGIN_COLUMN like read()."""
        raise NotImplementedError

    def fingerprint(self, stream: str, options: Mapping[str, Any] | None = None) -> str | None:
        """A string that changes when the stream's content may have changed.

        The engine uses it to decide whether an interrupted run may skip the
        chunks it already committed. ``None`` means "unknown": never skip.
        """
        return None


# Object columns (JSON values) are typed by pandas' own inference of their values.
_OBJECT_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "floating": "number",
    "mixed-integer-float": "number",
    "date": "date",
    "datetime": "timestamp",
    "datetime64": "timestamp",
    "bytes": "binary",
}


def infer_field_type(values: pd.Series) -> str:
    """Infers the portable type of a column from its values (vectorised).

    Typed columns (Parquet, databases) keep their type; object columns of
    Python values are typed by their values; text columns are typed when every
    non-empty value parses (booleans, integers without leading zeros, finite
    numbers, dates, timestamps), else they stay strings: ``00123`` is an
    identifier, not the number 123.
    """
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_integer_dtype(values):
        return "integer"
    if pd.api.types.is_float_dtype(values):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "timestamp"
    present = values.dropna()
    if present.empty:
        return "string"
    if present.dtype == object or not pd.api.types.is_string_dtype(present.dtype):
        kind = pd.api.types.infer_dtype(present, skipna=True)
        if kind in _OBJECT_TYPES:
            return _OBJECT_TYPES[kind]
        if kind not in ("string", "empty"):
            return "json"
    text = present.astype("string").str.strip()
    text = text[text != ""]
    if text.empty:
        return "string"
    if text.str.lower().isin(["true", "false"]).all():
        return "boolean"
    if text.str.fullmatch(r"[+-]?(0|[1-9]\d{0,17})").all():
        return "integer"
    if (
        text.str.fullmatch(r"[+-]?(0|[1-9]\d*)?(\.\d+)?([eE][+-]?\d+)?").all()
        and text.str.contains(r"\d").all()
    ):
        return "number"
    if text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all():
        return "date"
    if (
        text.str.match(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}").all()
        and pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True).notna().all()
    ):
        return "timestamp"
    return "string"
