"""The canary's connections: per connector, configs with a marker in every secret field, and what they meet.

Each connector has a builder returning the connections (:class:`Source`) the
canary saves and drives. Together they fill every ``SecretStr`` field of the
connector's config model (the test checks that), each on a path that makes
the credential travel:

- **bad auth** against the real server or emulator (PostgreSQL, MariaDB,
  Azurite, the SFTP server), or against a careless vendor (:class:`EchoVendor`)
  that refuses every request and quotes back everything it received (headers,
  query string, form or JSON body) in its error: what a redactor must mask;
- **unreachable**: a closed port on 127.0.0.1;
- **timeout**: a server that accepts connections and never answers (:class:`Mute`);
- **working**: a real server that accepts the marker-bearing credential
  (PostgreSQL in trust mode, a MariaDB account created with the marker as its
  password, moto's S3, the GCS emulator behind a granting token endpoint), so
  a run gets far enough to fail on bad SQL, a missing column or a quality check.

Fields that must parse hold a marker where the parser accepts one: an Azure
key is a base64 marker, a SAS token carries it as its signature, a connection
string as its AccountKey, a service-account JSON as its ``private_key_id``; a
private key is freshly generated, and each line of its PEM body is watched.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.http_servers import FakeApi, Recorded, Reply, Tokens
from tests.security.canary import Canaries

#: The data of the working sources: every other row's email is not one, so a quality check fails.
ROWS = [
    (i, f"user{i}@example.com" if i % 2 else f"not-an-email-{i}", f"2026-11-0{1 + i % 9}T00:00:00Z")
    for i in range(1, 21)
]
CSV = ("id,email,updated_at\n" + "".join(f"{i},{e},{u}\n" for i, e, u in ROWS)).encode()
#: Mapping of the dataflows that only need to start (they fail on connecting).
MAPPING = {"crmId": "id"}


@dataclass(frozen=True)
class Source:
    """One connection to save and drive.

    Attributes:
        name: the connection's name.
        connector: its connector.
        config: its settings, a marker in each secret field given.
        path: what the credential meets: bad auth, vendor echo, unreachable, timeout, working.
        stream: the stream its dataflow reads.
        options: the dataflow's source options.
        mapping: the dataflow's mapping.
    """

    name: str
    connector: str
    config: dict[str, Any]
    path: str
    stream: str = "contacts"
    options: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=lambda: dict(MAPPING))
    #: Only ``check()`` (once): a timeout costs seconds, and every verb connects the same way.
    quick: bool = False
    #: A database's table holding :data:`ROWS` (working sources): a custom query over it fails.
    table: str | None = None
    #: Whether a marker travels to the vendor (a JWT bearer sign-in sends only a signature).
    sends_marker: bool = True

    def __post_init__(self) -> None:
        if self.path == "timeout":
            object.__setattr__(self, "quick", True)


# -- servers ------------------------------------------------------------------------------------------------
class EchoVendor(FakeApi):
    """A careless vendor: every request is refused (401) with an error quoting all it received.

    S3 requests (SigV4-signed) get S3's XML error (``InvalidToken``) quoting the same. With
    ``grant=True`` token requests succeed instead (a working OAuth endpoint).
    """

    def __init__(self, *, grant: bool = False) -> None:
        super().__init__()
        self.tokens = Tokens(prefix="issued-token-")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            self.route(method, _ANY, self._answer)
        self.grant = grant

    def _answer(self, request: Recorded) -> Reply:
        said = (
            f"you sent {request.method} {request.path}?{urlencode(request.query, doseq=True)} "
            f"with headers {dict(request.headers)} and body {request.body.decode('utf-8', 'replace')}"
        )
        if self.grant and request.method == "POST":
            return Reply(200, {**self.tokens.issue(), "instance_url": self.base_url})
        if (request.header("authorization") or "").startswith("AWS4-HMAC"):
            body = f"<Error><Code>InvalidToken</Code><Message>{_xml(said)}</Message></Error>"
            return Reply(403, body, headers={"Content-Type": "application/xml"})
        return Reply(
            401,
            {
                "error": "invalid_client",
                "error_description": said,
                "message": said,
                "error_code": "401013",
                "errors": [{"message": said, "errorCode": "INVALID_AUTH"}],
            },
        )


_ANY = __import__("re").compile(r"/.*")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Mute:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self._held.append(self._listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self._listener.close()
        for sock in self._held:
            sock.close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Env:
    """What the builders point their connections at; servers start on first use, stop at teardown."""

    def __init__(self, request: pytest.FixtureRequest, canaries: Canaries) -> None:
        self.request = request
        self.canaries = canaries
        self.closed = closed_port()
        self._stops: list[Callable[[], None]] = []

    def fixture(self, name: str) -> Any:
        """A server fixture (it skips the test on a bare machine, fails it in CI)."""
        return self.request.getfixturevalue(name)

    @functools.cached_property
    def echo(self) -> EchoVendor:
        return self._started(EchoVendor())

    @functools.cached_property
    def grant(self) -> EchoVendor:
        return self._started(EchoVendor(grant=True))

    @functools.cached_property
    def mute(self) -> Mute:
        server = Mute()
        self._stops.append(server.close)
        return server

    def _started(self, api: EchoVendor) -> EchoVendor:
        api.start()
        self._stops.append(api.stop)
        return api

    def on_close(self, stop: Callable[[], None]) -> None:
        """Runs ``stop`` at teardown (last registered, first run)."""
        self._stops.append(stop)

    def close(self) -> None:
        for stop in reversed(self._stops):
            stop()

    def marker(self, owner: str, field_name: str, alphabet: str = "text") -> str:
        return self.canaries.new(owner, field_name, alphabet=alphabet)

    def private_key(self, owner: str, field_name: str, passphrase: str | None = None) -> str:
        """A fresh RSA key's PEM (PKCS#8, encrypted when a passphrase is given); each body line is watched."""
        encryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        pem = _rsa_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        text = pem.decode()
        for line in text.splitlines():
            if line and not line.startswith("-----") and len(line) >= 32:
                self.canaries.add(owner, f"{field_name} (a PEM line)", line)
        return text

    def service_account(self, owner: str, field_name: str, token_uri: str) -> str:
        """A service-account JSON key: a marker as its key id, a fresh private key, tokens from token_uri."""
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "canary-project",
                "private_key_id": self.marker(owner, field_name, "plain"),
                "private_key": self.private_key(owner, field_name),
                "client_email": "loader@canary-project.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": token_uri,
            }
        )


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- builders -----------------------------------------------------------------------------------------------
Builder = Callable[[Env, str], list[Source]]
BUILDERS: dict[str, Builder] = {}


