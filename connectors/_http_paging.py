"""How an HTTP connector walks pages: one small strategy per pagination style, behind :class:`Paginator`.

A paginator turns the first request into the request of page 1
(``first_request``: add ``limit``/``offset``, a ``Prefer`` header...) and each
page it is shown into the request of the next page, or None after the last
(``next_request``). Records are found in a page's body by a JSON path
(:func:`find_records`); strategies that read a value from the body (a next
URL, a cursor) use :func:`find_value`.

Paths are JSONPath as ``jsonpath-ng`` reads it; a plain dotted path
(``data.items``, ``meta.next_cursor``) is valid JSONPath, and so is
``$['@odata.nextLink']`` for keys with dots.

==========================  ===================================================
strategy                    next page
==========================  ===================================================
:class:`SinglePage`         none: one request
:class:`NextUrlPaginator`   a URL in the body (a JSON path), or the ``Link:
                            <...>; rel="next"`` header; relative URLs resolve
                            against the page's URL
:class:`ODataPaginator`     ``@odata.nextLink`` (Dynamics 365, Microsoft Graph)
:class:`CursorPaginator`    a body value (``next_cursor``) sent back as a query
                            parameter; stops when it is missing or empty
:class:`OffsetPaginator`    ``offset`` += records read; stops on a short page
:class:`PageNumberPaginator` ``page`` + 1; stops on an empty (or short) page,
                            or one without a next marker (``links.next``)
==========================  ===================================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import httpx
from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath
from jsonpath_ng.exceptions import JsonPathParserError


@dataclass(frozen=True)
class PageRequest:
    """A page's request: a URL (absolute, or relative to the client's base URL), query params, headers."""

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page as the client read it.

    Attributes:
        number: 1 for the first page.
        request: the request that got it.
        url: the URL it was read from (after redirects); relative next links resolve against it.
        body: the parsed JSON body.
        headers: the response headers.
        records: the records found in the body.
        links: the ``Link`` header's targets by relation (``links["next"]["url"]``).
    """

    number: int
    request: PageRequest
    url: str
    body: Any
    headers: httpx.Headers
    records: Sequence[Any]
    links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class Paginator(ABC):
    """A pagination strategy: the request of the next page, or None after the last one."""

    def first_request(self, request: PageRequest) -> PageRequest:
        """The request of page 1 (the stream's request, with the strategy's parameters added)."""
        return request

    @abstractmethod
    def next_request(self, page: Page) -> PageRequest | None:
        """The request of the page after ``page``, or None when ``page`` was the last."""


class SinglePage(Paginator):
    """One request, one page."""

    def next_request(self, page: Page) -> PageRequest | None:
        """None: there is no next page."""
        return None


class NextUrlPaginator(Paginator):
    """Follows a next-page URL found in the body at ``path``, or in the ``Link`` header when ``path`` is None.

    The next URL carries its own query, so the stream's parameters are not
    sent again (the auth still adds its own).
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    def next_request(self, page: Page) -> PageRequest | None:
        """The next URL, resolved against the page's URL; None when there is none."""
        if self.path is None:
            target = page.links.get("next", {}).get("url")
        else:
            target = find_value(page.body, self.path)
        if not target or not isinstance(target, str):
            return None
        return PageRequest(str(httpx.URL(page.url).join(target)), {}, page.request.headers)


class ODataPaginator(NextUrlPaginator):
    """OData v4 server-driven paging: ``@odata.nextLink``; ``page_size`` is asked for with ``Prefer``."""

    def __init__(self, page_size: int | None = None) -> None:
        super().__init__("$['@odata.nextLink']")
        self.page_size = page_size

    def first_request(self, request: PageRequest) -> PageRequest:
        """Adds ``odata.maxpagesize=<page_size>`` to the ``Prefer`` header when a page size is set.

        Preferences the stream already asks for (``odata.include-annotations=...``)
        are kept: OData joins preferences with commas in one header.
        """
        if self.page_size is None:
            return request
        size = f"odata.maxpagesize={self.page_size}"
        asked = next((value for name, value in request.headers.items() if name.lower() == "prefer"), None)
        others = {name: value for name, value in request.headers.items() if name.lower() != "prefer"}
        return replace(request, headers={**others, "Prefer": f"{asked},{size}" if asked else size})


