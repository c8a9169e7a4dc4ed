"""The storage-server fixtures themselves: each server takes a write and gives it back.

Also shows how a test module uses them: import the fixtures, ask for them by name.
(``import name as name`` marks the import as deliberate, so ruff flags neither
the import (F401) nor the test parameters of the same name (F811).)
The fsspec checks (s3fs, adlfs, gcsfs, sshfs) prove the servers work with the
backends the files connector reads them through.
"""

from __future__ import annotations

import asyncio
import urllib.error

import pytest

from tests import storage_servers
from tests.storage_servers import (
    AzuriteEndpoint,
    GCSEndpoint,
    S3Endpoint,
    SFTPEndpoint,
    make_bucket,
    make_container,
    make_gcs_bucket,
    require_package,
    require_tool,
    unique_name,
)
from tests.storage_servers import azurite_server as azurite_server  # the fixtures, used by name
from tests.storage_servers import gcs_server as gcs_server
from tests.storage_servers import s3_server as s3_server
from tests.storage_servers import sftp_server as sftp_server

FSSPEC_BACKEND = (
    "the files connector's fsspec backends are in requirements.txt: pip install -r requirements.txt"
)


def fsspec_round_trip(url: str, storage_options: dict, data: bytes = b"id,email\n1,a@example.com\n") -> None:
    """Writes ``data`` at ``url`` through fsspec, then lists the folder and reads it back."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url, **storage_options)
    with fs.open(path, "wb") as handle:
        handle.write(data)
    fs.invalidate_cache()
    folder = path.rsplit("/", 1)[0]
    assert [name.rsplit("/", 1)[-1] for name in fs.ls(folder, detail=False)] == [path.rsplit("/", 1)[-1]]
    assert fs.cat_file(path) == data
    assert fs.info(path)["size"] == len(data)


# --------------------------------------------------------------------------- missing tools


def test_a_missing_tool_skips_on_a_bare_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIBUTARY_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-here not found on PATH: install it"):
        require_tool("no-such-tool-here", "install it")
    with pytest.raises(pytest.skip.Exception, match="no_such_package"):
        require_package("no_such_package", "pip install it")


def test_a_missing_tool_fails_when_ci_requires_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIBUTARY_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="TRIBUTARY_REQUIRE_SERVICES=1 requires it"):
        require_tool("no-such-tool-here", "install it")
    with pytest.raises(pytest.fail.Exception, match="TRIBUTARY_REQUIRE_SERVICES=1 requires it"):
        require_package("no_such_package", "pip install it")


def test_a_present_tool_is_found() -> None:
    assert require_tool("sh", "POSIX shell").endswith("/sh")


def test_azurite_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("TRIBUTARY_REQUIRE_SERVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TRIBUTARY_TEST_CACHE", str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match=r"\.ci/storage-servers\.sh.*npm install -g azurite"):
        storage_servers.azurite_command()


# --------------------------------------------------------------------------- S3


def test_s3_round_trip_with_boto3(s3_server: S3Endpoint) -> None:
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
    assert s3_server.region == "us-east-1"
    bucket = make_bucket(s3_server, unique_name("raw"))
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="exports/customers.csv", Body=b"id\n1\n")
    assert client.get_object(Bucket=bucket, Key="exports/customers.csv")["Body"].read() == b"id\n1\n"
    listed = client.list_objects_v2(Bucket=bucket, Prefix="exports/")["Contents"]
    assert [item["Key"] for item in listed] == ["exports/customers.csv"]


def test_s3_make_bucket_twice(s3_server: S3Endpoint) -> None:
    bucket = make_bucket(s3_server, unique_name())
    assert make_bucket(s3_server, bucket, exist_ok=True) == bucket
    with pytest.raises(FileExistsError):
        make_bucket(s3_server, bucket)


def test_s3_through_s3fs(s3_server: S3Endpoint) -> None:
    require_package("s3fs", FSSPEC_BACKEND)
    bucket = make_bucket(s3_server, unique_name())
    fsspec_round_trip(s3_server.url(f"{bucket}/exports/customers.csv"), s3_server.storage_options)


def test_one_server_per_session(s3_server: S3Endpoint, request: pytest.FixtureRequest) -> None:
    """Another module importing the fixture gets the same server, not a second one."""

    def start_another():
        raise AssertionError("a second S3 server was started")

    assert storage_servers._session_server("s3", request.config, start_another) is s3_server


# --------------------------------------------------------------------------- Azure Blob


def test_azurite_round_trip_with_sdk(azurite_server: AzuriteEndpoint) -> None:
    assert azurite_server.account_name == "devstoreaccount1"
    assert f"BlobEndpoint={azurite_server.blob_endpoint};" in azurite_server.connection_string
    assert azurite_server.blob_endpoint.startswith("http://127.0.0.1:")
    container = make_container(azurite_server, unique_name("raw"))
    client = azurite_server.service_client().get_container_client(container)
    client.upload_blob("exports/customers.csv", b"id\n1\n")
    assert client.download_blob("exports/customers.csv").readall() == b"id\n1\n"
    assert [blob.name for blob in client.list_blobs()] == ["exports/customers.csv"]


def test_azurite_checks_the_account_key(azurite_server: AzuriteEndpoint) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    container = make_container(azurite_server, unique_name())
    assert make_container(azurite_server, container, exist_ok=True) == container
    with pytest.raises(ResourceExistsError):
        make_container(azurite_server, container)
    wrong = AzuriteEndpoint(blob_endpoint=azurite_server.blob_endpoint, account_key="d3Jvbmcta2V5")
    with pytest.raises(HttpResponseError, match="AuthorizationFailure") as failure:
        wrong.service_client().get_container_client(container).upload_blob("x.csv", b"x")
    assert failure.value.status_code == 403


def test_azurite_through_adlfs(azurite_server: AzuriteEndpoint) -> None:
    require_package("adlfs", FSSPEC_BACKEND)
    container = make_container(azurite_server, unique_name())
    fsspec_round_trip(
        azurite_server.url(f"{container}/exports/customers.csv"), azurite_server.storage_options
    )


# --------------------------------------------------------------------------- GCS


def test_gcs_round_trip_with_json_api(gcs_server: GCSEndpoint) -> None:
    assert gcs_server.endpoint_url.startswith("http://127.0.0.1:")
    assert gcs_server.project == "test-project"
    bucket = make_gcs_bucket(gcs_server, unique_name("raw"))
    gcs_server.put_object(bucket, "exports/customers.csv", b"id\n1\n")
    assert gcs_server.get_object(bucket, "exports/customers.csv") == b"id\n1\n"


def test_gcs_make_bucket_twice(gcs_server: GCSEndpoint) -> None:
    bucket = make_gcs_bucket(gcs_server, unique_name())
    assert make_gcs_bucket(gcs_server, bucket, exist_ok=True) == bucket
    with pytest.raises(urllib.error.HTTPError, match="409"):
        make_gcs_bucket(gcs_server, bucket)


def test_gcs_through_gcsfs(gcs_server: GCSEndpoint) -> None:
    require_package("gcsfs", FSSPEC_BACKEND)
    bucket = make_gcs_bucket(gcs_server, unique_name())
    fsspec_round_trip(gcs_server.url(f"{bucket}/exports/customers.csv"), gcs_server.storage_options)


# --------------------------------------------------------------------------- SFTP


def sftp_session(server: SFTPEndpoint, action, **login):
    """Logs in to ``server`` with asyncssh (host key checked) and runs ``await action(sftp)``."""
    import asyncssh

    async def run():
        options = {"known_hosts": asyncssh.import_known_hosts(server.known_hosts_line)} | login
        async with (
            asyncssh.connect(server.host, server.port, username=server.username, **options) as conn,
            conn.start_sftp_client() as sftp,
        ):
            return await action(sftp)

    return asyncio.run(run())


def test_sftp_password_login_reads_and_writes_the_root(sftp_server: SFTPEndpoint) -> None:
    assert sftp_server.host == "127.0.0.1"
    assert sftp_server.known_hosts_line.startswith(f"[127.0.0.1]:{sftp_server.port} ssh-ed25519 ")
    folder = sftp_server.root / unique_name("in")
    folder.mkdir()
    (folder / "seeded.csv").write_bytes(b"id\n1\n")

    async def action(sftp):
        async with sftp.open(f"/{folder.name}/written.csv", "wb") as handle:
            await handle.write(b"id\n2\n")
        async with sftp.open(f"/{folder.name}/seeded.csv", "rb") as handle:
            seeded = await handle.read()
        return seeded, sorted(await sftp.listdir(f"/{folder.name}"))

    seeded, names = sftp_session(sftp_server, action, password=sftp_server.password)
    assert seeded == b"id\n1\n"
    assert [name for name in names if not name.startswith(".")] == ["seeded.csv", "written.csv"]
    assert (folder / "written.csv").read_bytes() == b"id\n2\n"


def test_sftp_root_is_a_chroot(sftp_server: SFTPEndpoint) -> None:
    marker = unique_name("marker")
    (sftp_server.root / marker).write_text("x")

    async def action(sftp):
        return await sftp.realpath("/../.."), await sftp.listdir("/../..")

    top, names = sftp_session(sftp_server, action, password=sftp_server.password)
    assert top == "/"
    assert marker in names


def test_sftp_key_login(sftp_server: SFTPEndpoint) -> None:
    import asyncssh

    assert sftp_server.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert sftp_server.private_key_path.read_text() == sftp_server.private_key

    async def action(sftp):
        return await sftp.exists("/")

    plain = asyncssh.import_private_key(sftp_server.private_key)
    assert sftp_session(sftp_server, action, client_keys=[plain], password=None)
    encrypted = asyncssh.import_private_key(
        sftp_server.private_key_encrypted, sftp_server.private_key_passphrase
    )
    assert sftp_session(sftp_server, action, client_keys=[encrypted], password=None)
    assert sftp_session(sftp_server, action, client_keys=[str(sftp_server.private_key_path)])
    with pytest.raises(asyncssh.KeyImportError):
        asyncssh.import_private_key(sftp_server.private_key_encrypted, "wrong passphrase")


def test_sftp_rejects_a_bad_password_and_a_stranger_key(sftp_server: SFTPEndpoint) -> None:
    import asyncssh

    async def action(sftp):
        raise AssertionError("logged in")

    with pytest.raises(asyncssh.PermissionDenied):
        sftp_session(sftp_server, action, password="not-" + sftp_server.password, client_keys=None)
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        sftp_session(sftp_server, action, client_keys=[stranger], password=None)


def test_sftp_host_key_is_checked(sftp_server: SFTPEndpoint) -> None:
    import asyncssh

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    wrong_line = f"[127.0.0.1]:{sftp_server.port} {other[0]} {other[1]}"

    async def action(sftp):
        raise AssertionError("connected to an unverified host")

    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        sftp_session(
            sftp_server,
            action,
            password=sftp_server.password,
            known_hosts=asyncssh.import_known_hosts(wrong_line),
        )


def test_sftp_through_sshfs(sftp_server: SFTPEndpoint) -> None:
    require_package("sshfs", FSSPEC_BACKEND)
    folder = unique_name("in")
    (sftp_server.root / folder).mkdir()
    fsspec_round_trip(sftp_server.url(f"{folder}/customers.csv"), sftp_server.storage_options)
    assert (sftp_server.root / folder / "customers.csv").exists()


def test_sftp_refuses_commands(sftp_server: SFTPEndpoint) -> None:
    import asyncssh

    async def run():
        async with asyncssh.connect(
            sftp_server.host,
            sftp_server.port,
            username=sftp_server.username,
            password=sftp_server.password,
            known_hosts=asyncssh.import_known_hosts(sftp_server.known_hosts_line),
        ) as conn:
            return await conn.run("id", check=False)

    with pytest.raises(asyncssh.ChannelOpenError):
        asyncio.run(run())
