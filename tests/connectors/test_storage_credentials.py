"""``check()`` on each storage server: good credentials pass, bad ones say what failed, never a secret.

Runs through the ``Site`` of each storage (:mod:`tests.connectors.storage_sites`);
a Google token endpoint on 127.0.0.1 (:class:`TokenServer`) stands in for
Google's, and on S3 moto checks credentials for real (``s3_auth``).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connectors.files import GcsConnector
from core.services import secret_fields
from tests.connectors.storage_sites import Site
from tests.connectors.storage_sites import folder as folder  # the fixtures, used by name
from tests.connectors.storage_sites import site as site
from tests.storage_servers import azurite_server as azurite_server  # the servers site starts, by name
from tests.storage_servers import gcs_server as gcs_server
from tests.storage_servers import s3_server as s3_server
from tests.storage_servers import sftp_server as sftp_server
from tests.storage_servers import unique_name


def secrets_of(config: dict[str, Any], model: type) -> list[str]:
    """The values of a config's secret fields (the strings that must never be shown)."""
    return [str(config[name]) for name in secret_fields(model) if config.get(name)]


def assert_secret_free(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a secret leaked into a message"
        for piece in (p for p in secret.replace("\n", " ").split() if len(p) >= 16):
            assert piece not in text, "part of a secret leaked into a message"


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
