"""One ``Site`` per storage server for the files connector's tests: upload to it, configure connectors.

Test modules import the fixtures ``site`` (a fresh bucket on each storage in
turn), ``folder`` and ``proxy`` by name, together with the server fixtures of
:mod:`tests.storage_servers` (``site`` asks for the one its storage needs).
Bytes fetched are measured on the wire: the connector talks to the server
through a TCP relay on 127.0.0.1 (:class:`CountingProxy`) that counts what the
server sends back, so range reads, caching and retries are all in the figure.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.files import (
    AzureBlobConnector,
    FilesConnector,
    GcsConnector,
    S3Connector,
    SftpConnector,
)
from tests.storage_servers import make_bucket, make_container, make_gcs_bucket, unique_name

STORAGES = ["s3", "azure_blob", "gcs", "sftp"]


# -- a counting relay --------------------------------------------------------------------------------------
class CountingProxy:
    """A TCP relay on 127.0.0.1 to one server; counts the bytes the server sends back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.received = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.received = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target, timeout=30)
            for end in (client, upstream):  # relay each write at once, as a direct connection would
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if count:
                    with self._lock:
                        self.received += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            sock.close()


# -- one site per storage ----------------------------------------------------------------------------------
@dataclass
class Site:
    """A bucket (or folder) on one storage server: upload to it, and configure connectors for it."""

    kind: str
    server: Any
    bucket: str
    connector_class: type[FilesConnector]
    extra: dict[str, Any] = field(default_factory=dict)

    def upload(self, path: str, data: bytes) -> None:
        """Writes ``data`` at ``path`` (relative to the bucket) with the storage's own client."""
        if self.kind == "s3":
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=self.server.endpoint_url,
                aws_access_key_id=self.extra.get("key", self.server.key),
                aws_secret_access_key=self.extra.get("secret", self.server.secret),
                region_name=self.server.region,
            )
            client.put_object(Bucket=self.bucket, Key=path, Body=data)
        elif self.kind == "azure_blob":
            client = self.server.service_client().get_blob_client(self.bucket, path)
            client.upload_blob(data, overwrite=True)
        elif self.kind == "gcs":
            self.server.put_object(self.bucket, path, data)
        else:
            target = self.server.root / self.bucket / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def url(self, folder: str, port: int | None = None) -> str:
        scheme = {"s3": "s3", "azure_blob": "az", "gcs": "gs"}.get(self.kind)
        if scheme:
            return f"{scheme}://{self.bucket}/{folder}"
        return f"sftp://{self.server.host}:{port or self.server.port}/{self.bucket}/{folder}"

    def config(self, folder: str, port: int | None = None, **overrides: Any) -> dict[str, Any]:
        """A good config for ``folder``; ``port`` sends it through a relay on that port."""
        server, local = self.server, f"http://127.0.0.1:{port}" if port else None
        if self.kind == "s3":
            config = {
                "access_key_id": self.extra.get("key", server.key),
                "secret_access_key": self.extra.get("secret", server.secret),
                "region": server.region,
                "endpoint_url": local or server.endpoint_url,
            }
        elif self.kind == "azure_blob":
            endpoint = f"{local}/{server.account_name}" if local else server.blob_endpoint
            config = {
                "account_name": server.account_name,
                "account_key": server.account_key,
                "blob_endpoint": endpoint,
            }
        elif self.kind == "gcs":
            config = {"endpoint_url": local or server.endpoint_url, "project": server.project}
        else:
            host_key = server.known_hosts_line.split(" ", 1)[1]
            config = {
                "username": server.username,
                "password": server.password,
                "known_hosts": f"[{server.host}]:{port or server.port} {host_key}",
            }
        return {"url": self.url(folder, port), **config, **overrides}

    def connector(self, folder: str, port: int | None = None, **overrides: Any) -> FilesConnector:
        return self.connector_class(self.config(folder, port, **overrides))

    def endpoint(self) -> tuple[str, int]:
        if self.kind == "sftp":
            return self.server.host, self.server.port
        url = self.server.blob_endpoint if self.kind == "azure_blob" else self.server.endpoint_url
        host, port = url.split("://")[1].split("/")[0].split(":")
        return host, int(port)


@pytest.fixture(scope="module", params=STORAGES)
def site(request: pytest.FixtureRequest) -> Site:
    """A fresh bucket on each storage server in turn (a folder of the SFTP root)."""
    kind, name = request.param, unique_name("files")
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        return Site(kind, server, make_bucket(server, name), S3Connector)
    if kind == "azure_blob":
        server = request.getfixturevalue("azurite_server")
        return Site(kind, server, make_container(server, name), AzureBlobConnector)
    if kind == "gcs":
        server = request.getfixturevalue("gcs_server")
        return Site(kind, server, make_gcs_bucket(server, name), GcsConnector)
    server = request.getfixturevalue("sftp_server")
    (server.root / name).mkdir()
    return Site(kind, server, name, SftpConnector)


@pytest.fixture
def folder() -> str:
    """A folder name no other test uses."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def proxy(site: Site) -> Iterator[CountingProxy]:
    relay = CountingProxy(site.endpoint())
    yield relay
    relay.close()
