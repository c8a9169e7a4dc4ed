"""Where files live: the settings every storage shares, and the local folder's.

Each storage has one settings model, which builds its fsspec filesystem: local
folders here (``FilesConfig``), object stores in :mod:`connectors._object_stores`
(S3, Azure Blob, GCS) and SFTP in :mod:`connectors._sftp`. Each model is the
form the dashboard shows for its storage: a folder URL and typed credentials.
Secrets are ``SecretStr`` (the vault encrypts them; repr and validation errors
never show them); the fsspec storage options are built from the typed fields,
so no free-form dict of options ever reaches plain JSON. Each model also
explains its storage's exceptions (``explain``) in words a person can act on,
and lists its secrets so that messages can be scrubbed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import fsspec
from fsspec import AbstractFileSystem
from fsspec.core import split_protocol, url_to_fs
from fsspec.implementations.local import LocalFileSystem
from pydantic import ConfigDict, Field, SecretStr, field_validator

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

_OPTIONAL_TEXT = ("region", "endpoint_url", "account_name", "blob_endpoint", "project", "username")


def secret_text(value: SecretStr | None) -> str | None:
    """The secret's text, or None when it is unset or blank."""
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


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


def generic_error(exc: BaseException, where: str) -> ConnectorError:
    """The connector error for an exception no storage explained."""
    if isinstance(exc, ImportError):
        return ConnectorError(f"{where}: the package for this storage is not installed ({exc}).")
    if isinstance(exc, PermissionError):
        return AuthenticationError(f"Permission denied on {where}: {exc}")
    if isinstance(exc, FileNotFoundError):
        return StreamNotFoundError(f"{where} does not exist (or these credentials cannot see it).")
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "FSTimeoutError":
        return SourceUnreachableError(f"{where} did not answer in time.")
    if isinstance(exc, OSError):
        return SourceUnreachableError(f"Could not reach {where}: {exc}")
    return ConnectorError(f"{where}: {type(exc).__name__}: {exc}")


def scrub(text: str, secrets: set[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first, so no piece survives)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


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
        """The local filesystem and the folder's path on it (a path, or a ``file://`` URL).

        Other fsspec URLs (``http://``, ``memory://``...) are refused: an HTTP "folder" would
        reach whatever the server can, outside the network policy of HTTP sources.
        """
        url = self.url if "://" in self.url else os.path.expanduser(self.url)
        try:
            # The class first: building a remote filesystem (FTP...) would already connect.
            protocol = split_protocol(url)[0]
            local = "::" not in url and issubclass(fsspec.get_filesystem_class(protocol), LocalFileSystem)
            if not local:
                raise ConnectorError(
                    f"{self.display_url()} is not a folder on this machine: the local files connector "
                    "reads a path (./exports, /data/crm) or a file:// URL; other storages have their own "
                    "connector."
                )
            fs, root = url_to_fs(url)
        except (ValueError, ImportError) as exc:  # unknown protocol, bad URL
            raise ConnectorError(f"{self.display_url()} is not a usable folder URL: {exc}") from exc
        return fs, root.rstrip("/") or "/"

    def open_options(self, block_size: int) -> dict[str, Any]:
        """Local reads need no block cache of fsspec's: the OS caches."""
        return {}