def builds(*names: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        for name in names:
            BUILDERS[name] = builder
        return builder

    return register


@builds("files")
def _files(env: Env, connector: str) -> list[Source]:
    """No secret field: a missing folder, so its paths run all the same."""
    return [Source("files_missing", "files", {"url": "/nonexistent/canary-folder"}, "unreachable", "*.csv")]


@builds("sqlite")
def _sqlite(env: Env, connector: str) -> list[Source]:
    """No secret field: a missing file."""
    return [Source("sqlite_missing", "sqlite", {"path": "/nonexistent/canary.db"}, "unreachable", "people")]


# -- databases ----------------------------------------------------------------------------------------------
_DIALECTS = {"postgres": "postgresql", "redshift": "postgresql", "mysql": "mysql", "sqlserver": "mssql"}


def _server(env: Env, name: str, connector: str, port: int, path: str, **config: Any) -> Source:
    settings = {"host": "127.0.0.1", "port": port, "database": "test", "username": "canary_nobody"}
    settings |= {"connect_timeout_s": 1, "password": env.marker(name, "password"), **config}
    if connector in ("postgres", "redshift"):
        settings.setdefault("ssl_mode", "disable")
    return Source(name, connector, settings, path, "public.people")


def _url(env: Env, name: str, connector: str, port: int, path: str, user: str = "canary_nobody") -> Source:
    password = quote(env.marker(name, "url"), safe="")
    url = f"{_DIALECTS[connector]}://{user}:{password}@127.0.0.1:{port}/test"
    if connector in ("postgres", "redshift"):
        url += "?sslmode=disable"
    return Source(name, connector, {"url": url, "connect_timeout_s": 1}, path, "public.people")


def _unreachable_databases(env: Env, connector: str) -> list[Source]:
    sources = [
        _server(env, f"{connector}_closed", connector, env.closed, "unreachable"),
        _url(env, f"{connector}_url_closed", connector, env.closed, "unreachable"),
    ]
    if connector != "sqlserver":  # FreeTDS waits some 6 s past its login timeout: the same words, too slow
        sources.append(_server(env, f"{connector}_mute", connector, env.mute.port, "timeout"))
    return sources


@builds("postgres", "redshift")
def _postgres(env: Env, connector: str) -> list[Source]:
    """PostgreSQL trusts 127.0.0.1: an unknown role is refused (a known one is let in, password unread)."""
    from tests.services import POSTGRES, require_service

    require_service(*POSTGRES)
    return [
        _server(env, f"{connector}_bad_role", connector, 5432, "bad auth"),
        _url(env, f"{connector}_url_bad_role", connector, 5432, "bad auth"),
        *_unreachable_databases(env, connector),
    ]


@builds("mysql")
def _mysql(env: Env, connector: str) -> list[Source]:
    from tests.services import MARIADB, require_service

    require_service(*MARIADB)
    return [
        _server(env, "mysql_bad_password", "mysql", 3306, "bad auth", username="root"),
        _url(env, "mysql_url_bad_password", "mysql", 3306, "bad auth", user="root"),
        *_unreachable_databases(env, "mysql"),
    ]


@builds("sqlserver")
def _sqlserver(env: Env, connector: str) -> list[Source]:
    """No SQL Server runs here: a closed port, with the password and as a URL."""
    return _unreachable_databases(env, "sqlserver")


@builds("bigquery")
def _bigquery(env: Env, connector: str) -> list[Source]:
    """Google's token service is the careless vendor: the key's JWT assertion is refused and echoed."""
    return [
        Source(
            "bigquery_refused",
            "bigquery",
            {
                "project": "canary-project",
                "dataset": "crm",
                "credentials_json": env.service_account(
                    "bigquery_refused", "credentials_json", env.echo.url("/token")
                ),
            },
            "vendor echo",
            "crm.people",
        )
    ]


# -- storages ------------------------------------------------------------------------------------------------
def _s3(
    env: Env, name: str, connector: str, endpoint: str, path: str, url: str = "s3://canary-bucket/in"
) -> Source:
    config = {
        "url": url,
        "access_key_id": "AKIAEXAMPLENOTSECRET",
        "secret_access_key": env.marker(name, "secret_access_key"),
        "session_token": env.marker(name, "session_token"),
        "region": "us-east-1",
        "endpoint_url": endpoint,
    }
    return Source(name, connector, config, path, "*.csv", {"format": {"type": "csv"}})


def _azure(env: Env, name: str, connector: str, credential: str, endpoint: str, path: str) -> Source:
    account = "devstoreaccount1"
    config: dict[str, Any] = {"url": "az://canary-container/in"}
    if credential == "account_key":
        config |= {"account_name": account, "blob_endpoint": endpoint}
        config["account_key"] = env.marker(name, "account_key", "base64")
    elif credential == "sas_token":
        config |= {"account_name": account, "blob_endpoint": endpoint}
        signature = quote(env.marker(name, "sas_token"), safe="")
        config["sas_token"] = (
            f"sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&spr=http&sig={signature}"
        )
    else:
        key = env.marker(name, "connection_string", "base64")
        config["connection_string"] = (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};"
        )
    return Source(name, connector, config, path, "*.csv", {"format": {"type": "csv"}})


