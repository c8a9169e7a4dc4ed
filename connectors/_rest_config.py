"""Settings of the generic REST/JSON connector: one pydantic model, which is also its form.

A connection is a base URL, one way to authenticate, and the streams it
offers: each a path, where the records sit in a page, how pages follow each
other, and optionally the query parameter that asks for records changed
since a point (an incremental read). Secrets are top-level ``SecretStr``
fields, so the vault stores them apart; validation errors never echo input.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._http import (
    ApiKeyAuth,
    BasicAuth,
    BearerTokenAuth,
    ClientCredentialsAuth,
    CursorPaginator,
    HttpAuth,
    NextUrlPaginator,
    NoAuth,
    ODataPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    SinglePage,
)
from connectors._http_paging import compile_path
from connectors.base import ConnectorConfig

PaginationType = Literal["none", "next_url", "link_header", "odata", "cursor", "offset", "page_number"]
StartFormat = Literal["iso8601", "date", "unix_seconds", "unix_milliseconds"]
_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)


def _json_path(value: str) -> str:
    value = value.strip()
    if value:
        compile_path(value)  # raises ValueError naming the path
    return value


class RestPagination(BaseModel):
    """How one page leads to the next."""

    model_config = _STRICT

    type: PaginationType = Field(
        default="none",
        description="none: one request. next_url: a URL in the body (next_path). link_header: the Link "
        "header's rel=next. odata: @odata.nextLink. cursor: a body value (next_path) sent back as "
        "cursor_param. offset: offset/limit. page_number: page=1, 2, ...",
    )
    next_path: str = Field(
        default="",
        description="JSON path of the next page's URL (next_url) or cursor (cursor): next, meta.cursor.",
    )
    cursor_param: str = Field(default="cursor", description="Query parameter the cursor is sent back in.")
    page_size: int | None = Field(
        default=None,
        ge=1,
        description="Records per page: offset's limit (default 100), page_number's or OData's page size.",
    )
    limit_param: str = Field(
        default="limit", description="Query parameter of the page size (offset, page_number)."
    )
    offset_param: str = Field(default="offset", description="Query parameter of the offset.")
    page_param: str = Field(default="page", description="Query parameter of the page number.")
    first_page: int = Field(default=1, ge=0, description="Number of the first page (0 or 1).")

    @field_validator("next_path")
    @classmethod
    def _valid_next_path(cls, value: str) -> str:
        return _json_path(value)

    @model_validator(mode="after")
    def _needs_next_path(self) -> RestPagination:
        if self.type in ("next_url", "cursor") and not self.next_path:
            raise ValueError(f"pagination {self.type} needs next_path: where the body holds the next page")
        return self

    def paginator(self) -> Paginator:
        """The paging strategy these settings describe."""
        match self.type:
            case "next_url":
                return NextUrlPaginator(self.next_path)
            case "link_header":
                return NextUrlPaginator()
            case "odata":
                return ODataPaginator(self.page_size)
            case "cursor":
                return CursorPaginator(self.next_path, self.cursor_param)
            case "offset":
                return OffsetPaginator(self.page_size or 100, self.offset_param, self.limit_param)
            case "page_number":
                size_param = self.limit_param if self.page_size else None
                return PageNumberPaginator(self.page_param, self.first_page, self.page_size, size_param)
        return SinglePage()


class RestIncremental(BaseModel):
    """The query parameter that asks for records changed since a point, and the field it compares with."""

    model_config = _STRICT

    param: str = Field(..., min_length=1, description="Query parameter taking the start: updated_since.")
    field: str = Field(
        ...,
        min_length=1,
        description="The record field it compares with, as a column: updated_at, meta.updated.",
    )
    format: StartFormat = Field(default="iso8601", description="How the start is written in the parameter.")
    ordered: bool = Field(
        default=False,
        description="The API returns records in ascending order of this field across pages (often with a "
        "sort parameter). Otherwise an incremental read gathers what changed before sorting it.",
    )
    lookback_s: int = Field(
        default=0,
        ge=0,
        description="Ask from this many seconds earlier (for filters that are 'after' rather than 'from', or "
        "that round times); rows already read are dropped.",
    )


class RestStream(BaseModel):
    """One collection of the API: a path, its records, its paging, its incremental parameter."""

    model_config = _STRICT

    name: str = Field(..., min_length=1, description="The stream's name in Tributary: contacts.")
    path: str = Field(..., min_length=1, description="Path under the base URL: /contacts.")
    records_path: str = Field(
        "", description="JSON path of the records in a page: data, results, $.data.items. Empty: the body."
    )
    primary_key: list[str] = Field(
        default_factory=list, description="The fields that identify a record: [id]."
    )
    pagination: RestPagination = RestPagination()
    incremental: RestIncremental | None = None
    params: dict[str, str] = Field(
        default_factory=dict, description="Query parameters sent on every request: {status: active}."
    )

    @field_validator("records_path")
    @classmethod
    def _valid_records_path(cls, value: str) -> str:
        return _json_path(value)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_key_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


AuthType = Literal["none", "api_key", "bearer", "basic", "oauth2_client_credentials"]


class RestConfig(ConnectorConfig):
    """A REST/JSON API: its base URL, how to authenticate, and its streams."""

    model_config = _STRICT

    base_url: str = Field(..., description="https://api.example.com/v1: stream paths are relative to it.")
    auth: AuthType = Field(
        default="none", description="How to authenticate; fill the fields of that method below."
    )
    api_key: SecretStr | None = Field(default=None, description="api_key: the key.")
    api_key_name: str = Field(
        default="X-API-Key", description="api_key: the header or query parameter holding it."
    )
    api_key_in: Literal["header", "query"] = "header"
    bearer_token: SecretStr | None = Field(
        default=None, description="bearer: the token (a personal access token)."
    )
    username: str | None = Field(default=None, description="basic: the user name.")
    password: SecretStr | None = Field(default=None, description="basic: the password.")
    token_url: str | None = Field(default=None, description="oauth2_client_credentials: the token endpoint.")
    client_id: str | None = Field(default=None, description="oauth2_client_credentials: the client id.")
    client_secret: SecretStr | None = Field(
        default=None, description="oauth2_client_credentials: the client secret."
    )
    scopes: str = Field(default="", description="oauth2_client_credentials: scopes, separated by spaces.")
    streams: list[RestStream] = Field(..., min_length=1, description="The collections to read.")
    read_timeout_s: int = Field(default=60, ge=1, le=3600, description="Seconds to wait for a page.")
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries per request on timeouts, 429 and 5xx."
    )

    @field_validator("base_url", "token_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _complete_auth(self) -> RestConfig:
        required = {
            "api_key": ("api_key",),
            "bearer": ("bearer_token",),
            "basic": ("username", "password"),
            "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
        }.get(self.auth, ())
        missing = [name for name in required if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth {self.auth} needs {', '.join(missing)}")
        names = [stream.name for stream in self.streams]
        if len(set(names)) < len(names):
            raise ValueError("stream names must be unique")
        return self

    def http_auth(self) -> HttpAuth:
        """The auth object of the configured method."""

        def secret(value: SecretStr | None) -> str:
            return value.get_secret_value() if value else ""

        match self.auth:
            case "api_key":
                return ApiKeyAuth(self.api_key_name, secret(self.api_key), self.api_key_in)
            case "bearer":
                return BearerTokenAuth(secret(self.bearer_token))
            case "basic":
                return BasicAuth(self.username or "", secret(self.password))
            case "oauth2_client_credentials":
                client_secret = secret(self.client_secret)
                token_url, client_id = self.token_url or "", self.client_id or ""
                return ClientCredentialsAuth(token_url, client_id, client_secret, self.scopes.split())
        return NoAuth()

    def stream(self, name: str) -> RestStream | None:
        """The stream called ``name``, or None."""
        return next((stream for stream in self.streams if stream.name == name), None)
