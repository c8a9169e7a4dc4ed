"""A careless vendor for canary tests: its error bodies echo the credentials a request carried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.http_servers import Recorded, Reply


def echo(status: int, error_body: Callable[[str], Any], *secrets: str) -> Callable[[Recorded], Reply]:
    """A handler answering ``status`` with ``error_body(text)``, the text quoting the request's
    Authorization header and ``secrets``: a redactor that misses one lets it into a message."""

    def handler(request: Recorded) -> Reply:
        said = f"you sent {request.header('authorization')} after signing in with {' '.join(secrets)}"
        return Reply(status, error_body(said))

    return handler
