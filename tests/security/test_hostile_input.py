"""Hostile input, table by table: each case is refused with a message saying what to fix, or read exactly.

- SQL: hostile stream, table, column, cursor and key names through every path
  of the database connectors (SQLite, and the real PostgreSQL and MariaDB
  servers: their fixtures skip on a bare machine and fail in CI), and through
  the dataset tables of the store (SQLite and PostgreSQL, with its COPY).
- Paths: streams and partitions leaving their folder (locally and on the S3
  emulator), links out of the folder, URLs of other storages, zip-slip archives.
- Outbound HTTP (SSRF): loopback, link-local, private, unspecified and
  multicast destinations in every spelling, redirects, next-page links to
  other hosts, DNS answers that change; the admin's allowed networks.
- YAML alias bombs and oversize uploads.

After each refusal the process goes on: the next case runs in it, and the
data a hostile name aimed at is still there.
"""

from __future__ import annotations

import ast
import io
import socket
import tarfile
import threading
import time
import tomllib
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select

from connectors._datafeed_delivery import iter_members
from connectors.base import (
    ConnectorError,
    CursorRequest,
    DestinationNotAllowedError,
    FormatError,
    Partition,
    StreamNotFoundError,
)
from connectors.files import FilesConnector, S3Connector
from connectors.network import ALLOWED_NETWORKS_VARIABLE, NetworkPolicy, denied_hop
from connectors.rest import RestConnector
from connectors.sql import SqlConnector
from core import config
from core.alerts import AlertCenter
from core.errors import ConfigurationError, PermissionDeniedError
from core.safe_yaml import MAX_YAML_ALIASES, MAX_YAML_BYTES, load_yaml
from core.security import Actor
from core.store import datasets
from core.store import tables as t
from core.studio import MAX_MAPPING_FILE_BYTES, Studio
from tests.connectors.conftest import Scratch
from tests.connectors.conftest import mariadb as mariadb
from tests.connectors.conftest import postgres as postgres
from tests.connectors.conftest import sqlite as sqlite
from tests.http_servers import FakeApi, Recorded, Reply
from tests.http_servers import fake_api as fake_api
from tests.storage_servers import make_bucket, unique_name
from tests.storage_servers import s3_server as s3_server

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ["sqlite", "postgres", "mariadb"]


def fullwidth(text: str) -> str:
    """``text`` in Unicode's full-width look-alikes of ASCII letters (a spoofed name)."""
    return "".join(chr(ord(ch) + 0xFEE0) for ch in text)


#: "people" spelt with Cyrillic letters for its p, e, o and p: looks the same, is another name.
CYRILLIC_PEOPLE = "\u0440\u0435\u043e\u0440le"


# == SQL identifiers ========================================================================================
#: Names of tables and columns that exist in the source: read exactly, never spliced into SQL.
HOSTILE_NAMES = [
    pytest.param('we"ird', id="double-quote"),
    pytest.param("it's", id="single-quote"),
    pytest.param("x; DROP TABLE people; --", id="semicolon-drop"),
    pytest.param("a -- b /* c */", id="comments"),
    pytest.param("100%s %(x)s", id="percent-placeholders"),
    pytest.param(":name ? $1", id="bind-markers"),
    pytest.param("back`tick", id="backtick"),
    pytest.param("[bracket]", id="brackets"),
    pytest.param("select", id="reserved-word"),
    pytest.param("Mixed Case", id="mixed-case"),
    pytest.param(fullwidth("people"), id="fullwidth-look-alike"),
    pytest.param("n" * 58, id="very-long"),  # with "_at", 61: within PostgreSQL's 63 and MariaDB's 64
]
#: Stream names that do not exist: refused by reflection, the real table untouched.
MISSING_STREAMS = [
    pytest.param("people; DROP TABLE people; --", id="semicolon-drop"),
    pytest.param('people" --', id="quote-comment"),
    pytest.param("people' OR '1'='1", id="or-true"),
    pytest.param(CYRILLIC_PEOPLE, id="cyrillic-look-alike"),
    pytest.param("p" * 300, id="very-long"),
    pytest.param("select", id="reserved-word"),
    pytest.param("%s%(x)s:x", id="placeholders"),
    pytest.param("`people`", id="backticks"),
]
#: Cursor or key columns that do not exist: refused against the reflected (or probed) columns.
MISSING_COLUMNS = [
    pytest.param("updated_at; DROP TABLE people; --", id="semicolon-drop"),
    pytest.param('id" --', id="quote-comment"),
    pytest.param(fullwidth("id"), id="fullwidth-look-alike"),
    pytest.param("c" * 300, id="very-long"),
    pytest.param("select", id="reserved-word"),
]


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest) -> Scratch:
    """A scratch database on each engine (the server ones skip on a bare machine, fail in CI)."""
    return request.getfixturevalue(request.param)