def _gcs(env: Env, name: str, connector: str, endpoint: str, token_uri: str, path: str) -> Source:
    config = {
        "url": "gs://canary-bucket/in",
        "service_account_json": env.service_account(name, "service_account_json", token_uri),
        "project": "canary-project",
        "endpoint_url": endpoint,
    }
    return Source(name, connector, config, path, "*.csv", {"format": {"type": "csv"}})


def _sftp(
    env: Env, name: str, connector: str, host: str, path: str, known_hosts: str | None = None
) -> Source:
    passphrase = env.marker(name, "passphrase")
    config = {
        "url": f"sftp://{host}/in",
        "username": "canary",
        "password": env.marker(name, "password"),
        "private_key": env.private_key(name, "private_key", passphrase),
        "passphrase": passphrase,
        **({"known_hosts": known_hosts} if known_hosts else {"host_key_policy": "ignore"}),
    }
    return Source(name, connector, config, path, "*.csv", {"format": {"type": "csv"}})


@builds("s3")
def _s3_sources(env: Env, connector: str) -> list[Source]:
    """moto accepts any key: the careless vendor, standing in for an S3-compatible store, refuses it."""
    return [
        _s3(env, "s3_refused", "s3", env.echo.base_url, "vendor echo"),
        # only checked (it probes the endpoint first): botocore retries a refused connection for seconds
        replace(_s3(env, "s3_closed", "s3", f"http://127.0.0.1:{env.closed}", "unreachable"), quick=True),
    ]


