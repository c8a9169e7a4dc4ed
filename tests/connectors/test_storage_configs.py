"""The storages' settings models, without any server: registry names, secret fields, options, validation."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

import connectors
from connectors._object_stores import AzureBlobConfig, GcsConfig, S3Config
from connectors._sftp import SftpConfig, pem_text
from connectors.files import FilesConnector
from core.services import secret_fields


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
    from connectors._storages import scrub

    config = AzureBlobConfig.model_validate(
        {
            "url": "az://box",
            "connection_string": "AccountName=a;AccountKey=c2VjcmV0LWtleS12YWx1ZQ==;BlobEndpoint=http://h/a;",
        }
    )
    text = "failed: AccountKey=c2VjcmV0LWtleS12YWx1ZQ== and c2VjcmV0LWtleS12YWx1ZQ== again"
    assert "c2VjcmV0LWtleS12YWx1ZQ" not in scrub(text, config.secrets())
