"""An S3 API on 127.0.0.1: moto's server mode, as the ``s3_server`` fixture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.services import reachable
from tests.storage_servers.common import HOST, INSTALL_HINT, _session_server, _wait_until, require_package


@dataclass(frozen=True)
class S3Endpoint:
    """An S3 API on 127.0.0.1 (moto's server mode). Any bucket name works; create it first."""

    endpoint_url: str
    key: str
    secret: str
    region: str = "us-east-1"

    def url(self, path: str) -> str:
        """The fsspec URL of ``bucket/key`` (``s3://bucket/key``)."""
        return f"s3://{path.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for s3fs (``fsspec.filesystem("s3", **options)``)."""
        return {
            "key": self.key,
            "secret": self.secret,
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": self.region},
        }

    def client(self):
        """A boto3 S3 client for this server."""
        boto3 = require_package("boto3", f"moto[server] brings it: {INSTALL_HINT}")
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )


def make_bucket(server: S3Endpoint, name: str, exist_ok: bool = False) -> str:
    """Creates S3 bucket ``name`` on ``server``; returns the name.

    Raises ``FileExistsError`` if it exists, unless ``exist_ok`` (S3 itself, in
    us-east-1, silently accepts creating a bucket you already own).
    """
    client = server.client()
    if name in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}:
        if exist_ok:
            return name
        raise FileExistsError(f"S3 bucket {name} already exists")
    kwargs: dict[str, Any] = {"Bucket": name}
    if server.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": server.region}
    client.create_bucket(**kwargs)
    return name


def _start_s3() -> tuple[S3Endpoint, Callable[[], None]]:
    require_package("moto.server", f"moto[server] is needed for the S3 server: {INSTALL_HINT}")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        _wait_until(lambda: reachable(HOST, port), "moto S3 server")
    except BaseException:
        server.stop()
        raise
    return S3Endpoint(endpoint_url=f"http://{host}:{port}", key="testing", secret="testing"), server.stop


@pytest.fixture(scope="session")
def s3_server(pytestconfig: pytest.Config) -> S3Endpoint:
    """An S3 API (moto's server mode) on 127.0.0.1, for the whole session."""
    return _session_server("s3", pytestconfig, _start_s3)
