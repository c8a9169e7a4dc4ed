"""The base of the vendor API connectors: the four verbs, run once over the shared HTTP layer.

A vendor connector (Dynamics 365, Marketing Cloud) declares four things: how
to open an authenticated client (:meth:`ApiConnector.open_client`), a cheap
call that proves access (:meth:`~ApiConnector.probe`), its streams
(``discover``), and the request that reads a stream (a :class:`StreamQuery`,
for a sample and for a read). This class runs ``check``, ``sample`` and
``read`` from those, so paging, chunking, bookkeeping and secret-free errors
live in one place.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar, cast

import pandas as pd
from pydantic import SecretStr

from connectors._http import (
    HttpClient,
    HttpSettings,
    Page,
    Paginator,
    Redactor,
    Shape,
    SinglePage,
    read_chunks,
    records_frame,
    with_origin,
)
from connectors.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SAMPLE_SIZE,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorError,
    CursorRequest,
)

#: The connector's config model (``ApiConnector[DynamicsConfig]``).
ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)


@dataclass(frozen=True)
class StreamQuery:
    """How to read a stream: its first page's request, how pages follow, and what a record is.

    Attributes:
        url: relative to the client's base URL, or absolute.
        params: query parameters of the first page.
        headers: headers of every page.
        paginator: how the next page is asked for.
        records_path: where the records sit in a page (a JSON path; None: the body).
        key: the columns identifying a record (ORIGIN_COLUMN is built from them).
        shape: reshapes each chunk of flattened records (vectorised).
        records: picks a page's records instead of ``records_path`` (records nested in
            others, or pages that repeat records already read); called once per page, in
            order. Paginators still see the records at ``records_path``.
    """

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    paginator: Paginator = field(default_factory=SinglePage)
    records_path: str | None = None
    key: tuple[str, ...] = ()
    shape: Shape | None = None
    records: Callable[[Page], Sequence[Any]] | None = None

    def records_of(self, page: Page) -> Sequence[Any]:
        """The page's records, as ``records`` picks them (else those at ``records_path``)."""
        return self.records(page) if self.records else page.records


class ApiConnector(Connector, Generic[ConfigT]):
    """A connector of one vendor's HTTP API; subclasses declare, this class runs the verbs.

    Args:
        config: the connection's settings.
        settings: timeouts and retry policy of the HTTP client (a seam for tests:
            short backoffs); the layer's defaults otherwise.
    """

    pushes_down_cursor: ClassVar[bool] = True

    def __init__(
        self, config: ConnectorConfig | Mapping[str, Any], *, settings: HttpSettings | None = None
    ) -> None:
        super().__init__(config)
        self._http_settings = settings or HttpSettings()

    @property
    def http_settings(self) -> HttpSettings:
        """The HTTP client's settings, with this connector's network policy unless they carry their own."""
        if self._http_settings.network is not None:
            return self._http_settings
        return replace(self._http_settings, network=self.network)

    @property
    def settings(self) -> ConfigT:
        """The connection's settings, as the subclass's config model types them."""
        return cast(ConfigT, self.config)  # Connector.__init__ validated them against config_model

    # -- what a vendor connector declares ----------------------------------------
    @abstractmethod
    def open_client(self) -> HttpClient:
        """A new authenticated client (the caller closes it)."""

    @abstractmethod
    def probe(self, client: HttpClient) -> str:
        """Makes one cheap call proving the credentials work; returns what ``check`` says on success."""

    @abstractmethod
    def sample_query(self, client: HttpClient, stream: str, limit: int) -> StreamQuery:
        """The request of at most ``limit`` records from the start of ``stream``: one page."""

    @abstractmethod
    def read_query(self, client: HttpClient, stream: str, cursor: CursorRequest | None) -> StreamQuery:
        """The request reading ``stream`` whole, or from ``cursor.start`` on in (cursor, key) order."""

    # -- the verbs -----------------------------------------------------------------
    def check(self) -> CheckResult:
        """Opens a client and runs the probe; says what failed if either cannot."""
        client: HttpClient | None = None
        try:
            client = self.open_client()
            return CheckResult(True, self.probe(client))
        except ConnectorError as error:
            return CheckResult(False, error.user_message)
        except Exception as error:  # check() reports every failure instead of raising
            redact = client.redact if client else Redactor(self.secret_values())
            return CheckResult(False, redact(f"{self.title}: unexpected {type(error).__name__}: {error}"))
        finally:
            if client is not None:
                client.close()

    def sample(
        self, stream: str, limit: int = DEFAULT_SAMPLE_SIZE, options: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """At most ``limit`` records from the start of the stream: one request."""
        with self.open_client() as client:
            return self.sample_through(client, stream, limit)

    def sample_through(
        self, client: HttpClient, stream: str, limit: int = DEFAULT_SAMPLE_SIZE
    ) -> pd.DataFrame:
        """``sample()`` through an open client (``discover()`` sampling several streams on one sign-in)."""
        query = self.sample_query(client, stream, limit)
        page = next(self._pages(client, stream, query), None)
        frame = records_frame(list(query.records_of(page)[:limit]) if page else [])
        return with_origin(query.shape(frame) if query.shape else frame, stream, query.key, 0)

    def read(
        self,
        stream: str,
        options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        cursor: CursorRequest | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yields the stream's records in chunks of at most ``chunk_size`` rows, page after page.

        With ``cursor``: records whose cursor is at least ``cursor.start``, in
        (cursor, key) order, filtered and ordered by the API. No records: no chunk.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        return self._chunks(stream, chunk_size, cursor)

    # -- helpers -------------------------------------------------------------------
    def secret_values(self) -> list[str]:
        """The configured secrets, to mask in messages made before a client exists."""
        values = (getattr(self.config, name) for name in type(self.config).model_fields)
        return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]

    def _chunks(self, stream: str, chunk_size: int, cursor: CursorRequest | None) -> Iterator[pd.DataFrame]:
        with self.open_client() as client:
            query = self.read_query(client, stream, cursor)
            pages = (query.records_of(page) for page in self._pages(client, stream, query))
            yield from read_chunks(
                pages, stream=stream, key=query.key, chunk_size=chunk_size, shape=query.shape
            )

    @staticmethod
    def _pages(client: HttpClient, stream: str, query: StreamQuery) -> Iterator[Page]:
        return client.pages(
            query.url,
            object_name=stream,
            paginator=query.paginator,
            params=query.params,
            headers=query.headers,
            records_path=query.records_path,
        )
