"""The sources the stories connect: a scratch PostgreSQL schema and a bucket on moto's S3 server."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.services import POSTGRES, require_service
from tests.storage_servers import s3_server as s3_server
from tests.storage_servers.s3 import S3Endpoint, make_bucket

#: The customers table of the scratch schema; Tara is also in the demo's CRM contacts.
CUSTOMERS = [
    (1, "tara.1@example.com", "Tara", "2026-11-01 10:00:00"),
    (5001, "noah.5001@example.net", "Noah", "2026-11-02 11:00:00"),
    (5002, "lea.5002@example.net", "Léa", "2026-11-03 12:00:00"),
]
#: Newsletter sign-ups on S3: one row's points were typed with a thousands separator.
SIGNUPS = (
    "signup_id,email,first_name,points\n"
    "s1,ann.s1@example.org,Ann,120\n"
    "s2,bob.s2@example.org,Bob,1 200\n"
    "s3,cem.s3@example.org,Cem,80\n"
)


@dataclass(frozen=True)
class Postgres:
    """A scratch schema in PostgreSQL's ``test`` database (trust authentication on loopback)."""

    host: str
    port: int
    database: str
    username: str
    schema: str


@dataclass(frozen=True)
class Bucket:
    """A bucket on moto's S3 server, and the IAM key the dashboard signs in with."""

    server: S3Endpoint
    name: str
    key: str
    secret: str


@pytest.fixture(scope="session")
def postgres_source() -> Iterator[Postgres]:
    """A fresh schema with a small ``customers`` table, dropped after the session."""
    require_service(*POSTGRES)
    import psycopg

    _, host, port = POSTGRES
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    dsn = f"host={host} port={port} user=postgres dbname=test"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        connection.execute(
            f'CREATE TABLE "{schema}".customers (customer_id integer PRIMARY KEY, email text, '
            "first_name text, updated_at timestamp)"
        )
        with connection.cursor() as cursor:
            cursor.executemany(f'INSERT INTO "{schema}".customers VALUES (%s, %s, %s, %s)', CUSTOMERS)
    try:
        yield Postgres(host, port, "test", "postgres", schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def s3_source(s3_server: S3Endpoint) -> Bucket:
    """A bucket with ``signups/*.csv``, and an IAM user's key (moto checks it while ``moto_checks_keys``)."""
    name = make_bucket(s3_server, f"e2e-{uuid.uuid4().hex[:10]}")
    client = s3_server.client()
    client.put_object(Bucket=name, Key="signups/2026-11.csv", Body=SIGNUPS.encode())
    client.put_object(Bucket=name, Key="signups/README.txt", Body=b"newsletter sign-ups, monthly")
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.key,
        aws_secret_access_key=s3_server.secret,
        region_name=s3_server.region,
    )
    user = f"e2e-reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Bucket(s3_server, name, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture
def moto_checks_keys(s3_source: Bucket) -> Iterator[None]:
    """Makes moto refuse wrong keys during one story (by default it accepts any)."""
    _moto_auth(s3_source.server.endpoint_url, "0")
    try:
        yield
    finally:
        _moto_auth(s3_source.server.endpoint_url, "inf")


def _moto_auth(endpoint: str, after: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).close()
