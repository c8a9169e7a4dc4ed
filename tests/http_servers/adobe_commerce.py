"""A fake Adobe Commerce (Magento) REST API on :class:`FakeApi`: search endpoints over in-memory rows.

What it implements, each from the public documentation:

- ``POST /rest/V1/integration/admin/token`` with a JSON ``username`` and
  ``password``: answers the token as a bare JSON string; wrong credentials are
  401 "The account sign-in was incorrect..."
  (developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/).
  Admin tokens stay valid until :meth:`FakeCommerce.expire_tokens`; an
  integration's access token (a bearer token) always does.
- ``GET /rest[/<store>]/V1/customers/search`` and ``/rest[/<store>]/V1/orders``
  apply ``searchCriteria`` to the rows: ``filter_groups`` ANDed, their
  ``filters`` ORed, with ``condition_type`` ``eq`` (the default), ``neq``,
  ``gt``, ``gteq``/``moreq``, ``lt``, ``lteq``, ``in``, ``nin``, ``like``,
  ``null``, ``notnull``; ``sortOrders`` (``DESC`` unless ``ASC`` is asked
  for); ``pageSize`` (all rows without one; above 300 a 400) and
  ``currentPage``; a page past the end answers the last page again. The answer
  is ``{"items", "search_criteria", "total_count"}``
  (developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/;
  orders and their ``items``: .../rest/tutorials/orders/). A customer's
  ``entity_id`` is its ``id``. A customer search without ``searchCriteria``
  is a 400.
- Errors as Commerce writes them: ``{"message": "...%1...", "parameters":
  [...] | {...}}``; a missing or refused token is 401 "The consumer isn't
  authorized to access %resources." (the 400 texts for page sizes and unknown
  conditions are this fake's own wording).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.http_servers import FakeApi, Fault, Recorded, Reply, Tokens

MAX_PAGE_SIZE = 300
START = datetime(2026, 11, 1, 9, 0, 0)
_CRITERION = re.compile(r"searchCriteria((?:\[[^\]]*\])+)")
_REST = r"/rest(?:/[a-z0-9_]+)?/V1"


def commerce_error(status: int, message: str, parameters: Any = None) -> Reply:
    body: dict[str, Any] = {"message": message}
    if parameters is not None:
        body["parameters"] = parameters
    return Reply(status, body)


def commerce_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class FakeCommerce:
    """A store with customers (and their addresses) and orders (and their items)."""

    def __init__(
        self,
        api: FakeApi,
        *,
        username: str = "tributary-api",
        password: str = "admin-Pa55word",
        integration_token: str = "int-token-9sd8f7g6",
    ) -> None:
        self.api, self.username, self.password, self.integration_token = (
            api,
            username,
            password,
            integration_token,
        )
        self.tokens = Tokens(prefix="adm-token-", expires_in=None)
        self.tokens.unauthorized = commerce_error(
            401,
            "The consumer isn't authorized to access %resources.",
            {"resources": "Magento_Customer::manage"},
        )
        self.customers: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        api.route("POST", re.compile(rf"{_REST}/integration/admin/token"), self._admin_token)
        api.route("GET", re.compile(rf"{_REST}/customers/search"), self._customers, guard=self._guard)
        api.route("GET", re.compile(rf"{_REST}/orders"), self._orders, guard=self._guard)

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def searches(self, what: str = "customers/search") -> list[Recorded]:
        return self.api.requests_to(re.compile(rf"{_REST}/{what}"))

    def token_requests(self) -> list[Recorded]:
        return self.api.requests_to(re.compile(rf"{_REST}/integration/admin/token"))

    def throttle(self, *, retry_after: str = "1", what: str = "customers/search", **when: Any) -> Fault:
        reply = commerce_error(429, "Too many requests. Try again later.")
        return self.api.inject(
            Reply(reply.status, reply.body, headers={"Retry-After": retry_after}),
            path=re.compile(rf"{_REST}/{what}"),
            **when,
        )

    # -- data ---------------------------------------------------------------------------
    def add_customer(self, number: int, updated: datetime) -> dict[str, Any]:
        customer = {
            "id": number,
            "group_id": 1,
            "created_at": commerce_time(updated - timedelta(days=10)),
            "updated_at": commerce_time(updated),
            "created_in": "Default Store View",
            "dob": f"19{80 + number % 20}-0{1 + number % 9}-1{number % 10}",
            "email": f"shopper{number}@example.com",
            "firstname": f"Léa{number}",
            "lastname": f"Durand{number}",
            "gender": 2,
            "store_id": 1,
            "website_id": 1,
            "addresses": [
                {
                    "id": number * 10 + line,
                    "customer_id": number,
                    "region": {"region_code": "IDF", "region": "Île-de-France", "region_id": 0},
                    "region_id": 0,
                    "country_id": "FR",
                    "street": [f"{line} rue de la Paix"],
                    "telephone": f"+3314000{number:04d}",
                    "postcode": f"7500{line}",
                    "city": "Paris",
                    "firstname": f"Léa{number}",
                    "lastname": f"Durand{number}",
                }
                for line in range(1, 1 + number % 3)
            ],
            "disable_auto_group_change": 0,
            "extension_attributes": {"is_subscribed": number % 2 == 0},
        }
        self.customers.append(customer)
        return customer

    def add_order(self, number: int, customer: dict[str, Any], updated: datetime) -> dict[str, Any]:
        order = {
            "entity_id": number,
            "increment_id": f"000000{number:03d}",
            "customer_id": customer["id"],
            "customer_email": customer["email"],
            "customer_firstname": customer["firstname"],
            "customer_lastname": customer["lastname"],
            "grand_total": 20.5 * number,
            "order_currency_code": "EUR",
            "status": "processing",
            "state": "processing",
            "total_item_count": 2,
            "created_at": commerce_time(updated - timedelta(hours=1)),
            "updated_at": commerce_time(updated),
            "items": [
                {
                    "item_id": number * 100 + n,
                    "order_id": number,
                    "sku": f"SKU-{n}",
                    "qty_ordered": n,
                    "price": 10.25,
                    "updated_at": commerce_time(updated),
                }
                for n in (1, 2)
            ],
            "payment": {"method": "checkmo"},
        }
        self.orders.append(order)
        return order

    def touch(self, row: dict[str, Any], updated: datetime) -> None:
        """Changes a customer or an order now: its ``updated_at`` moves to ``updated``."""
        row["updated_at"] = commerce_time(updated)

    def expire_tokens(self) -> None:
        """The admin tokens issued so far stop working (their four hours ran out)."""
        self.tokens.expire_after(0)

    # -- routes -------------------------------------------------------------------------
    def _guard(self, request: Recorded) -> Reply | None:
        if request.header("authorization") == f"Bearer {self.integration_token}":
            return None
        return self.tokens.guard(request)

    def _admin_token(self, request: Recorded) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return commerce_error(400, "Decoding error: the request body is not JSON.")
        if body.get("username") != self.username or body.get("password") != self.password:
            return commerce_error(
                401,
                "The account sign-in was incorrect or your account is disabled temporarily. "
                "Please wait and try again later.",
            )
        return Reply(200, json.dumps(self.tokens.issue()["access_token"]))

    def _customers(self, request: Recorded) -> Reply | dict[str, Any]:
        if not any(name.startswith("searchCriteria") for name in request.params):
            return commerce_error(
                400, '"%fieldName" is required. Enter and try again.', {"fieldName": "searchCriteria"}
            )
        return _search(request, self.customers, {"entity_id": "id"})

    def _orders(self, request: Recorded) -> Reply | dict[str, Any]:
        return _search(request, self.orders, {})


def _item(order: int, line: int, updated: datetime) -> dict[str, Any]:
    return {
        "item_id": order * 100 + line,
        "order_id": order,
        "sku": f"SKU-{line}",
        "qty_ordered": line,
        "price": 10.25,
        "updated_at": commerce_time(updated),
    }


_CONDITIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "gteq": lambda a, b: a is not None and a >= b,
    "moreq": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "lteq": lambda a, b: a is not None and a <= b,
    "in": lambda a, b: str(a) in b.split(","),
    "nin": lambda a, b: str(a) not in b.split(","),
    "like": lambda a, b: re.fullmatch(re.escape(b).replace("%", ".*"), str(a or "")) is not None,
    "null": lambda a, b: a is None,
    "notnull": lambda a, b: a is not None,
}


def _criteria(request: Recorded) -> dict[str, Any]:
    """``searchCriteria[a][0][b]=v`` query parameters as nested dicts (list indexes stay keys)."""
    tree: dict[str, Any] = {}
    for name, value in request.params.items():
        match = _CRITERION.fullmatch(name)
        if not match:
            continue
        keys = re.findall(r"\[([^\]]*)\]", match.group(1))
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return tree


def _search(request: Recorded, rows: list[dict[str, Any]], aliases: dict[str, str]) -> Reply | dict[str, Any]:
    criteria = _criteria(request)

    def column(field: str) -> str:
        return aliases.get(field, field)

    def typed(field: str, value: str) -> Any:
        sample = next((row[column(field)] for row in rows if row.get(column(field)) is not None), None)
        return float(value) if isinstance(sample, int | float) and not isinstance(sample, bool) else value

    found = list(rows)
    echo_groups = []
    for _, group in sorted(criteria.get("filter_groups", {}).items(), key=lambda item: int(item[0])):
        filters = [group["filters"][index] for index in sorted(group.get("filters", {}), key=int)]
        echo_groups.append({"filters": filters})
        tests = []
        for one in filters:
            condition = one.get("condition_type", "eq")
            if condition not in _CONDITIONS:
                return commerce_error(400, 'Invalid condition type "%1".', [condition])
            tests.append(
                (column(one["field"]), _CONDITIONS[condition], typed(one["field"], one.get("value", "")))
            )
        found = [row for row in found if any(test(row.get(name), value) for name, test, value in tests)]
    orders = [criteria["sortOrders"][index] for index in sorted(criteria.get("sortOrders", {}), key=int)]
    for order in reversed(orders):  # stable sorts, last key first
        name, descending = column(order["field"]), order.get("direction", "DESC").upper() != "ASC"
        found.sort(key=lambda row: (row.get(name) is not None, row.get(name)), reverse=descending)
    by_page: dict[str, Any] = defaultdict(lambda: None, criteria)
    size = int(by_page["pageSize"]) if by_page["pageSize"] else None
    if size is not None and size > MAX_PAGE_SIZE:
        return commerce_error(400, "Maximum SearchCriteria pageSize is %1", [MAX_PAGE_SIZE])
    current = int(by_page["currentPage"] or 1)
    page = found
    if size:
        last = max(1, -(-len(found) // size))
        current_shown = min(current, last)  # past the end: the last page again
        page = found[(current_shown - 1) * size : current_shown * size]
    echo = {"filter_groups": echo_groups, "sort_orders": orders, "page_size": size, "current_page": current}
    return {"items": page, "search_criteria": echo, "total_count": len(found)}
