"""The secrets canary: a unique marker in every credential field of every connector, and nowhere else.

Every connector of the registry gets connections whose every secret field
holds a marker (``tests/security/canary_sources.py``), saved through the
workspace. Each failure path that applies is driven: bad credentials against
the real servers and emulators, or a careless vendor echoing what it
received; a closed port; a server that never answers. Through them go test
connection (saved, unsaved, typed, and edited with the secrets left masked),
streams, preview, a dataflow run that fails, run history, the command line
(runs, export, audit), alerts to a local webhook, the audit log, and every
log record at DEBUG with stdout and stderr. Engine failures (bad SQL, a
missing column, a quality check failing over the threshold) run over
connections that work with a marker as their password, with the quarantined
rows' downloads and ``python -m core errors --format csv|json``; the
dashboard is driven through AppTest.

No marker may appear in anything collected, raw, URL-encoded, escaped or
base64-encoded at any alignment (``tests/security/canary.py``), and every
table of the store, read by reflection on SQLite and PostgreSQL, holds them
only as the ciphertext of ``secrets`` (and ``alert_channels.secret``), which
decrypts to them. The last test removes redactions and checks that the
canary then sees the leaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

import connectors
from core import config
from core.__main__ import main as cli
from core.alerts import AlertCenter
from core.errors import TributaryError
from core.exports import to_csv_bytes, to_json_bytes
from core.services import MASK, Workspace, secret_fields
from tests.alerts.servers import Webhook, start_webhook
from tests.connectors.conftest import mariadb as mariadb
from tests.connectors.conftest import postgres as postgres
from tests.security.canary import Canaries, Evidence, every_log_record, scan_store
from tests.security.canary_sources import BUILDERS, Env, Source, engine_flows, working_sources
from tests.storage_servers import azurite_server as azurite_server
from tests.storage_servers import gcs_server as gcs_server
from tests.storage_servers import s3_server as s3_server
from tests.storage_servers import sftp_server as sftp_server

CONNECTORS = list(connectors.REGISTRY)


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture
def env(request: pytest.FixtureRequest, canaries: Canaries, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The servers the connections meet; clients give up fast (one try, a short timeout)."""
    import connectors._http_connector as api_connector
    from connectors._http import HttpSettings

    fast = HttpSettings(connect_timeout_s=1, read_timeout_s=0.5, max_attempts=1, backoff_initial_s=0.001)
    monkeypatch.setattr(api_connector, "HttpSettings", lambda: fast)
    monkeypatch.setattr("connectors._sftp.CONNECT_TIMEOUT_S", 1)
    monkeypatch.setenv("TRIBUTARY_ALLOWED_NETWORKS", "127.0.0.1/32")  # the fakes listen on loopback
    environment = Env(request, canaries)
    yield environment
    environment.close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = start_webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


# -- driving -------------------------------------------------------------------------------------------------
def attempt(evidence: Evidence, where: str, action: Any) -> Any:
    """Runs ``action``, keeping its result, or its error (a TributaryError is expected; anything else too)."""
    try:
        return evidence.add(where, action())
    except TributaryError as error:
        evidence.add(f"{where}: user message", error.user_message)
        evidence.add(where, error)
    except Exception as error:  # unexpected, but evidence all the same: a page would show its message
        evidence.add(f"{where}: unexpected {type(error).__name__}", error)
    return None


def save(workspace: Workspace, source: Source, evidence: Evidence) -> None:
    """Saves the connection, and keeps how it is shown, exported and held in memory."""
    name = source.name
    workspace.save_connection(name, source.connector, source.config, description=f"canary: {source.path}")
    evidence.add(f"{name}: connection as shown", workspace.connection_spec(name).model_dump())
    evidence.add(
        f"{name}: connection as exported", workspace.connection_spec(name, masked=False).model_dump()
    )
    evidence.add(f"{name}: config model", workspace.connector(name).config)