@builds("azure_blob")
def _azure_sources(env: Env, connector: str) -> list[Source]:
    server = env.fixture("azurite_server")
    endpoint = server.blob_endpoint
    return [
        _azure(env, "azure_bad_key", "azure_blob", "account_key", endpoint, "bad auth"),
        _azure(env, "azure_bad_sas", "azure_blob", "sas_token", endpoint, "bad auth"),
        _azure(env, "azure_bad_connection_string", "azure_blob", "connection_string", endpoint, "bad auth"),
        # only checked: the Azure SDK retries a refused connection for a minute, checking probes first
        replace(
            _azure(
                env,
                "azure_closed",
                "azure_blob",
                "account_key",
                f"http://127.0.0.1:{env.closed}/x",
                "unreachable",
            ),
            quick=True,
        ),
    ]


@builds("gcs")
def _gcs_sources(env: Env, connector: str) -> list[Source]:
    server = env.fixture("gcs_server")
    return [
        _gcs(env, "gcs_refused", "gcs", server.endpoint_url, env.echo.url("/token"), "vendor echo"),
        replace(
            _gcs(
                env,
                "gcs_closed",
                "gcs",
                f"http://127.0.0.1:{env.closed}",
                env.grant.url("/token"),
                "unreachable",
            ),
            quick=True,
        ),
    ]


@builds("sftp")
def _sftp_sources(env: Env, connector: str) -> list[Source]:
    server = env.fixture("sftp_server")
    known = server.known_hosts_line
    return [
        _sftp(env, "sftp_refused", "sftp", f"{server.host}:{server.port}", "bad auth", known),
        _sftp(env, "sftp_closed", "sftp", f"127.0.0.1:{env.closed}", "unreachable"),
        _sftp(env, "sftp_mute", "sftp", f"127.0.0.1:{env.mute.port}", "timeout"),
    ]