def _create(scratch: Scratch, name: str, rows: int = 3) -> Table:
    """A table ``name`` with a key column ``name``, a cursor column ``name_at`` and a note."""
    table = Table(
        name,
        MetaData(),
        Column(name, Integer, primary_key=True, autoincrement=False),
        Column(f"{name}_at", Integer),
        Column("note", Text),
        schema=scratch.schema or None,
    )
    table.create(scratch.engine)
    with scratch.engine.begin() as connection:
        connection.execute(
            insert(table), [{name: i, f"{name}_at": i * 10, "note": f"n{i}"} for i in range(rows)]
        )
    return table


def _quoted(scratch: Scratch, table: Table) -> str:
    """The table's name as a user writes it in a custom query (the engine's quotes, no driver escapes)."""
    quote = "`" if scratch.engine.dialect.name == "mysql" else '"'

    def one(name: str) -> str:
        return quote + name.replace(quote, quote * 2) + quote

    return f"{one(table.schema)}.{one(table.name)}" if table.schema else one(table.name)


def _rows(chunks: Iterator[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(list(chunks), ignore_index=True)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_table_and_column_names_are_read_exactly(database: Scratch, name: str) -> None:
    table = _create(database, name)
    connector, stream = database.connector(), database.stream(name)

    (info,) = [s for s in connector.discover() if s.name == stream]
    assert [f.name for f in info.fields] == [name, f"{name}_at", "note"]
    assert info.primary_key_candidates == (name,)
    assert connector.sample(stream, 2)[name].tolist() == [0, 1]
    assert _rows(connector.read(stream))["note"].tolist() == ["n0", "n1", "n2"]

    cursor = CursorRequest(f"{name}_at", 10, (name,))
    incremental = _rows(connector.read(stream, cursor=cursor))
    assert incremental[name].tolist() == [1, 2]

    query = {"query": f"SELECT * FROM {_quoted(database, table)}"}
    assert _rows(connector.read(stream, options=query, cursor=cursor))[name].tolist() == [1, 2]


@pytest.mark.parametrize("stream", MISSING_STREAMS)
def test_hostile_stream_names_find_no_table_and_touch_nothing(database: Scratch, stream: str) -> None:
    _create(database, "people")
    connector = database.connector()
    with pytest.raises(StreamNotFoundError, match="No table or view"):
        connector.sample(database.stream(stream))
    with pytest.raises(StreamNotFoundError):
        list(connector.read(stream))
    assert len(_rows(connector.read(database.stream("people")))) == 3  # still there, whole


@pytest.mark.parametrize("column", MISSING_COLUMNS)
@pytest.mark.parametrize("role", ["cursor", "key"])
def test_hostile_cursor_and_key_names_are_checked_against_the_columns(
    database: Scratch, column: str, role: str
) -> None:
    table = _create(database, "people")
    connector, stream = database.connector(), database.stream("people")
    cursor = (
        CursorRequest(column, 0, ("people",))
        if role == "cursor"
        else CursorRequest("people_at", 0, (column,))
    )
    with pytest.raises(ConnectorError, match="has no column") as caught:
        list(connector.read(stream, cursor=cursor))
    assert "its columns: 'people', 'people_at', 'note'" in caught.value.user_message
    query = {"query": f"SELECT * FROM {_quoted(database, table)}"}
    with pytest.raises(ConnectorError, match=r"The query of stream .* has no column"):
        list(connector.read(stream, options=query, cursor=cursor))
    assert len(_rows(connector.read(stream))) == 3


def test_a_mariadb_column_reflection_cannot_read_is_an_error_not_a_dropped_column(mariadb: Scratch) -> None:
    _create(mariadb, "line\nbreak")
    with pytest.raises(ConnectorError, match="cannot be read back from the catalog") as caught:
        mariadb.connector().sample(mariadb.stream("line\nbreak"))
    assert "rename that column" in caught.value.user_message


def test_only_one_select_runs_as_a_custom_query(database: Scratch) -> None:
    table = _create(database, "people")
    connector: SqlConnector = database.connector()
    hostile = f"SELECT * FROM {_quoted(database, table)}; DROP TABLE {_quoted(database, table)}"
    with pytest.raises(ConnectorError, match="holds more than one statement"):
        connector.sample("people", options={"query": hostile})
    assert len(_rows(connector.read(database.stream("people")))) == 3


# -- the store's dataset tables -----------------------------------------------------------------------------
def _dataflow_yaml(folder: Path, names: list[str], attributes: dict[str, str]) -> str:
    mapping = dict.fromkeys(attributes, "id")
    flows = {
        name: {
            "source": {"connection": "files", "stream": "people.csv"},
            "sync": {"primary_key": ["id"]},
            "mapping": {"crmId": "id", **mapping},
        }
        for name in names
    }
    spec = {
        "attributes": attributes,
        "connections": {"files": {"connector": "files", "config": {"url": str(folder)}}},
        "dataflows": flows,
    }
    return yaml.safe_dump(spec)


def test_reserved_words_name_dataset_columns_and_long_or_clashing_dataflow_names_get_their_own_tables(
    any_workspace: Any, tmp_path: Path
) -> None:
    (tmp_path / "people.csv").write_text("id\n1\n2\n")
    attributes = {"select": "string", "order.group": "string", "user": "string", "Table.From": "string"}
    names = ["Crm", "crm", "c" * 99 + "x", "c" * 99 + "y"]
    path = tmp_path / "flows.yml"
    path.write_text(_dataflow_yaml(tmp_path, names, attributes))
    config.apply(any_workspace, path)
    for name in names:
        summary = any_workspace.run(name)
        assert (summary.status, summary.ingested) == ("succeeded", 2), summary.error_message
        records = any_workspace.records(name)
        assert records["select"].tolist() == ["1", "2"] and records["Table.From"].tolist() == ["1", "2"]
    with any_workspace.engine.connect() as connection:
        tables = connection.execute(select(t.datasets.c.table_name)).scalars().all()
    limit = any_workspace.engine.dialect.max_identifier_length
    assert len(set(tables)) == 4 and all(len(name) <= limit for name in tables)


@pytest.mark.parametrize(
    ("column", "complaint"),
    [
        pytest.param('a"; DROP TABLE datasets; --', "cannot name a dataset column", id="quote-drop"),
        pytest.param("per%cent", "cannot name a dataset column", id="percent"),
        pytest.param("co:lon", "cannot name a dataset column", id="colon"),
        pytest.param(fullwidth("person"), "cannot name a dataset column", id="fullwidth"),
        pytest.param("new\nline", "cannot name a dataset column", id="newline"),
        pytest.param("_source_key", "every dataset keeps for itself", id="lineage-key"),
        pytest.param("_run_id", "every dataset keeps for itself", id="lineage-run"),
        pytest.param("a" * 300, "use a shorter attribute path", id="very-long"),
    ],
)
def test_hostile_dataset_column_names_are_refused(any_workspace: Any, column: str, complaint: str) -> None:
    with any_workspace.engine.begin() as connection, pytest.raises(ConfigurationError, match=complaint):
        datasets.ensure_dataset(connection, 1, "people", {column: "string"})
    with any_workspace.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(t.datasets)).scalar() == 0


@pytest.mark.parametrize("name", ["crm\n", "crm;drop", "crm'", fullwidth("crm"), "c" * 101, "../crm", ""])
def test_hostile_connection_and_dataflow_names_are_refused(workspace: Any, tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match="must start with a letter"):
        workspace.save_connection(name, "files", {"url": str(tmp_path)})
    path = tmp_path / "flows.yml"
    path.write_text(yaml.safe_dump({"connections": {name: {"connector": "files", "config": {"url": "."}}}}))
    with pytest.raises(ConfigurationError, match="must start with a letter"):
        config.apply(workspace, path)


# == File paths ============================================================================================
#: What the message says is wrong: the stream patterns (or object names) that are so.
_PATTERNS_BY_REASON = {
    "goes up with '..'": ["../secret.csv", "in/../../secret.csv", "..\\secret.csv"],
    "is an absolute path": ["/etc/passwd", "C:\\secret.csv"],
    "starts with ~": ["~/secret.csv", "~root/.ssh/id_rsa"],
    "URL scheme": ["file:///etc/passwd", "s3://other-bucket/secret.csv", "http://169.254.169.254/latest"],
    "control character": ["secret\x00.csv", "a\nb.csv"],  # NUL, a line break
    "must be a file name or glob pattern": ["  "],
}
HOSTILE_PATTERNS = [
    pytest.param(path, reason, id=ascii(path))
    for reason, paths in _PATTERNS_BY_REASON.items()
    for path in paths
]


def _refused_everywhere(connector: FilesConnector, pattern: str, complaint: str) -> None:
    """Sample, read, partitions and read_partition all refuse ``pattern``, saying why and what to give."""
    attempts = [
        lambda: connector.sample(pattern),
        lambda: list(connector.read(pattern)),
        lambda: connector.partitions(pattern),
        lambda: list(connector.read_partition("x", Partition(pattern, "v1"))),
    ]
    for attempt in attempts:
        with pytest.raises(StreamNotFoundError, match=complaint) as caught:
            attempt()
        assert (
            "relative to" in caught.value.user_message or "must be a file name" in caught.value.user_message
        )


@pytest.fixture
def local_folder(tmp_path: Path) -> Path:
    """``tmp/inside`` holding contacts.csv, next to ``tmp/secret.csv`` that must stay unreadable."""
    (tmp_path / "secret.csv").write_text("secret\nhunter2\n")
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "contacts.csv").write_text("id\n1\n")
    return inside


