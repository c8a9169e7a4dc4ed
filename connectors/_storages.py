"""Where files live: one settings model per storage, which builds its fsspec filesystem.

Each model is the form the dashboard shows for its storage: a folder URL and
typed credentials. Secrets are ``SecretStr`` (the vault encrypts them; repr and
validation errors never show them); the fsspec storage options are built here
from the typed fields, so no free-form dict of options ever reaches plain JSON.
Each model also explains its storage's exceptions (``explain``) in words a
person can act on, and lists its secrets so that messages can be scrubbed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

import fsspec
from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import (
    AuthenticationError,
    ConnectorConfig,
    ConnectorError,
    SourceUnreachableError,
    StreamNotFoundError,
)

#: Block size of the range reads behind ``sample()``, ``discover()`` and column peeks.
SAMPLE_BLOCK_BYTES = 256 * 1024
#: Block size of the range reads behind ``read()``: large enough for throughput, bounded.
READ_BLOCK_BYTES = 4 * 1024 * 1024
#: Seconds to wait for a storage to accept a connection.
CONNECT_TIMEOUT_S = 10

_PEM = re.compile(r"(-----BEGIN [A-Z0-9 ]+-----)(.*?)(-----END [A-Z0-9 ]+-----)", re.DOTALL)
_OPTIONAL_TEXT = ("region", "endpoint_url", "account_name", "blob_endpoint", "project", "username")


def secret_text(value: SecretStr | None) -> str | None:
    """The secret's text, or None when it is unset or blank."""
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


def pem_text(text: str) -> str:
    """A PEM block with its line breaks, even when a one-line form box flattened them to spaces."""
    text = text.replace("\\n", "\n").strip()
    match = _PEM.search(text)
    if match is None or "\n" in match.group(2).strip():
        return text + "\n"
    body = "\n".join(match.group(2).split())
    return f"{match.group(1)}\n{body}\n{match.group(3)}\n"


def _secret_parts(text: str) -> set[str]:
    """A secret and the long pieces of it a library message could quote (PEM lines, key values)."""
    parts = {text, *(piece for piece in re.split(r"[\s;&,\"]+|\\n", text) if len(piece) >= 12)}
    for piece in list(parts):  # ``AccountKey=abc...``, ``sig=abc...``: the value alone too
        value = piece.partition("=")[2]
        if len(value.rstrip("=")) >= 8:
            parts.add(value)
    return parts


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it was raised from or during, nearest first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _tokens(exc: BaseException) -> set[str]:
    """An exception's class names (libraries are imported lazily) and its storage error code."""
    response = getattr(exc, "response", None)
    codes = {
        response.get("Error", {}).get("Code") if isinstance(response, dict) else None,  # botocore
        getattr(exc, "error_code", None),  # azure-core
        getattr(exc, "code", None),  # gcsfs
    }
    # azure-core's codes are enums: their value is the code.
    return {cls.__name__ for cls in type(exc).__mro__} | {str(getattr(c, "value", c)) for c in codes if c}


#: (tokens, error class, message template) of ``StorageConfig.error_rules``.
ErrorRule = tuple[tuple[str, ...], type[ConnectorError], str]