class CursorPaginator(Paginator):
    """Sends back a body value (``path``) as the query parameter ``param`` until it is missing or empty."""

    def __init__(self, path: str, param: str) -> None:
        self.path, self.param = path, param

    def next_request(self, page: Page) -> PageRequest | None:
        """The same request with ``param`` set to the page's cursor; None when there is none."""
        cursor = find_value(page.body, self.path)
        if cursor in (None, "", False) or not page.records:
            return None
        return replace(page.request, params={**page.request.params, self.param: cursor})


class OffsetPaginator(Paginator):
    """``limit``/``offset`` paging: the offset moves by the records read; a short page is the last."""

    def __init__(
        self, limit: int, offset_param: str = "offset", limit_param: str = "limit", start: int = 0
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit, self.offset_param, self.limit_param, self.start = limit, offset_param, limit_param, start

    def first_request(self, request: PageRequest) -> PageRequest:
        """Adds ``limit`` and the starting ``offset``."""
        params = {**request.params, self.limit_param: self.limit, self.offset_param: self.start}
        return replace(request, params=params)

    def next_request(self, page: Page) -> PageRequest | None:
        """The next offset, or None after a page shorter than ``limit``."""
        if len(page.records) < self.limit:
            return None
        offset = int(page.request.params[self.offset_param]) + len(page.records)
        return replace(page.request, params={**page.request.params, self.offset_param: offset})


class PageNumberPaginator(Paginator):
    """``page=1, 2, ...`` paging; stops on an empty page, or a short one when ``page_size`` is known.

    Args:
        page_param: the page number's query parameter.
        start: the first page's number (0 or 1).
        page_size: records per page; sent as ``size_param`` when that is set.
        size_param: the page size's query parameter (``per_page``), or None.
        more_path: a JSON path whose value every page but the last carries
            (``links.next``); when set, a page without it is the last, so a
            full last page costs no extra request.
    """

    def __init__(
        self,
        page_param: str = "page",
        start: int = 1,
        page_size: int | None = None,
        size_param: str | None = None,
        more_path: str | None = None,
    ) -> None:
        self.page_param, self.start, self.page_size, self.size_param = (
            page_param,
            start,
            page_size,
            size_param,
        )
        self.more_path = more_path

    def first_request(self, request: PageRequest) -> PageRequest:
        """Adds the first page number (and the page size)."""
        params = {**request.params, self.page_param: self.start}
        if self.size_param and self.page_size:
            params[self.size_param] = self.page_size
        return replace(request, params=params)

    def next_request(self, page: Page) -> PageRequest | None:
        """The next page number, or None after an empty or short page (or one without ``more_path``)."""
        if not page.records or (self.page_size and len(page.records) < self.page_size):
            return None
        if self.more_path and find_value(page.body, self.more_path) in (None, ""):
            return None
        number = int(page.request.params[self.page_param]) + 1
        return replace(page.request, params={**page.request.params, self.page_param: number})


@lru_cache(maxsize=256)
def compile_path(path: str) -> JSONPath:
    """The compiled JSON path (cached).

    Raises:
        ValueError: the path is not JSONPath; the message names it.
    """
    try:
        return parse_jsonpath(path)
    except (JsonPathParserError, Exception) as error:  # jsonpath-ng's lexer raises a plain Exception
        raise ValueError(f"{path!r} is not a JSON path such as data.items or $.results[*]: {error}") from None


def find_value(body: Any, path: str) -> Any:
    """The first value at ``path`` in ``body``, or None."""
    matches = compile_path(path).find(body)
    return matches[0].value if matches else None


def find_records(body: Any, path: str | None) -> list[Any]:
    """The records of a page: the list at ``path`` (or the values it matches).

    Without a path the body is the records (a list), or the one record (an
    object). A path that matches nothing, or null, means no records.
    """
    if not path:
        found: Any = body
    else:
        matches = compile_path(path).find(body)
        if len(matches) != 1:
            return [match.value for match in matches]
        found = matches[0].value
    if found is None:
        return []
    return found if isinstance(found, list) else [found]