@pytest.mark.parametrize(("pattern", "complaint"), HOSTILE_PATTERNS)
def test_local_streams_stay_inside_their_folder(local_folder: Path, pattern: str, complaint: str) -> None:
    connector = FilesConnector({"url": str(local_folder)})
    _refused_everywhere(connector, pattern, complaint)
    assert connector.sample("contacts.csv")["id"].tolist() == ["1"]


@pytest.mark.parametrize(("pattern", "complaint"), HOSTILE_PATTERNS)
def test_s3_streams_stay_inside_their_prefix(s3_server: Any, pattern: str, complaint: str) -> None:
    bucket = make_bucket(s3_server, unique_name("hostile"))
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="secret.csv", Body=b"secret\nhunter2\n")
    client.put_object(Bucket=bucket, Key="in/contacts.csv", Body=b"id\n1\n")
    connector = S3Connector(
        {
            "url": f"s3://{bucket}/in",
            "access_key_id": s3_server.key,
            "secret_access_key": s3_server.secret,
            "endpoint_url": s3_server.endpoint_url,
            "region": s3_server.region,
        }
    )
    _refused_everywhere(connector, pattern, complaint)
    assert connector.sample("contacts.csv")["id"].tolist() == ["1"]


@pytest.fixture
def links_out(local_folder: Path, tmp_path: Path) -> Path:
    """``inside/link.csv`` to ``secret.csv``, and ``inside/linked/`` to a folder outside."""
    (local_folder / "link.csv").symlink_to(tmp_path / "secret.csv")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "more.csv").write_text("secret\nhunter3\n")
    (local_folder / "linked").symlink_to(outside, target_is_directory=True)
    return local_folder