def check(workspace: Workspace, source: Source, evidence: Evidence, every_form: bool) -> None:
    """Test connection: saved; and, with ``every_form``, unsaved, typed (SecretStr) and edited (masked)."""
    name = source.name
    evidence.add(f"{name}: check", workspace.test_connection(name))
    if not every_form:
        return
    secrets = secret_fields(connectors.REGISTRY[source.connector].config_model)
    unsaved = workspace.test_connection(connector=source.connector, config=source.config)
    evidence.add(f"{name}: check unsaved", unsaved)
    typed = {key: SecretStr(value) if key in secrets else value for key, value in source.config.items()}
    evidence.add(f"{name}: check typed", workspace.test_connection(connector=source.connector, config=typed))
    edited = {key: MASK if key in secrets else value for key, value in source.config.items()}
    evidence.add(f"{name}: check edited", workspace.test_connection(name, source.connector, edited))


def run(workspace: Workspace, flow: str, spec: dict[str, Any], evidence: Evidence) -> int | None:
    """Saves and runs a dataflow that must fail; returns its run id."""
    workspace.save_dataflow(flow, spec)
    summary = attempt(evidence, f"{flow}: run", lambda: workspace.run(flow))
    if summary is None:
        return None
    evidence.add(f"{flow}: run summary", summary.as_dict())
    assert summary.status == "failed", (flow, summary)
    return int(summary.run_id)


def drive(workspace: Workspace, source: Source, evidence: Evidence, every_form: bool) -> int | None:
    """Saves the connection and drives every verb that applies; returns the failed run's id."""
    save(workspace, source, evidence)
    check(workspace, source, evidence, every_form and not source.quick)
    if source.quick:
        return None
    name = source.name
    attempt(evidence, f"{name}: streams", lambda: workspace.streams(name))
    attempt(evidence, f"{name}: preview", lambda: workspace.preview(name, source.stream, source.options))
    attempt(evidence, f"{name}: objects", lambda: workspace.objects(name, source.stream, source.options))
    read = {"connection": name, "stream": source.stream, **source.options}
    return run(workspace, f"{name}_flow", {"source": read, "mapping": source.mapping}, evidence)


def history(workspace: Workspace, runs: list[int], evidence: Evidence) -> None:
    """Run history and each run's quarantined rows, as shown and as downloaded; the audit log."""
    runs_frame = evidence.add("runs", workspace.runs())
    evidence.add("runs as CSV", to_csv_bytes(runs_frame))
    evidence.add("runs as JSON", to_json_bytes(runs_frame))
    evidence.add("connections", workspace.connections())
    evidence.add("audit log", workspace.audit_log())
    for run_id in runs:
        errors = evidence.add(f"run {run_id}: quarantined rows", workspace.run_errors(run_id))
        evidence.add(f"run {run_id}: quarantined rows as CSV", to_csv_bytes(errors))
        evidence.add(f"run {run_id}: quarantined rows as JSON", to_json_bytes(errors))


def command_line(commands: list[list[str]], evidence: Evidence, capfd: pytest.CaptureFixture[str]) -> None:
    """Runs ``python -m core`` commands in this process, keeping what they print and write."""
    before = capfd.readouterr()
    evidence.add("stdout and stderr before the command line", before.out + before.err)
    for command in commands:
        code = cli(command)
        said = capfd.readouterr()
        evidence.add(f"python -m core {' '.join(command)} (exit {code})", said.out + said.err)
        if "--output" in command:
            evidence.add(
                f"file written by {command[0]}", Path(command[command.index("--output") + 1]).read_bytes()
            )


def alert_channel(
    workspace: Workspace, webhook: Webhook, canaries: Canaries, evidence: Evidence
) -> AlertCenter:
    """A webhook channel whose address holds a marker; made before the runs, so that they alert."""
    center = AlertCenter(workspace)
    token = canaries.new("alerts", "url", alphabet="plain")
    center.save_channel("ops", "webhook", {"url": webhook.url(token)}, ["run_failed", "run_partial"])
    evidence.add("alert channel", center.channel("ops"))
    evidence.add("alert channels", center.channels())
    return center


