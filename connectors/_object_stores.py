"""Object stores holding the files: Amazon S3, Azure Blob Storage and Google Cloud Storage settings."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from fsspec import AbstractFileSystem
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors._storages import CONNECT_TIMEOUT_S, ErrorRule, StorageConfig, secret_text
from connectors.base import (
    AuthenticationError,
    ConnectorError,
    SourceUnreachableError,
    StreamNotFoundError,
)


def _endpoint_of(url: str | None) -> tuple[str, int] | None:
    """Host and port of an http(s) URL, or None."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


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

        # A refused key fails here, in our words, rather than after gcsfs's retries, which
        # log the token service's answer with its traceback (it may quote the signed assertion).
        self.verify_credentials()
        return GCSFileSystem(**self.storage_options()), self.root()

    def endpoint(self) -> tuple[str, int] | None:
        """The emulator's endpoint, when one is set."""
        return _endpoint_of(self.endpoint_url)