@pytest.mark.parametrize("stream", ["link.csv", "linked/*.csv", "linked", "linked/more.csv"])
def test_local_links_out_of_the_folder_are_refused(links_out: Path, stream: str) -> None:
    connector = FilesConnector({"url": str(links_out)})
    with pytest.raises(StreamNotFoundError, match="is a link to a file outside") as caught:
        list(connector.read(stream))
    assert "Copy the file in, or point the connection at its folder" in caught.value.user_message
    with pytest.raises(StreamNotFoundError, match="is a link to a file outside"):
        list(connector.read_partition("x", Partition(stream.replace("*", "more"), "v1")))


def test_globs_and_listings_pass_links_out_by(links_out: Path) -> None:
    connector = FilesConnector({"url": str(links_out)})
    assert [s.name for s in connector.discover()] == ["contacts.csv"]
    assert _rows(connector.read("*.csv"))["id"].tolist() == ["1"]  # link.csv is not read


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data", "memory://secrets", "ftp://10.0.0.1/exports"]
)
def test_a_local_files_connection_reads_only_this_machine(url: str) -> None:
    result = FilesConnector({"url": url}).check()
    assert not result.ok and "is not a folder on this machine" in result.message


#: (member name, what the message says is wrong): the path cases an archive member can be named with.
ZIP_SLIPS = [
    case
    for case in HOSTILE_PATTERNS
    if case.values[1] in ("goes up with '..'", "is an absolute path", "starts with ~")
]