def deliver(center: AlertCenter, webhook: Webhook, evidence: Evidence) -> None:
    """Sends the failed runs' alerts and a test; keeps what the webhook received and what was recorded."""
    evidence.add("alert dispatch", str(center.dispatch()))
    evidence.add("alert test", center.test_channel("ops"))
    webhook.statuses.append(500)  # the server answers with an error quoting the address it was called on
    evidence.add("alert test refused", center.test_channel("ops"))
    evidence.add("alerts received", webhook.requests)
    evidence.add("alert deliveries", center.deliveries())
    assert webhook.requests, "the failed runs reach the webhook"


def assert_exported_as_references(workspace: Workspace, connector: str) -> None:
    """``python -m core export`` writes every secret as a ``${ENV}`` reference."""
    exported = yaml.safe_load(config.export(workspace))["connections"]
    secrets = secret_fields(connectors.REGISTRY[connector].config_model)
    written = [value for c in exported.values() for key, value in c["config"].items() if key in secrets]
    assert bool(written) == bool(secrets), written
    assert all(re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*\}", value) for value in written), written


def assert_no_leak(
    workspace: Workspace, canaries: Canaries, evidence: Evidence, logs: list[str], capfd: Any
) -> None:
    """Nothing collected holds a marker; the store holds each only as ciphertext that decrypts to it."""
    said = capfd.readouterr()
    evidence.add("stdout", said.out)
    evidence.add("stderr", said.err)
    for line in logs:
        evidence.add("log record", line)
    leaks = evidence.leaks(canaries)
    assert leaks == [], "\n".join(leaks)
    scan = scan_store(workspace.engine, workspace.vault, canaries)
    assert scan.leaks == [], "\n".join(scan.leaks)
    saved = {*workspace.connections()["name"], "alerts"}
    stored = "\n".join(scan.decrypted.values())
    assert [m for m in canaries.missing_from(stored) if m.owner in saved] == []  # each one stored, encrypted
    assert {"secrets", "runs", "run_errors", "audit_log", "alert_deliveries"} <= set(scan.tables)


# -- every connector, every failure --------------------------------------------------------------------------
def test_every_connector_has_a_canary() -> None:
    """A new connector is not covered until it has a builder (which must fill every secret field)."""
    assert set(BUILDERS) == set(connectors.REGISTRY)