@builds("adobe_analytics")
def _adobe_analytics(env: Env, connector: str) -> list[Source]:
    """A data feed on each storage, each refused as the files connector's are."""
    sources = [
        _s3(
            env,
            "feed_s3_refused",
            "adobe_analytics",
            env.echo.base_url,
            "vendor echo",
            "s3://canary-feeds/in",
        ),
        _sftp(env, "feed_sftp_closed", "adobe_analytics", f"127.0.0.1:{env.closed}", "unreachable"),
    ]
    azurite = env.fixture("azurite_server")
    for credential in ("account_key", "sas_token", "connection_string"):
        sources.append(
            _azure(
                env,
                f"feed_azure_{credential}",
                "adobe_analytics",
                credential,
                azurite.blob_endpoint,
                "bad auth",
            )
        )
    gcs = env.fixture("gcs_server")
    sources.append(
        _gcs(
            env,
            "feed_gcs_refused",
            "adobe_analytics",
            gcs.endpoint_url,
            env.echo.url("/token"),
            "vendor echo",
        )
    )
    return [_feed(source) for source in sources]


def _feed(source: Source) -> Source:
    """A files source as an Adobe Analytics one: its stream is a report suite, with no format option."""
    return Source(
        source.name, source.connector, source.config, source.path, "canarysuite", {}, {"ecid": "mcvisid"}
    )


# -- HTTP APIs -----------------------------------------------------------------------------------------------
def _http_paths(env: Env, name: str, build: Callable[[str, str], Source]) -> list[Source]:
    """The careless vendor, a closed port and a mute server, for a config built from (name, base URL)."""
    return [
        build(f"{name}_refused", env.echo.base_url),
        build(f"{name}_closed", f"http://127.0.0.1:{env.closed}"),
        build(f"{name}_mute", f"http://127.0.0.1:{env.mute.port}"),
    ]


def _path_of(source: Source, name: str) -> Source:
    path = (
        "vendor echo"
        if name.endswith("_refused")
        else "unreachable"
        if name.endswith("_closed")
        else "timeout"
    )
    return replace(source, path=path)


@builds("rest")
def _rest(env: Env, connector: str) -> list[Source]:
    """One connection per way to sign in, each with every secret field set (only its own travels)."""

    def build(auth: str, in_query: bool = False) -> Callable[[str, str], Source]:
        def make(name: str, base: str) -> Source:
            config = {
                "base_url": base + "/v1",
                "auth": auth,
                "api_key": env.marker(name, "api_key"),
                "api_key_in": "query" if in_query else "header",
                "bearer_token": env.marker(name, "bearer_token"),
                "username": "canary-user",
                "password": env.marker(name, "password"),
                "token_url": base + "/oauth/token",
                "client_id": "canary-app",
                "client_secret": env.marker(name, "client_secret"),
                "streams": [
                    {"name": "contacts", "path": "/contacts", "records_path": "data", "primary_key": ["id"]}
                ],
                "read_timeout_s": 1,
                "max_attempts": 1,
            }
            return _path_of(Source(name, "rest", config, "", "contacts"), name)

        return make

    sources = []
    for auth, in_query in [("api_key", False), ("api_key", True), ("bearer", False), ("basic", False)]:
        label = f"rest_{auth}{'_query' if in_query else ''}"
        sources.append(build(auth, in_query)(f"{label}_refused", env.echo.base_url))
    sources += _http_paths(env, "rest_oauth", build("oauth2_client_credentials"))
    return sources


@builds("adobe_commerce")
def _adobe_commerce(env: Env, connector: str) -> list[Source]:
    def build(auth: str) -> Callable[[str, str], Source]:
        def make(name: str, base: str) -> Source:
            config = {
                "base_url": base,
                "auth": auth,
                "access_token": env.marker(name, "access_token"),
                "username": "canary-admin",
                "password": env.marker(name, "password"),
            }
            return _path_of(Source(name, "adobe_commerce", config, "", "customers"), name)

        return make

    integration = build("integration_token")("commerce_integration_refused", env.echo.base_url)
    return [integration, *_http_paths(env, "commerce_admin", build("admin_token"))]


