"""The files connector on real protocol servers: S3 (moto), Azure Blob (Azurite), GCS (emulator), SFTP.

Every storage runs the same tests through one ``Site`` per storage (upload a
file, build a good config, point it through a proxy). Bytes fetched are
measured on the wire: the connector talks to the server through a TCP relay on
127.0.0.1 that counts what the server sends back, so range reads, caching and
retries are all in the figure. Storage-free tests (config models, options,
local partitions) come last and run everywhere.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

import connectors
from connectors._storages import AzureBlobConfig, GcsConfig, S3Config, SftpConfig, pem_text
from connectors.base import ORIGIN_COLUMN, RAW_COLUMN, ROW_ERROR_COLUMN, FormatError, Partition
from connectors.files import (
    AzureBlobConnector,
    FilesConnector,
    GcsConnector,
    S3Connector,
    SftpConnector,
)
from core.services import secret_fields
from tests.storage_servers import (  # noqa: F401  (fixtures, used by name)
    azurite_server,
    gcs_server,
    make_bucket,
    make_container,
    make_gcs_bucket,
    s3_server,
    sftp_server,
    unique_name,
)

META = [ORIGIN_COLUMN, ROW_ERROR_COLUMN, RAW_COLUMN]
STORAGES = ["s3", "azure_blob", "gcs", "sftp"]
#: The large objects: ~96 MB of CSV (well past the ~40 MB a read may buffer ahead: pyarrow's
#: 32 blocks of 1 MB, a 4 MB range and sockets), and ~48 MB of CSV gzipped.
BIG_BYTES = 96_000_000
#: What ``sample()`` may fetch from a large object, on the wire.
SAMPLE_BUDGET = 3 * 1024 * 1024


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


def secrets_of(config: dict[str, Any], model: type) -> list[str]:
    """The values of a config's secret fields (the strings that must never be shown)."""
    return [str(config[name]) for name in secret_fields(model) if config.get(name)]