@pytest.mark.parametrize("connector", CONNECTORS)
def test_no_connector_failure_shows_a_secret(
    connector: str,
    workspace: Workspace,
    env: Env,
    canaries: Canaries,
    webhook: Webhook,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sources = BUILDERS[connector](env, connector)
    wanted = secret_fields(connectors.REGISTRY[connector].config_model)
    given = {field for source in sources for field in wanted if source.config.get(field)}
    assert given == wanted, f"{connector}: no marker in {sorted(wanted - given)}"
    evidence = Evidence()
    with every_log_record() as logs:
        center = alert_channel(workspace, webhook, canaries, evidence)
        runs = []
        for index, source in enumerate(sources):
            run_id = drive(workspace, source, evidence, every_form=index == 0)
            runs += [run_id] if run_id is not None else []
        history(workspace, runs, evidence)
        commands = [["runs", "--json"], ["export"], ["audit", "--json"]]
        if first := next((source for source in sources if not source.quick), None):
            commands += [["preview", first.name, first.stream], ["run", f"{first.name}_flow", "--json"]]
        command_line(commands, evidence, capfd)
        deliver(center, webhook, evidence)
    assert runs or all(source.quick for source in sources)
    assert_exported_as_references(workspace, connector)
    echoed = {s.name for s in sources if s.path == "vendor echo" and s.sends_marker}
    received = [(r.path, f"{r.query} {r.headers} {r.body!r}") for r in env.echo.requests] if echoed else []
    assert echoed <= {marker.owner for _, marker, _, _ in canaries.search(received)}, "the vendor got them"
    assert_no_leak(workspace, canaries, evidence, logs.lines, capfd)


# -- the engine's failures, on each store --------------------------------------------------------------------
def test_engine_failures_and_the_store_keep_secrets_encrypted(
    any_workspace: Workspace,
    env: Env,
    canaries: Canaries,
    webhook: Webhook,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Bad SQL, a missing column and a failed quality check over marker-bearing connections; then, on this
    store, a failed run of every connector: every table holds the markers only as ciphertext."""
    workspace = any_workspace
    evidence = Evidence()
    working = working_sources(env)  # the test's own setup (an account made with the marker) is not logged
    with every_log_record() as logs:
        center = alert_channel(workspace, webhook, canaries, evidence)
        runs = []
        for index, source in enumerate(working):
            save(workspace, source, evidence)
            check(workspace, source, evidence, every_form=index == 0)
            evidence.add(f"{source.name}: streams", workspace.streams(source.name))
            evidence.add(
                f"{source.name}: preview", workspace.preview(source.name, source.stream, source.options)
            )
            for flow, (spec, code) in engine_flows(source).items():
                run_id = run(workspace, flow, spec, evidence)
                assert run_id is not None and workspace.store.run_row(run_id)["error_code"] == code, flow
                runs.append(run_id)
                if spec.get("quality"):
                    studio = workspace.studio
                    attempt(
                        evidence, f"{flow}: dry run", lambda f=flow, s=studio: s.dry_run(f, sample_rows=10)
                    )
        quarantined = [run_id for run_id in runs if workspace.run_errors(run_id).shape[0]]
        assert quarantined, "a quality check failed over the threshold quarantines rows"
        attempt(evidence, "replay", lambda: workspace.replay(quarantined[0]))
        if workspace.engine.dialect.name == "postgresql":  # SQLite stores hold them in the tests above
            saved = {source.name for source in working} | {"alerts"}
            for connector in CONNECTORS:  # every connector's secrets, in this store's vault and audit log
                first = BUILDERS[connector](env, connector)[0]
                save(workspace, first, evidence)
                saved.add(first.name)
            canaries.keep_only(saved)
        history(workspace, runs, evidence)
        commands = [["runs", "--json"], ["export"], ["audit", "--json"]]
        for run_id in quarantined[:2]:
            output = tmp_path / f"errors-{run_id}.json"
            commands += [
                ["errors", str(run_id), "--format", "csv"],
                ["errors", str(run_id), "--format", "json", "--output", str(output)],
                ["errors", str(run_id), "--json"],
            ]
        command_line(commands, evidence, capfd)
        deliver(center, webhook, evidence)
    assert_no_leak(workspace, canaries, evidence, logs.lines, capfd)


def _spec(source: Source) -> dict[str, Any]:
    return {
        "source": {"connection": source.name, "stream": source.stream, **source.options},
        "mapping": source.mapping,
    }


# -- the dashboard -------------------------------------------------------------------------------------------
def page_text(at: Any) -> str:
    """Every element an AppTest page drew, as its protobuf text (what the browser would receive)."""
    texts, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        if (proto := getattr(node, "proto", None)) is not None:
            texts.append(str(proto))
        stack += list(getattr(node, "children", {}).values())
    return "\n".join(texts)


@pytest.fixture
def dashboard(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The dashboard on this test's store, without the demo, with fresh caches."""
    import streamlit as st

    monkeypatch.setenv("TRIBUTARY_DEMO", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield workspace
    st.cache_data.clear()
    st.cache_resource.clear()


def test_the_dashboard_shows_no_secret(
    dashboard: Workspace, env: Env, canaries: Canaries, capfd: pytest.CaptureFixture[str]
) -> None:
    """Sources (a saved connection, tested with its wrong password; one typed, tested, saved), Runs of the
    failed run, the Admin audit log, Overview and Dataflows: no page holds a marker."""
    from tests.pages.apptest import open_page

    workspace, evidence = dashboard, Evidence()
    saved = BUILDERS["postgres"](env, "postgres")[0]
    typed = BUILDERS["mysql"](env, "mysql")[0]
    save(workspace, saved, evidence)
    assert run(workspace, f"{saved.name}_flow", _spec(saved), evidence) is not None
    with every_log_record() as logs:
        at = open_page("pages/sources.py")
        evidence.add("Sources", page_text(at))
        at.selectbox(key="sources.editing").set_value(saved.name).run()
        evidence.add(f"Sources, editing {saved.name}", page_text(at))
        at.button(key="sources.test").click().run()  # the stored (wrong) password, never shown
        assert at.error, "testing a connection refused by the server shows why"
        evidence.add(f"Sources, {saved.name} tested", page_text(at))

        at = open_page("pages/sources.py")
        at.selectbox(key="sources.connector").set_value("mysql").run()
        new = "sources.mysql.+ New connection"
        for field in ("host", "database", "username", "password"):
            at.text_input(key=f"{new}.{field}").set_value(str(typed.config[field]))
        at.number_input(key=f"{new}.port").set_value(typed.config["port"])
        at.text_input(key="sources.name.+ New connection").set_value(typed.name)
        at.button(key="sources.test").click().run()
        assert at.error, "testing typed settings the server refuses shows why"
        evidence.add(
            "Sources, typed settings tested", "\n".join(str(e.proto) for e in [*at.error, *at.success])
        )
        at.button(key="sources.save").click().run()
        assert typed.name in set(workspace.connections()["name"])
        evidence.add("Sources, after the save", page_text(at))  # the typed form is gone with its password

        for page in ("pages/runs.py", "pages/admin.py", "pages/overview.py", "pages/dataflows.py"):
            at = open_page(page)
            assert not at.exception, (page, at.exception)
            evidence.add(page, page_text(at))
    assert_no_leak(workspace, canaries, evidence, logs.lines, capfd)


# -- the canary itself ---------------------------------------------------------------------------------------
def _no_redaction(self: object, text: str) -> str:
    return text


@pytest.mark.parametrize(
    ("removed", "connector", "source_name"),
    [
        ("the HTTP layer's and the engine's masking", "rest", "rest_api_key_query_refused"),
        ("the log guard", "s3", "s3_refused"),
        ("the wording of Google token failures", "bigquery", "bigquery_refused"),
    ],
)
def test_the_canary_sees_a_removed_redaction(
    removed: str,
    connector: str,
    source_name: str,
    workspace: Workspace,
    env: Env,
    canaries: Canaries,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """With one redaction taken away, the same drive leaks its source's markers, and the canary says so."""
    import connectors._sql_errors
    import connectors.base
    import connectors.sql
    from connectors._http_errors import Redactor
    from connectors.redaction import SecretMasker

    if removed.startswith("the HTTP"):
        monkeypatch.setattr(Redactor, "__call__", _no_redaction)
        monkeypatch.setattr(SecretMasker, "__call__", _no_redaction)
    elif removed == "the log guard":
        monkeypatch.setattr(connectors.base, "guard_logs", lambda owner, secrets: None)
    else:
        monkeypatch.setattr(connectors._sql_errors, "credential_failure", lambda error, target: None)
        monkeypatch.setattr(connectors.sql, "credential_failure", lambda error, target: None)
    source = next(s for s in BUILDERS[connector](env, connector) if s.name == source_name)
    evidence = Evidence()
    with every_log_record() as logs:
        drive(workspace, source, evidence, every_form=False)
    for line in logs.lines:
        evidence.add("log record", line)
    leaked = {marker.owner for _, marker, _, _ in canaries.search(evidence.items)}
    assert source.name in leaked, f"without {removed}, the canary should see {source.name}'s markers"