@pytest.mark.parametrize(("member", "complaint"), ZIP_SLIPS)
def test_zip_slip_members_are_refused_and_nothing_is_written(
    tmp_path: Path, member: str, complaint: str
) -> None:
    folder = tmp_path / "deep" / "inside"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "contacts.csv.zip", "w") as archive:
        archive.writestr(zipfile.ZipInfo(member), "id\n1\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    connector = FilesConnector({"url": str(folder)})
    with pytest.raises(FormatError, match=complaint) as caught:
        connector.sample("contacts.csv.zip")
    assert "Re-create the archive with relative member names" in caught.value.user_message
    assert sorted(p for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("packaging", ["tar.gz", "zip"])
@pytest.mark.parametrize(("member", "complaint"), ZIP_SLIPS)
def test_data_feed_archives_with_escaping_members_are_refused(
    tmp_path: Path, packaging: str, member: str, complaint: str
) -> None:
    payload = io.BytesIO()
    if packaging == "zip":
        with zipfile.ZipFile(payload, "w") as archive:
            archive.writestr("column_headers.tsv", "a\tb\n")
            archive.writestr(zipfile.ZipInfo(member), "1\t2\n")
    else:
        with tarfile.open(fileobj=payload, mode="w:gz") as tar:
            for name, data in (("column_headers.tsv", b"a\tb\n"), (member, b"1\t2\n")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    before = sorted(tmp_path.rglob("*"))
    payload.seek(0)
    with pytest.raises(FormatError, match=complaint) as caught:
        for _, stream in iter_members(payload, f"rsid_2026-01-01.{packaging}"):
            stream.read()
    assert f"rsid_2026-01-01.{packaging} holds a member named" in caught.value.user_message
    assert sorted(tmp_path.rglob("*")) == before


# == Outbound HTTP (SSRF) ==================================================================================
@pytest.fixture
def no_allowances(monkeypatch: pytest.MonkeyPatch) -> None:
    """The network policy as shipped: the suite's allowance of 127.0.0.1 taken away."""
    monkeypatch.delenv(ALLOWED_NETWORKS_VARIABLE, raising=False)


#: What the message says the destination is: the URLs (``{port}``: the fake API's) that reach one.
_URLS_BY_REASON = {
    "a loopback address": [
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",  # a name resolving to 127.0.0.1
        "http://LOCALHOST.:{port}/",
        "http://2130706433:{port}/",  # decimal
        "http://0x7f.1:{port}/",  # hexadecimal, short form
        "http://127.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",  # IPv4-mapped IPv6
        "http://[2002:7f00:1::]:{port}/",  # 6to4
        "http://user:pw@127.0.0.1:{port}/",
    ],
    "an unspecified address": ["http://0.0.0.0:{port}/"],
    "link-local": [
        "http://169.254.169.254/latest/meta-data",  # the cloud metadata service
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
    ],
    "a private network address": [
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://[fd00::1]/",
    ],
    "carrier-grade NAT": ["http://100.100.100.200/"],
    "a multicast address": ["http://224.0.0.1/"],
    "is not a valid URL": ["http://0177.0.0.1:{port}/"],  # octal: httpx refuses to guess
}
HOSTILE_URLS = [
    pytest.param(url, reason, id=url.replace(":{port}", ""))
    for reason, urls in _URLS_BY_REASON.items()
    for url in urls
]
#: One URL of each kind, for the paths that need not try every spelling.
FIRST_URLS = [
    case for case in HOSTILE_URLS if case.id in {"http://127.0.0.1/", "http://[::1]/", "http://0.0.0.0/"}
]
FIRST_URLS += [
    case
    for case in HOSTILE_URLS
    if case.id in {"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/"}
]


def _url(template: str, api: FakeApi) -> str:
    return template.format(port=api.base_url.rsplit(":", 1)[1])


def _rest(base_url: str, **overrides: Any) -> RestConnector:
    stream = {"name": "contacts", "path": "/v1/contacts", "records_path": "data"}
    return RestConnector({"base_url": base_url, "streams": [stream], "max_attempts": 1, **overrides})


@pytest.mark.parametrize(("template", "complaint"), HOSTILE_URLS)
def test_base_urls_to_internal_addresses_are_refused(
    no_allowances: None, fake_api: FakeApi, template: str, complaint: str
) -> None:
    fake_api.route("GET", "/v1/contacts", lambda r: {"data": [{"id": 1}]})
    result = _rest(_url(template, fake_api)).check()
    assert not result.ok and complaint in result.message, result.message
    if "valid URL" not in complaint:
        assert "security.allowed_networks" in result.message and ALLOWED_NETWORKS_VARIABLE in result.message
        assert "user:pw" not in result.message
    assert fake_api.requests == []


@pytest.mark.parametrize(("template", "complaint"), FIRST_URLS)
def test_token_urls_to_internal_addresses_are_refused(
    no_allowances: None, fake_api: FakeApi, template: str, complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_url = _url(template, fake_api) + "oauth/token"
    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "localhost")  # the API's own host, by name
    oauth = {"auth": "oauth2_client_credentials", "client_id": "app", "client_secret": "s3cr3t-value"}
    result = _rest(
        f"http://localhost:{fake_api.base_url.rsplit(':', 1)[1]}/", token_url=token_url, **oauth
    ).check()
    assert not result.ok and complaint in result.message, result.message
    assert "s3cr3t-value" not in result.message and fake_api.requests == []


class _Recorder(ThreadingHTTPServer):
    """A server on another loopback address, recording whether anything reached it."""

    daemon_threads = True

    def __init__(self, host: str, port: int = 0) -> None:
        self.hits: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"data": [{"id": 99}]}')

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__((host, port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


@pytest.fixture
def other_host() -> Iterator[_Recorder]:
    server = _Recorder("127.0.0.2")
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("{other}/v1/contacts", id="another-loopback-address"),
        pytest.param("http://169.254.169.254/latest/meta-data", id="cloud-metadata"),
        pytest.param("http://10.0.0.1/admin", id="private"),
        pytest.param("http://[::1]:{port}/v1/contacts", id="ipv6-loopback"),
        pytest.param("http://2130706434:{other_port}/v1/contacts", id="decimal-ip"),
    ],
)
def test_a_redirect_from_an_allowed_server_to_a_denied_address_is_refused(
    fake_api: FakeApi, other_host: _Recorder, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "127.0.0.1/32")
    location = target.format(
        other=other_host.base,
        other_port=other_host.server_address[1],
        port=fake_api.base_url.rsplit(":", 1)[1],
    )
    fake_api.route("GET", "/v1/contacts", lambda r: Reply(302, headers={"Location": location}))
    result = _rest(fake_api.url("/")).check()
    assert not result.ok and "Refused to connect" in result.message, result.message
    assert len(fake_api.requests) == 1 and other_host.hits == []


def test_a_next_page_link_to_another_host_is_refused_unless_that_host_is_allowed(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = fake_api.base_url.rsplit(":", 1)[1]

    def pages(request: Recorded) -> Any:
        if request.params.get("page") == "2":
            return {"data": [{"id": 2}]}
        return {"data": [{"id": 1}], "next": f"http://localhost:{port}/v1/contacts?page=2"}

    fake_api.route("GET", "/v1/contacts", pages)
    paged = {"type": "next_url", "next_path": "next"}
    stream = {"name": "contacts", "path": "/v1/contacts", "records_path": "data", "pagination": paged}
    settings = {"base_url": fake_api.url("/"), "streams": [stream], "max_attempts": 1}

    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "127.0.0.1/32")  # the address, but not the name
    with pytest.raises(DestinationNotAllowedError, match="points to another host") as caught:
        list(RestConnector(settings).read("contacts"))
    assert "allow it by name in security.allowed_networks" in caught.value.user_message
    assert len(fake_api.requests) == 1

    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "127.0.0.1/32, localhost")
    assert _rows(RestConnector(settings).read("contacts"))["id"].tolist() == [1, 2]


def test_a_dns_answer_that_changes_after_the_check_is_never_used(
    other_host: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "127.0.0.2/32")
    port = int(other_host.server_address[1])
    this_machine = _Recorder("127.0.0.1", port)  # where the second answer points
    system = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return system(host, *args, **kwargs)
        # an allowed address on the first answer (the check), this machine on any later one
        address = "127.0.0.1" if answers else "127.0.0.2"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        assert _rest(f"http://rebind.test:{port}/").check().ok
        assert answers == ["127.0.0.2"]  # resolved once: the connection went to the checked address
        assert other_host.hits == ["/v1/contacts"] and this_machine.hits == []
    finally:
        this_machine.shutdown()
        this_machine.server_close()


def test_a_host_name_is_connected_to_at_the_address_that_was_checked(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "127.0.0.1/32")
    system = socket.getaddrinfo
    port = int(fake_api.base_url.rsplit(":", 1)[1])

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "api.internal.test":  # a name only this resolver knows
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return system(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    fake_api.route("GET", "/v1/contacts", lambda r: {"data": [{"id": 1}]})
    assert _rest(f"http://api.internal.test:{port}/").check().ok
    assert fake_api.requests[0].header("host") == f"api.internal.test:{port}"


def test_allowed_networks_are_an_admin_setting_the_workspace_hands_to_its_connectors(
    no_allowances: None, workspace: Any, fake_api: FakeApi
) -> None:
    fake_api.route("GET", "/v1/contacts", lambda r: {"data": [{"id": 1}]})
    stream = {"name": "contacts", "path": "/v1/contacts", "records_path": "data"}
    workspace.save_connection("api", "rest", {"base_url": fake_api.url("/"), "streams": [stream]})
    refused = workspace.test_connection("api")
    assert not refused.ok and "a loopback address" in refused.message

    editor = workspace.as_actor(Actor("eve", "editor"))
    with pytest.raises(PermissionDeniedError, match="needs the admin role"):
        editor.save_setting("security.allowed_networks", ["127.0.0.0/8"])
    for bad in (["127.0.0.1/33"], ["not a host!"], "10.0.0.0/8 http://x", [{"cidr": "10.0.0.0/8"}]):
        with pytest.raises(ConfigurationError, match=r"security\.allowed_networks"):
            workspace.save_setting("security.allowed_networks", bad)

    workspace.save_setting("security.allowed_networks", "127.0.0.1/32, api.internal.example")
    assert workspace.setting("security.allowed_networks") == ["127.0.0.1/32", "api.internal.example"]
    assert workspace.test_connection("api").ok
    assert workspace.connector("api").network.denial("127.0.0.1") is None
    assert workspace.connector("api").network.denial("10.0.0.1") == "a private network address"


def test_an_invalid_allowance_in_the_environment_is_named(
    workspace: Any, fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_VARIABLE, "10.0.0.0/33 ok.example")
    result = _rest(fake_api.url("/")).check()
    assert not result.ok and f"{ALLOWED_NETWORKS_VARIABLE}: '10.0.0.0/33'" in result.message
    stream = {"name": "contacts", "path": "/v1/contacts"}
    workspace.save_connection("api", "rest", {"base_url": fake_api.url("/"), "streams": [stream]})
    assert ALLOWED_NETWORKS_VARIABLE in workspace.test_connection("api").message


@pytest.mark.parametrize(("template", "complaint"), FIRST_URLS)
def test_alert_webhooks_to_internal_addresses_are_refused(
    no_allowances: None, workspace: Any, fake_api: FakeApi, template: str, complaint: str
) -> None:
    url = _url(template, fake_api) + "services/T0/B0/webhook-token-123"
    result = AlertCenter(workspace).test_channel("ops", "webhook", {"url": url})
    assert not result.ok and "the webhook's address is not allowed" in result.message
    assert complaint in result.message and "webhook-token-123" not in result.message
    assert fake_api.requests == []


@pytest.mark.parametrize(
    ("current", "following", "allowed", "refused"),
    [
        ("https://api.example.com/v1/a", "https://api.example.com/v1/a?page=2", "", None),
        ("https://api.example.com/v1/a", "https://api.example.com:8443/v1/a", "", None),
        ("https://api.example.com/v1/a", "https://evil.example.net/v1/a", "", "another host"),
        ("https://api.example.com/v1/a", "https://cdn.example.com/v1/a", "*.example.com", None),
        ("https://api.example.com/v1/a", "http://api.example.com/v1/a", "", "from https to http"),
        ("https://api.example.com/v1/a", "https://API.example.com/v1/a", "", None),
    ],
)
def test_next_page_hops(current: str, following: str, allowed: str, refused: str | None) -> None:
    import httpx

    reason = denied_hop(httpx.URL(current), httpx.URL(following), NetworkPolicy.parse(allowed))
    assert (reason is None) if refused is None else (refused in str(reason))


# == YAML ===================================================================================================
def _laughs(levels: int = 9, width: int = 10) -> str:
    lines = [f'a0: &a0 ["{"lol"}"]']
    for level in range(1, levels + 1):
        items = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{items}]")
    return "\n".join(lines) + "\n"


HOSTILE_YAML = [
    pytest.param(_laughs(), "expand to more than", id="billion-laughs"),
    pytest.param(
        "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_YAML_ALIASES + 1)) + "]\n",
        f"more than {MAX_YAML_ALIASES:,} aliases",
        id="too-many-aliases",
    ),
    pytest.param("a: &a [*a]\n", "refers to itself", id="recursive-anchor"),
    pytest.param("[" * 20_000 + "]" * 20_000, "nested too deeply", id="deep-nesting"),
    pytest.param(
        "a: !!python/object/apply:os.system ['touch /tmp/pwned']\n", "not valid YAML", id="python-tag"
    ),
    pytest.param("a: !!python/name:os.system\n", "not valid YAML", id="python-name"),
    pytest.param("a: " + "x" * MAX_YAML_BYTES + "\n", "more than 10 MB of YAML", id="oversize"),
    pytest.param("a: [1, 2\n", "not valid YAML at line", id="broken"),
]