class StorageConfig(ConnectorConfig):
    """The settings every storage shares: the folder's URL. Subclasses add credentials.

    Class attributes:
        protocol: the fsspec protocol of the storage.
        schemes: the URL schemes the ``url`` field accepts.
        example: an example URL, for messages.
        error_rules: (tokens, error class, message) read by ``explain``, first match wins. A
            token is an exception class name, a storage error code, or ``~regex`` on the message.
    """

    # Validation errors never echo the input: it may be a secret.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    protocol: ClassVar[str] = ""
    schemes: ClassVar[tuple[str, ...]] = ()
    example: ClassVar[str] = ""
    error_rules: ClassVar[tuple[ErrorRule, ...]] = ()
    #: Whether the URL's first part is a bucket or container (object stores), and its word.
    in_bucket: ClassVar[bool] = False
    bucket_word: ClassVar[str] = "Bucket"

    url: str = Field(description="The folder holding the files.")

    @field_validator("url")
    @classmethod
    def _folder_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(f"must name a folder, e.g. {cls.example}")
        if cls.schemes:
            parts = urlsplit(value)
            if parts.scheme.lower() not in cls.schemes or not parts.netloc:
                raise ValueError(f"must look like {cls.example}")
            if parts.password is not None:
                raise ValueError("must not hold a password: use the password or key fields")
        return value

    @field_validator(*_OPTIONAL_TEXT, mode="before", check_fields=False)
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    def root(self) -> str:
        """The folder's path on the filesystem (``bucket/prefix``), without a trailing slash."""
        parts = urlsplit(self.url)
        return f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")

    def bucket(self) -> str | None:
        """The bucket or container holding the folder (object stores), else None."""
        return self.root().partition("/")[0] if self.in_bucket else None

    def storage_options(self) -> dict[str, Any]:
        """The keyword arguments of the fsspec filesystem, built from the typed fields."""
        return {}

    def filesystem(self) -> tuple[AbstractFileSystem, str]:
        """A new filesystem for these settings, and the folder's path on it."""
        return fsspec.filesystem(self.protocol, **self.storage_options()), self.root()

    def open_options(self, block_size: int) -> dict[str, Any]:
        """Keyword arguments of ``fs.open``: range reads of ``block_size`` bytes, read ahead."""
        return {"block_size": block_size, "cache_type": "readahead"}

    def secrets(self) -> set[str]:
        """Every secret value (and the pieces a message could quote), to scrub from messages."""
        found: set[str] = set()
        for name in type(self).model_fields:
            if text := secret_text(value if isinstance(value := getattr(self, name), SecretStr) else None):
                found |= _secret_parts(text)
        return found

    def endpoint(self) -> tuple[str, int] | None:
        """The host and port of an explicitly configured endpoint, probed first by ``check()``."""
        return None

    def display_url(self) -> str:
        """The URL as it may be shown: without any password it embeds."""
        return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", self.url)

    def explain(self, exc: BaseException, where: str) -> ConnectorError | None:
        """The first of ``error_rules`` that an exception (or one it came from) matches, in words."""
        found = [(err, _tokens(err)) for err in causes(exc)]
        top = self.bucket() or ""
        for tokens, kind, template in self.error_rules:
            for err, names in found:
                if any(t in names or (t[:1] == "~" and re.search(t[1:], str(err), re.I)) for t in tokens):
                    return kind(template.format(where=where, top=top, err=err, **self._message_fields()))
        return None

    def _message_fields(self) -> dict[str, Any]:
        """Extra fields the rules' messages may use."""
        return {}

    def verify_credentials(self) -> None:
        """Tries the credentials alone, where that is quicker and clearer than a listing's retries."""

    def check_note(self, fs: AbstractFileSystem) -> str:
        """Anything ``check()`` should add once connected (a host key to pin...)."""
        return ""