def _ims(env: Env, connector: str, stream: str, **extra: Any) -> list[Source]:
    def make(name: str, base: str) -> Source:
        config = {
            "client_id": "canary-client-id",
            "client_secret": env.marker(name, "client_secret"),
            "ims_url": base + "/ims/token/v3",
            "base_url": base,
            **extra,
        }
        return _path_of(Source(name, connector, config, "", stream), name)

    return _http_paths(env, connector, make)


@builds("adobe_campaign")
def _adobe_campaign(env: Env, connector: str) -> list[Source]:
    return _ims(env, "adobe_campaign", "profiles", tenant="canarytenant")


@builds("adobe_audience_manager")
def _audience_manager(env: Env, connector: str) -> list[Source]:
    return _ims(env, "adobe_audience_manager", "traits")


@builds("salesforce")
def _salesforce(env: Env, connector: str) -> list[Source]:
    """Every sign-in flow, each with every secret field set: the token endpoint echoes the grant it got."""

    def build(flow: str) -> Callable[[str, str], Source]:
        def make(name: str, base: str) -> Source:
            config = {
                "login_url": base,
                "auth": flow,
                "client_id": "canary-consumer-key",
                "client_secret": env.marker(name, "client_secret"),
                "username": "canary@example.com",
                "password": env.marker(name, "password"),
                "security_token": env.marker(name, "security_token"),
                "private_key": env.private_key(name, "private_key"),
                "refresh_token": env.marker(name, "refresh_token"),
            }
            return _path_of(Source(name, "salesforce", config, "", "Contact"), name)

        return make

    sources = [
        build(flow)(f"salesforce_{flow}_refused", env.echo.base_url)
        for flow in ("username_password", "jwt_bearer", "refresh_token")
    ]
    sources[1] = replace(
        sources[1], sends_marker=False
    )  # the assertion is signed with the key, not holding it
    return sources + _http_paths(env, "salesforce_client_credentials", build("client_credentials"))


@builds("dynamics")
def _dynamics(env: Env, connector: str) -> list[Source]:
    def make(name: str, base: str) -> Source:
        config = {
            "environment_url": base,
            "tenant_id": "canary-tenant",
            "client_id": "canary-client-id",
            "client_secret": env.marker(name, "client_secret"),
            "authority_url": base,
        }
        return _path_of(Source(name, "dynamics", config, "", "contact"), name)

    return _http_paths(env, "dynamics", make)


@builds("marketing_cloud")
def _marketing_cloud(env: Env, connector: str) -> list[Source]:
    def make(name: str, base: str) -> Source:
        config = {
            "subdomain": "canary",
            "client_id": "canary-client-id",
            "client_secret": env.marker(name, "client_secret"),
            "data_extensions": "Subscribers",
            "auth_base_url": base,
        }
        return _path_of(Source(name, "marketing_cloud", config, "", "Subscribers"), name)

    return _http_paths(env, "marketing_cloud", make)


def secret_fields_given(sources: list[Source], secret_fields: set[str]) -> set[str]:
    """The secret fields at least one source gives a value."""
    return {name for source in sources for name in secret_fields if source.config.get(name)}


def iter_connectors() -> Iterator[str]:
    yield from BUILDERS