@pytest.mark.parametrize(("text", "complaint"), HOSTILE_YAML)
def test_hostile_yaml_is_refused_quickly(workspace: Any, tmp_path: Path, text: str, complaint: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match=complaint):
        load_yaml(text, "test.yml")
    path = tmp_path / "tributary.yml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=complaint) as caught:
        config.apply(workspace, path)
    assert str(path) in caught.value.user_message
    data = text.encode()
    with pytest.raises(
        ConfigurationError, match=complaint if len(data) <= MAX_MAPPING_FILE_BYTES else "at most"
    ):
        Studio.import_mapping_file(data, "mapping.yaml")
    assert time.monotonic() - started < 20
    assert not Path("/tmp/pwned").exists()


def test_anchors_within_bounds_still_load() -> None:
    text = "base: &base {type: csv, delimiter: ';'}\nx: {<<: *base, header: true}\ny: [*base, *base]\n"
    assert load_yaml(text, "test.yml")["x"] == {"type": "csv", "delimiter": ";", "header": True}


def test_every_yaml_load_is_a_safe_one() -> None:
    unsafe = {"load", "load_all", "full_load", "full_load_all", "unsafe_load", "unsafe_load_all"}
    loaders = {"Loader", "FullLoader", "UnsafeLoader", "UnsafeConstructor"}
    found = []
    files = [
        ROOT / "app.py",
        *(p for d in ("core", "connectors", "ui", "pages") for p in (ROOT / d).rglob("*.py")),
    ]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "yaml"
                and node.attr in unsafe | loaders
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} yaml.{node.attr}")
    assert found == []


