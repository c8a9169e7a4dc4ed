"""Adobe Commerce (Magento) REST details: the admin token, error texts, and search paging by windows.

Search endpoints (``GET /rest/V1/customers/search``, ``/rest/V1/orders``)
take ``searchCriteria`` in the query string: filter groups (ANDed) of filters
(ORed) with ``field``, ``value`` and ``condition_type``, sort orders, a
``pageSize`` and a ``currentPage``; they answer ``items``,
``search_criteria`` and ``total_count``
(developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/).
Past the last page, Commerce answers the last page again, so paging stops by
count: after page ``p`` when ``p * pageSize >= total_count``.

:class:`SearchWindows` pages a search in the order of one field, then
``entity_id``, in *windows*: each window filters ``field gteq <value>`` (or
``entity_id gt <value>``) from the last value read, and starts at page 1. A
record changed in the middle of a read moves to the end of the order; with
plain ``currentPage`` paging that shifts the pages after it and skips a
record, here it only shifts the window the read is already past. A window's
first page repeats the records of the last value already read; they are
dropped. Pages advance within a window only while a page ends on the value
the window started at (more records share one value than a page holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pandas as pd

from connectors._http import OAuth2Auth, Page, PageRequest, Paginator, TokenRequest, vendor_error_text
from connectors._http_errors import where
from connectors.base import FormatError

CURRENT_PAGE = "searchCriteria[currentPage]"
PAGE_SIZE = "searchCriteria[pageSize]"
_FILTER = "searchCriteria[filter_groups][0][filters][0]"
WINDOW_FIELD = f"{_FILTER}[field]"
WINDOW_VALUE = f"{_FILTER}[value]"
WINDOW_CONDITION = f"{_FILTER}[condition_type]"
#: The unique id every search can be ordered and filtered by.
ENTITY_ID = "entity_id"


class AdminTokenAuth(OAuth2Auth):
    """An admin user's token: ``POST /rest/V1/integration/admin/token`` with a JSON username and password.

    Commerce answers the token as a bare JSON string, without a lifetime (four
    hours by default): it is kept until the API answers 401, then fetched again
    once (developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/).
    """

    def __init__(self, token_url: str, username: str, password: str) -> None:
        super().__init__(token_url)
        self.username, self.password = username, password

    def token_request(self) -> TokenRequest:
        """The admin credentials as a JSON body."""
        return TokenRequest(json_body={"username": self.username, "password": self.password})

    def credentials(self) -> tuple[str, ...]:
        """The password."""
        return (self.password,)


def commerce_error_text(response: httpx.Response) -> str | None:
    """Commerce's ``{"message": "... %1 ...", "parameters": [...] | {...}}`` with its placeholders filled."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return vendor_error_text(response)
    message, parameters = body["message"], body.get("parameters")
    if isinstance(parameters, list):
        parameters = {str(number): value for number, value in enumerate(parameters, start=1)}
    if isinstance(parameters, dict):
        for name in sorted(parameters, key=len, reverse=True):  # %10 before %1
            message = message.replace(f"%{name}", str(parameters[name]))
    return message


def commerce_time(value: Any) -> str:
    """A cursor start as Commerce writes times (``2026-11-01 10:00:05``, UTC); numbers as they are."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class SearchWindows(Paginator):
    """Pages a Commerce search in (``order``, entity_id) order by windows; see the module docstring.

    Args:
        name: what is read, as messages name it (``customers``).
        order: the search field the read follows (``updated_at``, or ``entity_id`` for a full read).
        start: the lowest value to read (formatted as Commerce writes it), or None.
        page_size: ``searchCriteria[pageSize]``.
        record_key: the field records carry their entity id in (customers: ``id``).
        children: a list field of each record to read instead of the records (``addresses``).
        parent_fields: child column -> the parent's field it copies (``customer_updated_at``).
    """

    def __init__(
        self,
        name: str,
        order: str,
        start: str | None,
        page_size: int,
        *,
        record_key: str = ENTITY_ID,
        children: str | None = None,
        parent_fields: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.order, self.start, self.page_size = name, order, start, page_size
        self.record_key, self.children, self.parent_fields = record_key, children, dict(parent_fields or {})
        self._read_at_start: set[str] = set()  # entity ids read at the value the next window starts at

    @property
    def unique(self) -> bool:
        """Whether the order is the entity id itself (no ties: windows start after the last id)."""
        return self.order == ENTITY_ID

    def first_request(self, request: PageRequest) -> PageRequest:
        """The search's first window: its filter (from ``start``), sort orders and first page."""
        return PageRequest(request.url, {**request.params, **self._criteria(self.start, 1)}, request.headers)

    def next_request(self, page: Page) -> PageRequest | None:
        """The next page of this window, the first page of the next window, or None after the last record."""
        items, total = self._result(page)
        number = int(page.request.params[CURRENT_PAGE])
        if not items or number * self.page_size >= total:
            return None
        last = self._value(items[-1])
        lower = page.request.params.get(WINDOW_VALUE)
        if not self.unique and last == lower:
            following = {**page.request.params, CURRENT_PAGE: number + 1}
            return PageRequest(page.request.url, following, page.request.headers)
        tail = [self._key(item) for item in reversed(items) if self._value(item) == last]
        self._read_at_start = set(tail) if not self.unique else set()
        base = {k: v for k, v in page.request.params.items() if not k.startswith("searchCriteria")}
        return PageRequest(page.request.url, {**base, **self._criteria(last, 1)}, page.request.headers)

    def records(self, page: Page) -> Sequence[Any]:
        """The page's records not read before (and their children, for a child stream)."""
        items, _ = self._result(page)
        lower = page.request.params.get(WINDOW_VALUE)
        if lower is not None and int(page.request.params[CURRENT_PAGE]) == 1 and self._read_at_start:
            skip = 0
            while skip < len(items) and self._value(items[skip]) == lower:
                skip += 1
            fresh = [item for item in items[:skip] if self._key(item) not in self._read_at_start]
            items = fresh + items[skip:]
        if self.children is None:
            return items
        return [
            {**child, **{column: parent.get(name) for column, name in self.parent_fields.items()}}
            for parent in items
            for child in (parent.get(self.children) or [])
        ]

    # -- helpers -----------------------------------------------------------------------
    def _criteria(self, lower: str | None, number: int) -> dict[str, Any]:
        params: dict[str, Any] = {PAGE_SIZE: self.page_size, CURRENT_PAGE: number}
        for index, field in enumerate(dict.fromkeys([self.order, ENTITY_ID])):
            params[f"searchCriteria[sortOrders][{index}][field]"] = field
            params[f"searchCriteria[sortOrders][{index}][direction]"] = "ASC"
        if lower is not None:
            condition = "gt" if self.unique else "gteq"
            params.update({WINDOW_FIELD: self.order, WINDOW_VALUE: lower, WINDOW_CONDITION: condition})
        return params

    def _value(self, item: Mapping[str, Any]) -> str | None:
        found = item.get(self.record_key if self.unique else self.order)
        return None if found is None else str(found)

    def _key(self, item: Mapping[str, Any]) -> str:
        return str(item.get(self.record_key))

    def _result(self, page: Page) -> tuple[list[dict[str, Any]], int]:
        body = page.body
        items = body.get("items") if isinstance(body, dict) else None
        total = body.get("total_count") if isinstance(body, dict) else None
        if not isinstance(items, list) or not isinstance(total, int):
            raise FormatError(
                f"{self.name}: {where('GET', page.url, page.number)} did not answer a search result "
                "(an object with items and total_count)."
            )
        return items, total