# -- connections that work with a marker as their credential -------------------------------------------------
def working_sources(env: Env) -> list[Source]:
    """Connections a server accepts with markers as their credentials, over a table or files of :data:`ROWS`.

    PostgreSQL trusts 127.0.0.1 (the marker password travels, unchecked); MariaDB gets an account whose
    password is the marker; moto's S3 takes any key; the GCS emulator is reached with a service account
    whose token a granting endpoint issues.
    """
    from sqlalchemy import text

    sources = []
    postgres = env.fixture("postgres")
    postgres.run("CREATE TABLE people (id integer PRIMARY KEY, email text, updated_at text)")
    _insert(postgres.engine)
    sources.append(
        Source(
            "pg_working",
            "postgres",
            {
                "host": "127.0.0.1",
                "database": "test",
                "username": "postgres",
                "password": env.marker("pg_working", "password"),
                "schema": postgres.schema,
                "ssl_mode": "disable",
            },
            "working",
            f"{postgres.schema}.people",
            table=f"{postgres.schema}.people",
        )
    )
    mariadb = env.fixture("mariadb")
    mariadb.run("CREATE TABLE people (id integer PRIMARY KEY, email text, updated_at text)")
    _insert(mariadb.engine)
    account, password = f"canary_{mariadb.schema[-10:]}", env.marker("mysql_working", "password")
    with mariadb.engine.begin() as connection:
        connection.execute(
            text(f"CREATE USER '{account}'@'%%' IDENTIFIED BY :password"), {"password": password}
        )
        connection.execute(text(f"GRANT SELECT ON `{mariadb.schema}`.* TO '{account}'@'%%'"), {})
    env.on_close(lambda: _drop_account(account))
    sources.append(
        Source(
            "mysql_working",
            "mysql",
            {"host": "127.0.0.1", "database": mariadb.schema, "username": account, "password": password},
            "working",
            f"{mariadb.schema}.people",
            table="people",
        )
    )
    s3 = env.fixture("s3_server")
    from tests.storage_servers import make_bucket, make_gcs_bucket, unique_name

    bucket = make_bucket(s3, unique_name("canary"))
    s3.client().put_object(Bucket=bucket, Key="in/people.csv", Body=CSV)
    sources.append(_s3(env, "s3_working", "s3", s3.endpoint_url, "working", f"s3://{bucket}/in"))
    gcs = env.fixture("gcs_server")
    bucket = make_gcs_bucket(gcs, unique_name("canary"))
    gcs.put_object(bucket, "in/people.csv", CSV)
    working = _gcs(env, "gcs_working", "gcs", gcs.endpoint_url, env.grant.url("/token"), "working")
    sources.append(replace(working, config={**working.config, "url": f"gs://{bucket}/in"}))
    return sources


def _insert(engine: Any) -> None:
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO people (id, email, updated_at) VALUES (:id, :email, :updated_at)"),
            [{"id": i, "email": e, "updated_at": u} for i, e, u in ROWS],
        )


def _drop_account(account: str) -> None:
    """Drops the account (its database is gone by now: the server's own engine, not the scratch one)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine("mysql+pymysql://root@127.0.0.1:3306/", poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text(f"DROP USER IF EXISTS '{account}'@'%%'"), {})
    engine.dispose()


def engine_flows(source: Source) -> dict[str, tuple[dict[str, Any], str]]:
    """The dataflows a working source fails, with the error code each run ends with: a quality check
    failing over the threshold, a column the mapping uses and the source lacks, bad SQL."""
    read = {"connection": source.name, "stream": source.stream, **source.options}
    quality = {
        "source": read,
        "mapping": {"crmId": "id", "personalEmail.address": "email"},
        "quality": [
            {
                "expect_column_values_to_match_regex": {
                    "column": "personalEmail.address",
                    "regex": r"^[^@\s]+@[^@\s]+$",
                }
            }
        ],
        "error_threshold": 0.05,
    }
    flows = {
        f"{source.name}_quality": (quality, "error_threshold"),
        f"{source.name}_missing_column": (
            {"source": read, "mapping": {"crmId": "no_such_column"}},
            "schema_drift",
        ),
    }
    if source.table:  # a database: a custom query naming a column the table lacks
        query = f"SELECT id, email, no_such_column FROM {source.table}"
        bad_sql = {
            "source": {"connection": source.name, "stream": "canary_query", "query": query},
            "mapping": MAPPING,
        }
        flows[f"{source.name}_bad_sql"] = (bad_sql, "connector")
    return flows