# == Uploads ================================================================================================
class _Upload:
    """What st.file_uploader returns, recording how much of it was read."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data, self.size = name, data, len(data)
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        return self.data if size < 0 else self.data[:size]

    def getvalue(self) -> bytes:
        self.reads.append(-1)
        return self.data


@pytest.mark.parametrize(
    ("name", "data", "complaint"),
    [
        pytest.param(
            "mapping.yaml", b"mapping: {}\n" + b"#" * (8 * 1024 * 1024), "may be at most 1024 KB", id="yaml"
        ),
        pytest.param(
            "mapping.csv", b"attribute,source\n" + b"a,b\n" * 400_000, "may be at most 1024 KB", id="csv"
        ),
        pytest.param(
            "mapping.csv", "attribute,source\ncrmId,nom\xe9\n".encode("latin-1"), "not UTF-8", id="latin-1"
        ),
        pytest.param("mapping.yaml", _laughs().encode(), "expand to more than", id="billion-laughs"),
    ],
)
def test_uploaded_mapping_files_are_capped_and_parsed_safely(
    monkeypatch: pytest.MonkeyPatch, name: str, data: bytes, complaint: str
) -> None:
    from ui import studio as studio_ui

    upload = _Upload(name, data)
    monkeypatch.setattr(studio_ui.st, "file_uploader", lambda *args, **kwargs: upload)
    with pytest.raises(ConfigurationError, match=complaint):
        studio_ui.uploaded_mapping(key="import")
    assert upload.reads == [MAX_MAPPING_FILE_BYTES + 1]  # never the whole file


def test_streamlit_caps_uploads_too() -> None:
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    cap_mb = settings["server"]["maxUploadSize"]
    assert MAX_MAPPING_FILE_BYTES <= cap_mb * 1024 * 1024 <= 10 * 1024 * 1024