def _endpoint_of(url: str | None) -> tuple[str, int] | None:
    """Host and port of an http(s) URL, or None."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


class FilesConfig(StorageConfig):
    """A folder on this machine (a path, relative or absolute, or a ``file://`` URL)."""

    example: ClassVar[str] = "./exports or /data/crm"
    #: URL schemes of the storages that have their own connector (and credential fields).
    dedicated: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("s3", "s3a"), "s3"),
        **dict.fromkeys(("az", "abfs", "abfss"), "azure_blob"),
        **dict.fromkeys(("gs", "gcs"), "gcs"),
        **dict.fromkeys(("sftp", "ssh"), "sftp"),
    }

    url: str = Field(description="A folder on this machine, such as ./exports or /data/crm.")

    @field_validator("url")
    @classmethod
    def _local_url(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme in cls.dedicated:
            raise ValueError(f"{scheme}:// folders are read by the {cls.dedicated[scheme]!r} connector")
        return value

    def filesystem(self) -> tuple[AbstractFileSystem, str]:
        """The local filesystem (or the URL's fsspec filesystem) and the folder's path on it."""
        url = self.url if "://" in self.url else os.path.expanduser(self.url)
        try:
            fs, root = url_to_fs(url)
        except ValueError as exc:  # unknown protocol, bad URL
            raise ConnectorError(f"{self.display_url()} is not a usable folder URL: {exc}") from exc
        return fs, root.rstrip("/") or "/"

    def open_options(self, block_size: int) -> dict[str, Any]:
        """Local reads need no block cache of fsspec's: the OS caches."""
        return {}


class S3Config(StorageConfig):
    """An Amazon S3 bucket, or a bucket on an S3-compatible store (MinIO, Ceph, R2...)."""

    protocol: ClassVar[str] = "s3"
    schemes: ClassVar[tuple[str, ...]] = ("s3", "s3a")
    example: ClassVar[str] = "s3://bucket/prefix"
    in_bucket: ClassVar[bool] = True
    error_rules: ClassVar[tuple[ErrorRule, ...]] = (
        (("NoSuchBucket",), StreamNotFoundError, "Bucket {top!r} does not exist ({where})."),
        (("InvalidAccessKeyId",), AuthenticationError, "S3 refused {where}: the access key id is not known."),
        (
            ("SignatureDoesNotMatch",),
            AuthenticationError,
            "S3 refused {where}: the secret access key does not match the access key id.",
        ),
        (
            ("ExpiredToken", "InvalidToken"),
            AuthenticationError,
            "S3 refused {where}: the session token is not valid.",
        ),
        (("AccessDenied", "AllAccessDisabled"), AuthenticationError, "S3 refused {where}: access denied."),
        (
            ("403",),
            AuthenticationError,
            "S3 refused {where}: the credentials are wrong or may not read this bucket.",
        ),
        (("NoCredentialsError",), AuthenticationError, "No AWS credentials for {where}: give an access key."),
        (
            ("PermanentRedirect", "AuthorizationHeaderMalformed"),
            ConnectorError,
            "Bucket {top!r} is in another region: set region.",
        ),
        (
            ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"),
            SourceUnreachableError,
            "Cannot reach the S3 endpoint for {where}.",
        ),
    )

    url: str = Field(description="s3://bucket/prefix")
    access_key_id: str | None = Field(
        None, description="Empty: the machine's AWS credentials (environment, profile, instance role)."
    )
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = Field(None, description="Only for temporary credentials.")
    region: str | None = Field(None, description="The bucket's region, such as eu-west-3.")
    endpoint_url: str | None = Field(None, description="Only for S3-compatible stores: https://host:port")

    @model_validator(mode="after")
    def _key_pair(self) -> S3Config:
        if bool(self.access_key_id) != bool(secret_text(self.secret_access_key)):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        if secret_text(self.session_token) and not self.access_key_id:
            raise ValueError("session_token goes with access_key_id and secret_access_key")
        return self

    def storage_options(self) -> dict[str, Any]:
        """s3fs options; botocore retries and timeouts kept short so a dead endpoint fails fast."""
        options: dict[str, Any] = {
            "key": self.access_key_id,
            "secret": secret_text(self.secret_access_key),
            "token": secret_text(self.session_token),
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": self.region} if self.region else {},
            "config_kwargs": {
                "connect_timeout": CONNECT_TIMEOUT_S,
                "read_timeout": 60,
                "retries": {"max_attempts": 3, "mode": "standard"},
            },
            # Listings are read fresh: partitions() must see an object rewritten a second ago.
            "use_listings_cache": False,
            "skip_instance_cache": True,
        }
        return {key: value for key, value in options.items() if value is not None}

    def endpoint(self) -> tuple[str, int] | None:
        """The S3-compatible endpoint, when one is set."""
        return _endpoint_of(self.endpoint_url)


class AzureBlobConfig(StorageConfig):
    """An Azure Blob Storage container, with an account key, a SAS token or a connection string."""

    protocol: ClassVar[str] = "abfs"
    schemes: ClassVar[tuple[str, ...]] = ("az", "abfs", "abfss")
    example: ClassVar[str] = "az://container/prefix"
    in_bucket: ClassVar[bool] = True
    bucket_word: ClassVar[str] = "Container"
    error_rules: ClassVar[tuple[ErrorRule, ...]] = (
        (("ContainerNotFound",), StreamNotFoundError, "Container {top!r} does not exist ({where})."),
        (
            ("ClientAuthenticationError", "AuthenticationFailed", "AuthorizationFailure"),
            AuthenticationError,
            "Azure refused {where}: the account key, SAS token or connection string is wrong, "
            "expired, or not allowed to list it.",
        ),
        (("ServiceRequestError",), SourceUnreachableError, "Cannot reach the blob endpoint for {where}."),
        (
            ("~connection string", "~base64|padding"),
            ConnectorError,
            "The credentials for {where} are malformed: {err}",
        ),
    )

    url: str = Field(description="az://container/prefix (or abfs://container/prefix)")
    account_name: str | None = Field(None, description="Not needed with a connection string.")
    account_key: SecretStr | None = None
    sas_token: SecretStr | None = Field(None, description="A shared access signature: sv=...&sig=...")
    connection_string: SecretStr | None = Field(None, description="Instead of the fields above.")
    blob_endpoint: str | None = Field(
        None, description="Only for Azurite, private endpoints or other clouds: http(s)://host/account"
    )

    @model_validator(mode="after")
    def _one_credential(self) -> AzureBlobConfig:
        names = ("account_key", "sas_token", "connection_string")
        if sum(bool(secret_text(getattr(self, name))) for name in names) > 1:
            raise ValueError("give one of account_key, sas_token or connection_string")
        if not secret_text(self.connection_string) and not self.account_name:
            match = re.match(r"[^@/]+@([a-z0-9]+)\.(dfs|blob)\.", urlsplit(self.url).netloc)
            if match is None:
                raise ValueError("account_name is required (or give a connection_string)")
            self.account_name = match.group(1)
        return self

    def root(self) -> str:
        """``container/prefix``; ``abfs://container@account.dfs.core.windows.net/prefix`` too."""
        parts = urlsplit(self.url)
        container = unquote(parts.netloc.partition("@")[0] if "@" in parts.netloc else parts.netloc)
        return f"{container}/{parts.path.strip('/')}".rstrip("/")

    def _connection_string(self) -> str | None:
        """The connection string given, else one built from the key or SAS token (None: neither).

        Always a connection string: adlfs would otherwise fill unset credentials from
        AZURE_STORAGE_* variables of the machine, and a custom endpoint (Azurite) may be http.
        """
        given = secret_text(self.connection_string)
        key, sas = secret_text(self.account_key), secret_text(self.sas_token)
        if given or not (key or sas):
            return given
        endpoint = self.blob_endpoint or f"https://{self.account_name}.blob.core.windows.net"
        credential = f"AccountKey={key}" if key else f"SharedAccessSignature={(sas or '').lstrip('?')}"
        return f"AccountName={self.account_name};BlobEndpoint={endpoint};{credential};"

    def storage_options(self) -> dict[str, Any]:
        """adlfs options: a connection string; without credentials, the machine's Azure identity."""
        options: dict[str, Any] = {
            "connection_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": 60,
            "use_listings_cache": False,
            "skip_instance_cache": True,
        }
        if connection_string := self._connection_string():
            return {**options, "connection_string": connection_string}
        return {**options, "account_name": self.account_name}

    def endpoint(self) -> tuple[str, int] | None:
        """The blob endpoint, from the field or from the connection string."""
        found = re.search(r"BlobEndpoint=([^;]+)", secret_text(self.connection_string) or "")
        return _endpoint_of(self.blob_endpoint or (found.group(1) if found else None))


class GcsConfig(StorageConfig):
    """A Google Cloud Storage bucket, with a service account key or the machine's credentials."""

    protocol: ClassVar[str] = "gcs"
    schemes: ClassVar[tuple[str, ...]] = ("gs", "gcs")
    example: ClassVar[str] = "gs://bucket/prefix"
    in_bucket: ClassVar[bool] = True
    error_rules: ClassVar[tuple[ErrorRule, ...]] = (
        (
            ("~deserializ|key data|no key could be detected",),
            AuthenticationError,
            "service_account_json holds no usable private key.",
        ),
        (
            ("RefreshError", "TransportError", "DefaultCredentialsError"),
            AuthenticationError,
            "Could not get a Google access token for {where}: the service account key is wrong, "
            "disabled or deleted, or Google's token service is unreachable.",
        ),
        (("401", "403", "~^Forbidden"), AuthenticationError, "Google Cloud Storage refused {where}."),
        (("ClientConnectorError",), SourceUnreachableError, "Cannot reach the storage endpoint for {where}."),
    )

    url: str = Field(description="gs://bucket/prefix")
    service_account_json: SecretStr | None = Field(
        None, description="The service account's JSON key. Empty: the machine's Google credentials."
    )
    project: str | None = None
    endpoint_url: str | None = Field(None, description="Only for an emulator: http://host:port")

    @field_validator("service_account_json")
    @classmethod
    def _service_account(cls, value: SecretStr | None) -> SecretStr | None:
        text = secret_text(value)
        if text is None:
            return None
        try:
            key = json.loads(text)
        except ValueError:
            raise ValueError("is not JSON: paste the whole key file downloaded from the console") from None
        if not isinstance(key, dict) or "type" not in key:
            raise ValueError("is not a Google credentials file (it has no 'type')")
        if key["type"] == "service_account" and not {"client_email", "private_key"} <= key.keys():
            raise ValueError("is a service account key without client_email or private_key")
        return value

    def storage_options(self) -> dict[str, Any]:
        """gcsfs options; an emulator without a key is spoken to anonymously."""
        key = secret_text(self.service_account_json)
        options: dict[str, Any] = {
            "token": json.loads(key) if key else ("anon" if self.endpoint_url else None),
            "project": self.project,
            "endpoint_url": self.endpoint_url,
            "requests_timeout": 60,
            "use_listings_cache": False,
            "skip_instance_cache": True,
        }
        return {name: value for name, value in options.items() if value is not None}

    def verify_credentials(self) -> None:
        """Gets an access token for the service account: gcsfs would retry a refused key for 30 s."""
        key = secret_text(self.service_account_json)
        if key is None:
            return
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account

        info = json.loads(key)
        if info.get("type") == "service_account":
            credentials = service_account.Credentials.from_service_account_info(
                info, scopes=["https://www.googleapis.com/auth/devstorage.read_only"]
            )
            credentials.refresh(Request())

    def filesystem(self) -> tuple[AbstractFileSystem, str]:
        """gcsfs's JSON API filesystem.

        Not the default ``gcs`` class: since gcsfs 2026.10 that is the experimental
        one, which first asks a gRPC control API about each bucket, and waits 60 s
        where that API is not served (emulators, some networks).
        """
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(**self.storage_options()), self.root()

    def endpoint(self) -> tuple[str, int] | None:
        """The emulator's endpoint, when one is set."""
        return _endpoint_of(self.endpoint_url)


class SftpConfig(StorageConfig):
    """A folder on an SFTP server, with a password or a private key, and a host key policy."""

    protocol: ClassVar[str] = "sftp"
    schemes: ClassVar[tuple[str, ...]] = ("sftp", "ssh")
    example: ClassVar[str] = "sftp://host[:port]/path"
    error_rules: ClassVar[tuple[ErrorRule, ...]] = (
        (("HostKeyNotVerifiable",), AuthenticationError, "{host_key_problem}"),
        (("KeyImportError",), ConnectorError, "private_key cannot be read ({err}): is the passphrase right?"),
        (
            ("PermissionDenied",),
            AuthenticationError,
            "{host}:{port} refused the login of {user!r}: wrong password or key.",
        ),
        (
            ("ConnectionRefusedError", "gaierror", "TimeoutError", "ConnectionLost"),
            SourceUnreachableError,
            "Cannot reach the SFTP server {host}:{port}: {err}",
        ),
    )

    url: str = Field(description="sftp://host[:port]/path")
    username: str | None = Field(None, description="Or in the URL: sftp://user@host/path")
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(None, description="The private key's text (PEM or OpenSSH).")
    passphrase: SecretStr | None = Field(None, description="Only if the private key is encrypted.")
    host_key_policy: Literal["strict", "accept_new", "ignore"] = Field(
        "strict",
        description="strict: the server's key must be in known_hosts; accept_new: also accept a "
        "server known_hosts does not list; ignore: never check (unsafe).",
    )
    known_hosts: str | None = Field(
        None, description="The server's known_hosts line(s), e.g. from ssh-keyscan -p PORT HOST"
    )

    @model_validator(mode="after")
    def _login(self) -> SftpConfig:
        if not self.login():
            raise ValueError("username is required (or give it in the URL: sftp://user@host/path)")
        if self.host_key_policy == "strict" and not (self.known_hosts or "").strip():
            raise ValueError("known_hosts is required with host_key_policy strict (ssh-keyscan prints it)")
        return self

    def root(self) -> str:
        """The absolute path of the folder on the server."""
        return "/" + urlsplit(self.url).path.strip("/")

    def host(self) -> tuple[str, int]:
        """The server's host name and port."""
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or 22

    def login(self) -> str:
        """The user name: the field, else the URL's."""
        return self.username or unquote(urlsplit(self.url).username or "")

    def storage_options(self) -> dict[str, Any]:
        """sshfs/asyncssh options: only the given credentials; no agent, no ~/.ssh file is read."""
        import asyncssh

        key = secret_text(self.private_key)
        host, port = self.host()
        return {
            "host": host,
            "port": port,
            "username": self.login(),
            "password": secret_text(self.password),
            "client_keys": (
                [asyncssh.import_private_key(pem_text(key), secret_text(self.passphrase))] if key else None
            ),
            "agent_path": None,
            "config": None,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "skip_instance_cache": True,
            **self._host_key_options(),
        }

    def _host_key_options(self) -> dict[str, Any]:
        """asyncssh's ``known_hosts`` (and, for accept_new, a client accepting unlisted hosts)."""
        import asyncssh

        if self.host_key_policy == "ignore":
            return {"known_hosts": None}
        trusted = asyncssh.import_known_hosts(self.known_hosts or "")
        if self.host_key_policy == "strict":
            return {"known_hosts": trusted}
        listed = {"host": False}

        def lookup(host: str, addr: str, port: int | None) -> Any:
            found = trusted.match(host, addr, port)
            listed["host"] = any(found[index] for index in (0, 1, 3, 5))
            return found

        class AcceptNew(asyncssh.SSHClient):
            """Trusts the key of a server known_hosts does not list; a listed one must match."""

            def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
                return not listed["host"]

        return {"known_hosts": lookup, "client_factory": AcceptNew}

    def filesystem(self) -> tuple[AbstractFileSystem, str]:
        """An SFTP session over sshfs (asyncssh); it connects and logs in now."""
        from sshfs import SSHFileSystem

        options = self.storage_options()
        return SSHFileSystem(options.pop("host"), **options), self.root()

    def open_options(self, block_size: int) -> dict[str, Any]:
        """sshfs reads exactly the bytes asked for, pipelined: there is no block cache to size."""
        return {}

    def endpoint(self) -> tuple[str, int] | None:
        """The SSH server."""
        return self.host()

    def _listed(self) -> bool:
        """Whether known_hosts has an entry for the server."""
        import asyncssh

        host, port = self.host()
        found = asyncssh.import_known_hosts(self.known_hosts or "").match(host, host, port)
        return any(found[index] for index in (0, 1, 3, 5))

    def check_note(self, fs: AbstractFileSystem) -> str:
        """With accept_new, the line that pins the key of a server known_hosts did not list."""
        if self.host_key_policy != "accept_new" or self._listed():
            return ""
        key = fs.client.get_server_host_key()  # type: ignore[attr-defined]
        host, port = self.host()
        name = host if port == 22 else f"[{host}]:{port}"
        line = f"{name} {key.export_public_key('openssh').decode().strip()}"
        return f" Its host key was accepted as new: add this line to known_hosts to pin it: {line}"

    def _message_fields(self) -> dict[str, Any]:
        """The server, the login and what is wrong with its host key, for messages."""
        host, port = self.host()
        if self._listed():
            problem = (
                f"The host key of {host}:{port} does not match known_hosts: the server's key changed, "
                "or this is not the expected server. Ask its administrator before updating known_hosts."
            )
        else:
            problem = (
                f"{host}:{port} is not in known_hosts: add the line `ssh-keyscan -p {port} {host}` prints "
                "(check its fingerprint), or set host_key_policy to accept_new."
            )
        return {"host": host, "port": port, "user": self.login(), "host_key_problem": problem}