def assert_secret_free(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a secret leaked into a message"
        for piece in (p for p in secret.replace("\n", " ").split() if len(p) >= 16):
            assert piece not in text, "part of a secret leaked into a message"


# -- large objects -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BigFiles:
    plain: bytes
    gz: bytes
    rows: int  # of the plain object
    gz_rows: int


@pytest.fixture(scope="session")
def big_files() -> BigFiles:
    """~96 MB of customer rows, and half of them gzipped."""
    block = "".join(
        f"{i},name{i},user{i}@example.com,{i % 997},2026-01-01T00:00:00Z\n" for i in range(20_000)
    )
    header = "id,name,email,points,updated_at\n"
    repeats = BIG_BYTES // len(block) + 1
    plain = (header + block * repeats).encode()
    half = (header + block * (repeats // 2)).encode()
    return BigFiles(plain, gzip.compress(half, compresslevel=6), 20_000 * repeats, 20_000 * (repeats // 2))


@pytest.fixture(scope="module")
def big(site: Site, big_files: BigFiles) -> BigFiles:
    """The large objects uploaded once per storage, in folder ``big``."""
    site.upload("big/big.csv", big_files.plain)
    site.upload("big/big.csv.gz", big_files.gz)
    return big_files


# -- check -------------------------------------------------------------------------------------------------
def test_check_good_credentials(site: Site, folder: str, s3_auth: None) -> None:
    site.upload(f"{folder}/a.csv", b"id,name\n1,Ann\n")
    site.upload(f"{folder}/logo.png", b"\x89PNG")
    configs = [site.config(folder)]
    if site.kind == "azure_blob":
        configs += [
            {"url": site.url(folder), "connection_string": site.server.connection_string},
            {**site.config(folder, account_key=None), "sas_token": container_sas(site)},
        ]
    if site.kind == "sftp":
        configs += [
            site.config(folder, password=None, private_key=site.server.private_key),
            site.config(
                folder,
                password=None,
                private_key=site.server.private_key_encrypted,
                passphrase=site.server.private_key_passphrase,
            ),
        ]
    for config in configs:
        connector = site.connector_class(config)
        result = connector.check()
        assert result.ok, result.message
        assert "readable: 1 data file(s)" in result.message and "1 other file(s) ignored" in result.message
        assert_secret_free(
            result.message + repr(connector) + repr(connector.config),
            secrets_of(config, site.connector_class.config_model),
        )


@pytest.mark.parametrize("site", ["gcs"], indirect=True)
def test_check_gcs_service_account(site: Site, folder: str, token_server: TokenServer) -> None:
    site.upload(f"{folder}/a.csv", b"id\n1\n")
    good = site.config(folder, service_account_json=token_server.key("reader@test.iam.gserviceaccount.com"))
    result = GcsConnector(good).check()
    assert result.ok, result.message
    assert set(token_server.granted) == {"reader@test.iam.gserviceaccount.com"}  # the key was used


def bad_configs(site: Site, folder: str, token_server: TokenServer) -> list[tuple[dict[str, Any], str]]:
    """Configs that must fail ``check()``, each with a phrase its message must hold."""
    dead = {"s3": "endpoint_url", "gcs": "endpoint_url", "azure_blob": "blob_endpoint"}
    closed = free_port()
    cases = [
        (
            site.config(folder, url=site.url(folder).replace(site.bucket, "no-such-bucket-x", 1)),
            "does not exist",
        )
    ]
    if site.kind in dead:
        account = f"/{site.server.account_name}" if site.kind == "azure_blob" else ""
        cases.append(
            (site.config(folder, **{dead[site.kind]: f"http://127.0.0.1:{closed}{account}"}), "Cannot reach")
        )
    if site.kind == "s3":
        cases += [
            (
                site.config(folder, secret_access_key="wrong-secret-key-123456"),
                "secret access key does not match",
            ),
            (site.config(folder, access_key_id="AKIAIOSFODNN7UNKNOWN"), "access key id is not known"),
        ]
    elif site.kind == "azure_blob":
        other_key = base64.b64encode(b"not the account key, but well formed" * 2).decode()
        sas = container_sas(site)
        tampered = sas.replace("sig=", "sig=AAAA", 1)
        cases += [
            (site.config(folder, account_key=other_key), "Azure refused"),
            ({**site.config(folder, account_key=None), "sas_token": tampered}, "Azure refused"),
        ]
    elif site.kind == "gcs":
        cases += [
            (
                site.config(
                    folder, service_account_json=token_server.key("revoked@test.iam.gserviceaccount.com")
                ),
                "access token",
            ),
            (
                site.config(
                    folder,
                    service_account_json=token_server.key("x@test.iam.gserviceaccount.com", broken=True),
                ),
                "no usable private key",
            ),
        ]
    else:
        server = site.server
        other_host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcaNFYEa1D1Shq6tp9D1V5hzRDZmrU4fyvB7sZp1k0E"
        import asyncssh

        stranger = (
            asyncssh.generate_private_key("ssh-rsa", key_size=2048).export_private_key("pkcs1-pem").decode()
        )
        cases += [
            (site.config(folder, password="not-the-password-42"), "refused the login of 'tributary'"),
            (site.config(folder, password=None, private_key=stranger), "refused the login"),
            (
                site.config(
                    folder,
                    password=None,
                    private_key=server.private_key_encrypted,
                    passphrase="wrong-pass-phrase",
                ),
                "passphrase",
            ),
            (
                site.config(folder, known_hosts=f"[{server.host}]:{server.port} {other_host_key}"),
                "does not match known_hosts",
            ),
            (site.config(folder, known_hosts=f"[elsewhere]:22 {other_host_key}"), "is not in known_hosts"),
            (
                site.config(
                    folder,
                    host_key_policy="accept_new",
                    known_hosts=f"[{server.host}]:{server.port} {other_host_key}",
                ),
                "does not match known_hosts",
            ),
            (
                site.config(folder, url=f"sftp://127.0.0.1:{closed}/x", host_key_policy="ignore"),
                "Cannot reach",
            ),
        ]
    return cases


def test_check_bad_credentials_say_what_failed_without_secrets(
    site: Site, folder: str, token_server: TokenServer, s3_auth: None
) -> None:
    site.upload(f"{folder}/a.csv", b"id\n1\n")
    for config, phrase in bad_configs(site, folder, token_server):
        started = time.monotonic()
        connector = site.connector_class(config)
        result = connector.check()  # never raises
        assert not result.ok and phrase in result.message, (phrase, result.message)
        assert time.monotonic() - started < 15, result.message  # no minute of retries
        secrets = secrets_of(config, site.connector_class.config_model)
        assert_secret_free(result.message + repr(connector) + str(connector.config), secrets)


@pytest.mark.parametrize("site", ["sftp"], indirect=True)
def test_sftp_accept_new_trusts_an_unlisted_host_and_prints_its_line(site: Site, folder: str) -> None:
    site.upload(f"{folder}/a.csv", b"id\n1\n")
    result = site.connector(folder, host_key_policy="accept_new", known_hosts=None).check()
    assert result.ok and site.server.known_hosts_line in result.message, result.message
    listed = site.connector(folder, host_key_policy="accept_new").check()
    assert listed.ok and "accepted as new" not in listed.message


# -- discover, sample, read --------------------------------------------------------------------------------
def test_discover_lists_objects_with_size_modified_and_schema(site: Site, folder: str) -> None:
    header = "customer_id,email,updated_at\n"
    a = (header + "1,a@x.io,2026-01-01T10:00:00Z\n2,b@x.io,2026-01-02T10:00:00Z\n").encode()
    b = (header + "3,c@x.io,2026-01-03T10:00:00Z\n").encode()
    site.upload(f"{folder}/contacts/a.csv", a)
    site.upload(f"{folder}/contacts/b.csv", b)
    site.upload(f"{folder}/orders.jsonl", b'{"order_id": "A1", "total": 9.5}\n')
    streams = {s.name: s for s in site.connector(folder).discover()}
    assert set(streams) == {"contacts/a.csv", "contacts/b.csv", "contacts/*.csv", "orders.jsonl"}
    contacts = streams["contacts/*.csv"]
    assert {f.name: f.type for f in contacts.fields} == {
        "customer_id": "integer",
        "email": "string",
        "updated_at": "timestamp",
    }
    assert contacts.metadata["files"] == 2 and contacts.metadata["bytes"] == len(a) + len(b)
    modified = pd.Timestamp(contacts.metadata["modified"])
    assert modified.tzinfo is not None and abs(pd.Timestamp.now(tz="UTC") - modified) < pd.Timedelta(hours=1)
    assert streams["contacts/a.csv"].metadata["version"]
    assert contacts.primary_key_candidates[0] == "customer_id" and contacts.cursor_candidates == (
        "updated_at",
    )
    assert {f.name for f in streams["orders.jsonl"].fields} == {"order_id", "total"}


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz"])
def test_sample_fetches_a_small_part_of_a_large_object(
    site: Site, big: BigFiles, proxy: CountingProxy, name: str
) -> None:
    connector = site.connector("big", proxy.port)
    connector.check()  # connects (and lists) before measuring
    proxy.reset()
    sample = connector.sample(name, limit=1000)
    fetched = proxy.received
    print(f"\n{site.kind} sample of {name}: {fetched / 1024:.0f} KB fetched")
    assert len(sample) == 1000 and sample[ORIGIN_COLUMN].iloc[-1] == f"{name}#1000"
    assert sample["email"].iloc[0] == "user0@example.com"
    assert 0 < fetched < SAMPLE_BUDGET, fetched


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz"])
def test_read_streams_a_large_object_in_bounded_chunks(
    site: Site, big: BigFiles, proxy: CountingProxy, name: str
) -> None:
    size = len(big.plain if name == "big.csv" else big.gz)
    connector = site.connector("big", proxy.port)
    chunks = connector.read(name, chunk_size=50_000)
    first = next(chunks)
    at_first_chunk = proxy.received
    rows, last = len(first), first[ORIGIN_COLUMN].iloc[-1]
    for chunk in chunks:
        assert len(chunk) <= 50_000
        rows, last = rows + len(chunk), chunk[ORIGIN_COLUMN].iloc[-1]
    print(f"\n{site.kind} read of {name} ({size >> 20} MB): {at_first_chunk >> 20} MB fetched", end="")
    print(f" at the first chunk, {proxy.received >> 20} MB in all")
    expected = big.rows if name == "big.csv" else big.gz_rows
    assert rows == expected and last == f"{name}#{expected}"
    assert size <= proxy.received < size * 1.2 + 2_000_000  # through the relay, each byte once
    if name == "big.csv":  # streamed: the first chunk comes long before the object's end
        assert at_first_chunk < size / 2, at_first_chunk


# -- partitions --------------------------------------------------------------------------------------------
def test_partitions_versions_change_only_with_the_object(site: Site, folder: str) -> None:
    a, b, a2 = b"id,name\n1,Ann\n2,Bob\n", b"id,name\n3,Cyd\n", b"id,name\n1,Ann\n2,Bob\n4,Dee\n"
    site.upload(f"{folder}/a.csv", a)
    site.upload(f"{folder}/b.csv", b)
    site.upload(f"{folder}/notes.txt.png", b"not data")
    connector = site.connector(folder)
    first = connector.partitions("*.csv")
    assert first is not None and [p.name for p in first] == ["a.csv", "b.csv"]
    assert [p.size for p in first] == [len(a), len(b)] and all(p.version for p in first)
    assert all(p.modified and datetime.fromisoformat(p.modified).tzinfo for p in first)
    assert site.connector(folder).partitions("*.csv") == first  # stable while nothing changes
    site.upload(f"{folder}/a.csv", a2)  # rewritten
    second = connector.partitions("*.csv")
    assert second is not None
    assert second[0].version != first[0].version and second[0].size == len(a2)
    assert second[1] == first[1]


def test_read_partition_reads_one_object_with_its_own_columns(site: Site, folder: str) -> None:
    site.upload(f"{folder}/a.csv", b"id,name\n1,Ann\n2,Bob,extra\n3,Cyd\n")
    site.upload(f"{folder}/b.csv", b"id,name,city\n4,Dee,Metz\n")
    connector = site.connector(folder)
    parts = connector.partitions("*.csv")
    assert parts is not None
    frame = pd.concat(list(connector.read_partition("*.csv", parts[0], chunk_size=2)), ignore_index=True)
    assert list(frame.columns) == ["id", "name", *META]  # not b.csv's city
    assert frame[ORIGIN_COLUMN].tolist() == ["a.csv#1", "a.csv#2", "a.csv#3"]
    assert frame[ROW_ERROR_COLUMN].notna().tolist() == [False, True, False]
    assert frame[RAW_COLUMN].iloc[1] == "2,Bob,extra"
    whole = pd.concat(list(connector.read("*.csv")), ignore_index=True)
    assert "city" in whole.columns and len(whole) == 4


# -- unreadable objects ------------------------------------------------------------------------------------
def test_unreadable_objects_raise_format_errors_naming_them(site: Site, folder: str) -> None:
    rows = "".join(f"{i},user{i}@example.com\n" for i in range(20_000)).encode()
    site.upload(f"{folder}/cut.csv.gz", gzip.compress(b"id,email\n" + rows)[:-4000])
    site.upload(f"{folder}/broken.parquet", b"PAR1 this is not parquet at all")
    site.upload(f"{folder}/latin.csv", "id,city\n1,Besançon\n".encode("latin-1"))
    connector = site.connector(folder)
    with pytest.raises(FormatError, match=r"cut\.csv\.gz could not be decompressed as gzip"):
        list(connector.read("cut.csv.gz"))
    with pytest.raises(FormatError, match=r"broken\.parquet could not be read as Parquet"):
        list(connector.read("broken.parquet"))
    with pytest.raises(FormatError, match=r"latin\.csv .*format\.encoding"):
        list(connector.read("latin.csv", {"format": {"encoding": "utf-8"}}))
    parts = connector.partitions("cut.csv.gz")
    assert parts is not None
    with pytest.raises(FormatError, match=r"cut\.csv\.gz"):
        list(connector.read_partition("cut.csv.gz", parts[0]))


# -- helpers for credentials -------------------------------------------------------------------------------
def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def container_sas(site: Site) -> str:
    """A read/list SAS token for the site's Azure container."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas(
        site.server.account_name,
        site.bucket,
        account_key=site.server.account_key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


class TokenServer:
    """Google's OAuth token endpoint, on 127.0.0.1: grants tokens to ``reader@`` service accounts only."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.private_key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            .decode()
        )
        self.granted: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                assertion = urllib.parse.parse_qs(body)["assertion"][0]
                claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
                ok = claims["iss"].startswith("reader@")
                if ok:
                    outer.granted.append(claims["iss"])
                answer = (
                    {"access_token": "ya29.test-token", "expires_in": 3600, "token_type": "Bearer"}
                    if ok
                    else {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
                )
                payload = json.dumps(answer).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def key(self, email: str, broken: bool = False) -> str:
        """A service account key file whose tokens come from this server."""
        private_key = (
            self.private_key
            if not broken
            else "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "test-project",
                "private_key_id": "0123456789abcdef0123456789abcdef01234567",
                "private_key": private_key,
                "client_email": email,
                "token_uri": f"http://127.0.0.1:{self.httpd.server_address[1]}/token",
            }
        )


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def s3_auth(site: Site) -> Iterator[None]:
    """On S3, moto checks credentials during the test: the site's key becomes a real IAM user's."""
    if site.kind != "s3":
        yield
        return
    import boto3

    server = site.server
    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.key,
        aws_secret_access_key=server.secret,
        region_name=server.region,
    )
    user = unique_name("reader")
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    site.extra.update(key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    _moto_auth(server.endpoint_url, "0")
    try:
        yield
    finally:
        _moto_auth(server.endpoint_url, "inf")
        site.extra.clear()


def _moto_auth(endpoint: str, after: str) -> None:
    """Makes moto check credentials after ``after`` more requests (``inf``: never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).close()


# -- without servers: config models, options, registry, local partitions -----------------------------------
def test_storages_are_registered_under_the_catalog_names() -> None:
    cloud = dict(connectors.CATALOG["Cloud storage"])
    assert set(cloud) == {"files", "s3", "azure_blob", "gcs", "sftp"}
    for name in cloud:
        cls = connectors.REGISTRY[name]
        assert issubclass(cls, FilesConnector) and cls.category == "Cloud storage"
        assert "storage_options" not in cls.config_model.model_fields


def test_every_credential_is_a_secret_field() -> None:
    assert secret_fields(S3Config) == {"secret_access_key", "session_token"}
    assert secret_fields(AzureBlobConfig) == {"account_key", "sas_token", "connection_string"}
    assert secret_fields(GcsConfig) == {"service_account_json"}
    assert secret_fields(SftpConfig) == {"password", "private_key", "passphrase"}


def test_s3_options_are_built_from_typed_fields() -> None:
    config = S3Config.model_validate(
        {
            "url": "s3://bucket/exports/",
            "access_key_id": "AKIA1",
            "secret_access_key": "s3cr3t-value",
            "session_token": "t0ken-value",
            "region": "eu-west-3",
            "endpoint_url": "https://minio.local:9000",
        }
    )
    options = config.storage_options()
    assert (options["key"], options["secret"], options["token"]) == ("AKIA1", "s3cr3t-value", "t0ken-value")
    assert options["client_kwargs"] == {"region_name": "eu-west-3"}
    assert options["endpoint_url"] == "https://minio.local:9000" and options["use_listings_cache"] is False
    assert config.root() == "bucket/exports" and config.endpoint() == ("minio.local", 9000)
    assert "s3cr3t-value" not in repr(config) and "t0ken-value" not in str(config)
    ambient = S3Config.model_validate({"url": "s3://bucket"}).storage_options()
    assert "key" not in ambient and "secret" not in ambient  # the machine's credentials
    with pytest.raises(ValidationError, match="both access_key_id and secret_access_key"):
        S3Config.model_validate({"url": "s3://bucket", "access_key_id": "AKIA1"})
    with pytest.raises(ValidationError, match="s3://bucket/prefix"):
        S3Config.model_validate({"url": "gs://bucket"})


def test_azure_options_for_each_credential() -> None:
    key = base64.b64encode(b"k" * 64).decode()
    by_key = AzureBlobConfig.model_validate(
        {"url": "az://box/in", "account_name": "acct", "account_key": key}
    )
    assert by_key.storage_options()["connection_string"] == (
        f"AccountName=acct;BlobEndpoint=https://acct.blob.core.windows.net;AccountKey={key};"
    )
    assert by_key.root() == "box/in"
    sas = AzureBlobConfig.model_validate(
        {"url": "abfs://box", "account_name": "acct", "sas_token": "?sv=1&sig=abc%2Bdef"}
    )
    assert sas.storage_options()["connection_string"].endswith(";SharedAccessSignature=sv=1&sig=abc%2Bdef;")
    ambient = AzureBlobConfig.model_validate({"url": "az://box", "account_name": "acct"}).storage_options()
    assert ambient["account_name"] == "acct" and "connection_string" not in ambient
    local = AzureBlobConfig.model_validate(
        {
            "url": "az://box",
            "account_name": "dev",
            "account_key": key,
            "blob_endpoint": "http://127.0.0.1:10000/dev",
        }
    )
    assert local.storage_options()["connection_string"] == (
        f"AccountName=dev;BlobEndpoint=http://127.0.0.1:10000/dev;AccountKey={key};"
    )
    assert local.endpoint() == ("127.0.0.1", 10000)
    from_host = AzureBlobConfig.model_validate(
        {"url": "abfs://box@acct2.dfs.core.windows.net/in", "account_key": key}
    )
    assert from_host.account_name == "acct2" and from_host.root() == "box/in"
    with pytest.raises(ValidationError, match="one of account_key, sas_token or connection_string") as caught:
        AzureBlobConfig.model_validate(
            {"url": "az://box", "account_name": "a", "account_key": key, "sas_token": "sv=1"}
        )
    assert key not in str(caught.value)
    with pytest.raises(ValidationError, match="account_name is required"):
        AzureBlobConfig.model_validate({"url": "az://box", "account_key": key})


def test_gcs_service_account_is_checked_and_never_echoed() -> None:
    with pytest.raises(ValidationError, match="is not JSON") as caught:
        GcsConfig.model_validate({"url": "gs://b", "service_account_json": "hunter2-not-json"})
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ValidationError, match="without client_email or private_key"):
        GcsConfig.model_validate({"url": "gs://b", "service_account_json": '{"type": "service_account"}'})
    emulator = GcsConfig.model_validate({"url": "gs://b/p", "endpoint_url": "http://127.0.0.1:9023"})
    assert emulator.storage_options()["token"] == "anon" and emulator.root() == "b/p"
    key = {
        "type": "service_account",
        "client_email": "a@b",
        "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
    }
    assert (
        GcsConfig.model_validate(
            {"url": "gs://b", "service_account_json": json.dumps(key)}
        ).storage_options()["token"]
        == key
    )


def test_sftp_settings() -> None:
    with pytest.raises(ValidationError, match="known_hosts is required"):
        SftpConfig.model_validate({"url": "sftp://h/x", "username": "u", "password": "p"})
    with pytest.raises(ValidationError, match="username is required"):
        SftpConfig.model_validate({"url": "sftp://h/x", "host_key_policy": "ignore"})
    with pytest.raises(ValidationError, match="must not hold a password") as caught:
        SftpConfig.model_validate({"url": "sftp://u:hunter2@h/x", "host_key_policy": "ignore"})
    assert "hunter2" not in str(caught.value)
    config = SftpConfig.model_validate(
        {"url": "sftp://ann@files.example.com:2222/drop/", "host_key_policy": "ignore"}
    )
    assert (config.login(), config.host(), config.root()) == ("ann", ("files.example.com", 2222), "/drop")
    options = config.storage_options()
    assert options["known_hosts"] is None and options["client_keys"] is None and options["agent_path"] is None


def test_a_pem_flattened_by_a_one_line_box_is_restored() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nQUJD\nREVG\n-----END RSA PRIVATE KEY-----\n"
    assert pem_text(pem.replace("\n", " ")) == pem
    assert pem_text(pem) == pem
    assert pem_text(pem.replace("\n", "\\n")) == pem


def test_secret_pieces_are_scrubbed_from_messages() -> None:
    from connectors.files import _scrub

    config = AzureBlobConfig.model_validate(
        {
            "url": "az://box",
            "connection_string": "AccountName=a;AccountKey=c2VjcmV0LWtleS12YWx1ZQ==;BlobEndpoint=http://h/a;",
        }
    )
    text = "failed: AccountKey=c2VjcmV0LWtleS12YWx1ZQ== and c2VjcmV0LWtleS12YWx1ZQ== again"
    assert "c2VjcmV0LWtleS12YWx1ZQ" not in _scrub(text, config.secrets())


def test_local_partitions_and_read_partition(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,Ann\n2,Bob\n")
    (tmp_path / "b.csv").write_text("id,name,city\n3,Cyd,Nice\n")
    connector = FilesConnector({"url": str(tmp_path)})
    parts = connector.partitions("*.csv")
    assert parts is not None and [p.name for p in parts] == ["a.csv", "b.csv"]
    assert parts[0].version == f"{parts[0].size}:{parts[0].modified}"
    frame = pd.concat(list(connector.read_partition("*.csv", parts[1])))
    assert list(frame.columns) == ["id", "name", "city", *META] and frame[ORIGIN_COLUMN].tolist() == [
        "b.csv#1"
    ]
    (tmp_path / "a.csv").write_text("id,name\n1,Ann\n2,Bob\n3,Cyd\n")
    assert connector.partitions("*.csv")[0].version != parts[0].version
    with pytest.raises(connectors.base.StreamNotFoundError):
        list(connector.read_partition("*.csv", Partition("../etc/passwd", "1")))


def test_incremental_dataflow_reads_each_object_once_per_version(site: Site, folder: str, workspace) -> None:
    """End to end on each storage: full run, nothing new, a new object, a changed object."""
    site.upload(f"{folder}/a.csv", b"id,email\n1,a@x.io\n2,b@x.io\n")
    site.upload(f"{folder}/b.csv", b"id,email\n3,c@x.io\n")
    workspace.save_connection("cloud", site.kind, site.config(folder))
    workspace.save_dataflow(
        "drops",
        {
            "source": {"connection": "cloud", "stream": "*.csv"},
            "sync": {"mode": "incremental", "primary_key": ["id"]},
            "mapping": {"crmId": "id", "personalEmail.address": "email"},
        },
    )
    first = workspace.run("drops")
    assert (first.status, first.received, first.ingested) == ("succeeded", 3, 3), first.error_message
    assert workspace.run("drops").received == 0
    site.upload(f"{folder}/c.csv", b"id,email\n4,d@x.io\n")
    assert workspace.run("drops").received == 1
    site.upload(f"{folder}/a.csv", b"id,email\n1,changed@x.io\n2,b@x.io\n")
    fourth = workspace.run("drops")
    assert (fourth.status, fourth.received) == ("succeeded", 2)
    records = workspace.records("drops", limit=None).set_index("crmId")
    assert len(records) == 4
    assert records.loc["1", "personalEmail.address"] == "changed@x.io"


def test_a_run_that_dies_mid_object_is_rerun_exactly(site: Site, folder: str, workspace) -> None:
    """A run dying in the middle of an object commits its first chunks; the rerun re-reads that object only."""
    site.upload(f"{folder}/a.csv", b"id\n" + b"".join(b"%d\n" % i for i in range(0, 600)))
    site.upload(f"{folder}/b.csv", b"id\n" + b"".join(b"%d\n" % i for i in range(600, 1800)))
    workspace.save_connection("cloud", site.kind, site.config(folder))
    workspace.save_dataflow(
        "drops",
        {
            "source": {"connection": "cloud", "stream": "*.csv"},
            "sync": {"mode": "incremental", "primary_key": [], "chunk_size": 200},
            "mapping": {"crmId": "id"},
        },
    )

    def die_in_the_middle_of_b(summary) -> None:  # type: ignore[no-untyped-def]
        if summary.chunks == 5:  # a.csv's 3 chunks, then 2 of b.csv's 6
            raise RuntimeError("the process died")

    broken = workspace.run("drops", progress=die_in_the_middle_of_b)
    assert (broken.status, broken.received) == ("failed", 1000), broken.error_message
    rerun = workspace.run("drops")
    assert (rerun.status, rerun.received) == ("succeeded", 800), rerun.error_message
    records = workspace.records("drops", limit=None)
    assert len(records) == 1800 and records["_source_key"].is_unique
    assert sorted(records["crmId"].astype(int)) == list(range(1800))
    assert workspace.run("drops").received == 0
