"""The GCS JSON API on 127.0.0.1: gcp-storage-emulator, as the ``gcs_server`` fixture."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.services import reachable
from tests.storage_servers.common import HOST, INSTALL_HINT, _session_server, _wait_until, require_package


@dataclass(frozen=True)
class GCSEndpoint:
    """The GCS JSON API on 127.0.0.1 (gcp-storage-emulator, in memory). Needs no credentials."""

    endpoint_url: str
    project: str = "test-project"

    def url(self, path: str) -> str:
        """The fsspec URL of ``bucket/object`` (``gs://bucket/object``)."""
        return f"gs://{path.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for gcsfs (``fsspec.filesystem("gs", **options)``).

        ``retry_timeout=0``: gcsfs 2026.10's (default-on) experimental file system asks
        the Storage Control gRPC API for each bucket's layout before each operation,
        retrying for 60 s; the emulator has no gRPC API, so make that probe give up
        at once (gcsfs then falls back to the JSON API). Older gcsfs ignores it.
        ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false``, set before gcsfs is imported,
        turns the probe off altogether.
        """
        return {
            "endpoint_url": self.endpoint_url,
            "project": self.project,
            "token": "anon",
            "retry_timeout": 0,
        }

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
        """One JSON API call (``path`` from ``/storage/v1/...`` or ``/upload/...``); returns the body."""
        request = urllib.request.Request(self.endpoint_url + path, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def put_object(self, bucket: str, name: str, data: bytes) -> None:
        """Uploads ``data`` as object ``name`` of ``bucket``."""
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        self.request("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", data)

    def get_object(self, bucket: str, name: str) -> bytes:
        """The content of object ``name`` of ``bucket``."""
        return self.request("GET", f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media")


def make_gcs_bucket(server: GCSEndpoint, name: str, exist_ok: bool = False) -> str:
    """Creates GCS bucket ``name`` on ``server``; returns the name."""
    query = urllib.parse.urlencode({"project": server.project})
    body = json.dumps({"name": name}).encode()
    try:
        server.request("POST", f"/storage/v1/b?{query}", body, **{"Content-Type": "application/json"})
    except urllib.error.HTTPError as error:
        if not (exist_ok and error.code == 409):
            raise
    return name


def _start_gcs() -> tuple[GCSEndpoint, Callable[[], None]]:
    require_package("gcp_storage_emulator.server", f"gcp-storage-emulator is the GCS server: {INSTALL_HINT}")
    from gcp_storage_emulator.server import create_server

    # Port 0 and reading the bound port back: the emulator binds in its own thread and,
    # were the port taken, would wait forever for a server that never starts.
    server = create_server(HOST, 0, in_memory=True)
    server.start()
    try:
        try:
            port = server._api._httpd.server_address[1]  # no public accessor in gcp-storage-emulator
        except AttributeError as error:  # only if the emulator's internals change
            raise RuntimeError("cannot tell gcp-storage-emulator's port; check its pinned version") from error
        _wait_until(lambda: reachable(HOST, port), "gcp-storage-emulator")
    except BaseException:
        server.stop()
        raise
    return GCSEndpoint(endpoint_url=f"http://{HOST}:{port}"), server.stop


@pytest.fixture(scope="session")
def gcs_server(pytestconfig: pytest.Config) -> GCSEndpoint:
    """The GCS JSON API (gcp-storage-emulator, in memory) on 127.0.0.1, for the whole session."""
    return _session_server("gcs", pytestconfig, _start_gcs)
