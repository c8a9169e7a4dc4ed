"""A folder on any storage the files connector reads, picked by the URL's scheme.

A connector whose files may sit on any storage (an Adobe data feed lands on
S3, Azure, GCS or SFTP, at the customer's choice) takes :class:`AnyStorageConfig`:
one URL and every storage's credential fields, each declared from the
storage's own settings model (so descriptions and types never drift apart),
at the top level so the vault stores the secrets apart. ``storage()`` then
builds the settings model of the URL's storage, which validates it and builds
its filesystem exactly as the files connector does, and :func:`files_connector`
gives the files connector for it, whose listing and error wording are reused.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo

from connectors._object_stores import AzureBlobConfig, GcsConfig, S3Config
from connectors._sftp import SftpConfig
from connectors._storages import FilesConfig, StorageConfig
from connectors.base import ConnectorConfig
from connectors.files import AzureBlobConnector, FilesConnector, GcsConnector, S3Connector, SftpConnector

#: The files connector of each storage; a URL without a scheme of theirs is a local folder.
_CONNECTORS: tuple[type[FilesConnector], ...] = (S3Connector, AzureBlobConnector, GcsConnector, SftpConnector)
_TITLES: dict[type[StorageConfig], str] = {
    S3Config: "S3",
    AzureBlobConfig: "Azure",
    GcsConfig: "GCS",
    SftpConfig: "SFTP",
}


def _from(model: type[StorageConfig], name: str, description: str | None = None) -> Any:
    """A field declared as ``model`` declares it, titled with the storage it is for."""
    source: FieldInfo = model.model_fields[name]
    title = f"{_TITLES[model]}: {name.replace('_', ' ')}"
    return Field(source.default, title=title, description=description or source.description)


def storage_class(url: str) -> type[StorageConfig]:
    """The settings model of the storage a URL names (local folders for any other URL)."""
    scheme = url.strip().partition("://")[0].lower() if "://" in url else ""
    for connector in _CONNECTORS:
        model = connector.config_model
        assert issubclass(model, StorageConfig)
        if scheme in model.schemes:
            return model
    return FilesConfig


def files_connector(storage: StorageConfig) -> FilesConnector:
    """The files connector for these storage settings."""
    for connector in _CONNECTORS:
        if type(storage) is connector.config_model:
            return connector(storage)
    return FilesConnector(storage)


class AnyStorageConfig(ConnectorConfig):
    """A folder URL on any storage, with the credential fields of every storage (only the URL's apply)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    #: The URL schemes, for messages.
    example: ClassVar[str] = (
        "./feeds, s3://bucket/prefix, az://container/prefix, gs://bucket/prefix or sftp://host/path"
    )

    url: str = Field(description=f"The folder: {example}.")
    # Amazon S3 (and S3-compatible stores)
    access_key_id: str | None = _from(S3Config, "access_key_id")
    secret_access_key: SecretStr | None = _from(S3Config, "secret_access_key")
    session_token: SecretStr | None = _from(S3Config, "session_token")
    region: str | None = _from(S3Config, "region")
    endpoint_url: str | None = _from(
        S3Config, "endpoint_url", "Only for an S3-compatible store or a GCS emulator: http(s)://host:port"
    )
    # Azure Blob Storage
    account_name: str | None = _from(AzureBlobConfig, "account_name")
    account_key: SecretStr | None = _from(AzureBlobConfig, "account_key")
    sas_token: SecretStr | None = _from(AzureBlobConfig, "sas_token")
    connection_string: SecretStr | None = _from(AzureBlobConfig, "connection_string")
    blob_endpoint: str | None = _from(AzureBlobConfig, "blob_endpoint")
    # Google Cloud Storage
    service_account_json: SecretStr | None = _from(GcsConfig, "service_account_json")
    project: str | None = _from(GcsConfig, "project")
    # SFTP
    username: str | None = _from(SftpConfig, "username")
    password: SecretStr | None = _from(SftpConfig, "password")
    private_key: SecretStr | None = _from(SftpConfig, "private_key")
    passphrase: SecretStr | None = _from(SftpConfig, "passphrase")
    host_key_policy: Literal["strict", "accept_new", "ignore"] = _from(SftpConfig, "host_key_policy")
    known_hosts: str | None = _from(SftpConfig, "known_hosts")

    @model_validator(mode="after")
    def _valid_storage(self) -> AnyStorageConfig:
        self.storage()
        return self

    def storage(self) -> StorageConfig:
        """The settings of the URL's storage, validated; a credential of another storage is refused."""
        model = storage_class(self.url)
        own = set(model.model_fields)
        foreign = sorted(
            name
            for name in AnyStorageConfig.model_fields
            if name not in own and getattr(self, name) != AnyStorageConfig.model_fields[name].default
        )
        if foreign:
            raise ValueError(
                f"{', '.join(foreign)} do(es) not apply to this URL's storage "
                f"({model.example}); leave them empty"
            )
        values = {name: getattr(self, name) for name in own if name in AnyStorageConfig.model_fields}
        try:
            return model.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
            )
            raise ValueError(problems) from None
