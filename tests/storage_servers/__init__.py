"""Real object-storage and SFTP servers on 127.0.0.1, as session-scoped pytest fixtures.

Each fixture starts its server once per test session, on a free loopback port,
and stops it when pytest ends. They never listen on anything but 127.0.0.1.
A test module uses them by importing them (pytest picks up imported fixtures)
and then asks for them by name as usual (``def test_x(s3_server): ...``)::

    from tests.storage_servers import s3_server as s3_server
    from tests.storage_servers import sftp_server as sftp_server

The redundant ``as`` marks a deliberate import: ruff then flags neither the
import (F401) nor each test parameter that shadows it (F811, which a plain
``from tests.storage_servers import s3_server  # noqa: F401`` still gets, once
per test). However many modules import a fixture, its server starts only once
per session.

=================  ============================================  ===========================
fixture            what it yields                                server
=================  ============================================  ===========================
``s3_server``      :class:`S3Endpoint`                           moto's server mode (PyPI)
``azurite_server`` :class:`AzuriteEndpoint`                      Azurite's blob service (npm)
``gcs_server``     :class:`GCSEndpoint`                          gcp-storage-emulator (PyPI)
``sftp_server``    :class:`SFTPEndpoint`                         asyncssh's SFTP server (PyPI)
=================  ============================================  ===========================

Each endpoint has ``url(path)`` (the fsspec URL of a path on it) and
``storage_options`` (the fsspec options that reach it), so a files-connector
test can do ``url_to_fs(server.url("bucket/in"), **server.storage_options)``.
The servers are shared by the whole session: give buckets and containers
unique names (:func:`unique_name`) and create them with :func:`make_bucket`,
:func:`make_container` or :func:`make_gcs_bucket`.

One module per server (``s3``, ``azurite``, ``gcs``, ``sftp``), plus what they
all share (``common``: the missing-tool rule, unique names, one server per
session); this package re-exports all of it, so tests import from
``tests.storage_servers`` alone.

A missing tool or package follows the rule of :mod:`tests.services`: the test
skips with a reason saying how to install it on a bare machine, and fails with
``TRIBUTARY_REQUIRE_SERVICES=1`` (CI sets it). ``.ci/storage-servers.sh``
installs what a fresh machine lacks (Node.js and Azurite); the Python packages
are in requirements-dev.txt.
"""

from __future__ import annotations

from tests.storage_servers.azurite import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    AzuriteEndpoint,
    azurite_command,
    azurite_server,
    make_container,
    tools_cache_dir,
)
from tests.storage_servers.common import (
    HOST,
    INSTALL_HINT,
    SERVERS_SCRIPT,
    STARTUP_TIMEOUT,
    require_package,
    require_tool,
    unavailable,
    unique_name,
)
from tests.storage_servers.common import _session_server as _session_server  # test_storage_servers checks it
from tests.storage_servers.gcs import GCSEndpoint, gcs_server, make_gcs_bucket
from tests.storage_servers.s3 import S3Endpoint, make_bucket, s3_server
from tests.storage_servers.sftp import SFTPEndpoint, sftp_server

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "HOST",
    "INSTALL_HINT",
    "SERVERS_SCRIPT",
    "STARTUP_TIMEOUT",
    "AzuriteEndpoint",
    "GCSEndpoint",
    "S3Endpoint",
    "SFTPEndpoint",
    "azurite_command",
    "azurite_server",
    "gcs_server",
    "make_bucket",
    "make_container",
    "make_gcs_bucket",
    "require_package",
    "require_tool",
    "s3_server",
    "sftp_server",
    "tools_cache_dir",
    "unavailable",
    "unique_name",
]
