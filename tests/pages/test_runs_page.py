"""Runs: filtered history over hundreds of runs, charts, a run's grouped diagnostics, downloads, replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core.services import Workspace
from tests.pages.apptest import app, open_page, texts
from tests.run_history import busy_store as build_busy_store
from ui.charts import CHART_RUNS

RUN_COUNT = 1_500
GROUPS = {("expression_error", "loyalty.points"): 7, ("expect_regex", "email"): 4, ("malformed_row", None): 2}


def frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first dataframe on the page that has all these columns."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def chart_rows(at: AppTest) -> list[int]:
    """How many data rows each chart on the page was sent (all datasets of a chart together)."""
    return [
        sum(pa.ipc.open_stream(d.data.data).read_all().num_rows for d in chart.proto.datasets)
        for chart in at.get("vega_lite_chart")
    ]


# -- the demo workspace ---------------------------------------------------------------
def test_history_chart_and_quarantined_rows_of_a_run_with_failures() -> None:
    at = open_page("pages/runs.py")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 4  # status over time, records, duration, throughput
    history = frame_with(at, "id", "dataflow", "status")
    assert list(history["id"]) == list(Workspace.open().runs()["id"])

    run_id = at.selectbox(key="runs.run").value
    errors = Workspace.open().run_errors(run_id)
    assert len(errors) > 0  # the page starts on the newest run with failures
    groups = frame_with(at, "code", "rows", "examples")
    assert groups["rows"].sum() == len(errors)
    quarantined = frame_with(at, "reason", "source_key")
    assert len(quarantined) == len(errors)
    source_fields = set(errors["row"].iloc[0])
    assert {"code", "reason"} | source_fields <= set(quarantined.columns)  # one column per source field
    assert list(quarantined["reason"]) == list(errors["reason"])
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == [f"Download {len(errors):,} rows as CSV", "… as JSON"]


def test_filter_by_dataflow() -> None:
    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("shop_orders").run()
    assert not at.exception
    assert set(frame_with(at, "id", "dataflow")["dataflow"]) == {"shop_orders"}


def test_a_failed_run_shows_its_error_message() -> None:
    ws = Workspace.open()
    spec: dict[str, Any] = ws.dataflow_spec("crm_contacts").model_dump(mode="json", exclude_none=True)
    spec.update(
        error_threshold=0.0, sync={"mode": "full_refresh", "primary_key": ["customer_id"]}, schedule=None
    )
    ws.save_dataflow("strict_contacts", {k: v for k, v in spec.items() if v is not None})
    failed = ws.run("strict_contacts")
    assert failed.status == "failed"

    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("strict_contacts").run()
    at.selectbox(key="runs.run").set_value(failed.run_id).run()
    assert not at.exception
    assert "error threshold" in texts(at.error)


def test_a_run_that_went_on_with_drift_shows_the_warning(demo_workspace) -> None:
    folder = demo_workspace / "demo" / "data" / "widening"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text("id,email\n1,a@x.io\n", encoding="utf-8")
    ws = Workspace.open()
    ws.save_dataflow(
        "widening",
        {
            "source": {"connection": "demo_files", "stream": "widening/people.csv"},
            "sync": {"mode": "full_refresh", "primary_key": ["id"]},
            "mapping": {"crmId": "id", "personalEmail.address": "email"},
        },
    )
    ws.run("widening")
    (folder / "people.csv").write_text("id,email,tier\n1,a@x.io,gold\n", encoding="utf-8")
    run_id = ws.run("widening").run_id
    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("widening").run()
    at.selectbox(key="runs.run").set_value(run_id).run()
    assert not at.exception
    assert "'tier' was added" in texts(at.warning)
    assert frame_with(at, "id", "dataflow_version")["dataflow_version"].tolist() == [1, 1]


def test_a_runs_quality_checks_show_each_expectations_totals() -> None:
    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("crm_contacts").run()
    assert not at.exception
    checks = frame_with(at, "Failing rows", "Check").set_index("Check")
    assert "Values are never null" in checks.index
    assert (checks["Evaluated"] > 0).all()
    assert "Great Expectations" in texts(at.caption)


def test_replay_after_fixing_the_mapping_ingests_the_rescued_rows(demo_workspace) -> None:
    folder = demo_workspace / "demo" / "data" / "replayable"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text('id,points\n1,10\n2,"1,200"\n3,"2,500"\n4,n/a\n', encoding="utf-8")
    ws = Workspace.open()
    spec = {
        "source": {"connection": "demo_files", "stream": "replayable/people.csv"},
        "sync": {"mode": "incremental", "primary_key": ["id"], "cursor": "id"},
        "mapping": {"crmId": "id", "loyalty.points": "to_int(points)"},
        "error_threshold": 0.9,
    }
    ws.save_dataflow("replayable", spec)
    first = ws.run("replayable")
    assert (first.ingested, first.failed) == (1, 3)

    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("replayable").run()
    assert "still at v1" in texts(at.caption)  # nothing fixed yet: the page says so
    spec["mapping"]["loyalty.points"] = "to_int(replace(points, ',', ''))"
    ws.save_dataflow("replayable", spec)
    at.run()
    at.button(key="runs.replay").click().run()

    assert not at.exception
    assert "ingested 2, failed 1" in texts(at.warning)
    assert ws.record_count("replayable") == 3
    replayed = ws.runs("replayable").iloc[0]
    assert (replayed["trigger"], replayed["resumed_from"]) == ("replay", first.run_id)


# -- a busy workspace: hundreds of runs -------------------------------------------------
@pytest.fixture(scope="module")
def busy_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A separate store with three dataflows, 1,500 runs over 60 days, and one run's quarantined rows."""
    return build_busy_store(tmp_path_factory.mktemp("busy") / "workspace", RUN_COUNT, GROUPS)


@pytest.fixture
def busy(busy_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in busy_store["env"].items():
        monkeypatch.setenv(name, value)
    return busy_store


def shown_runs(at: AppTest) -> pd.DataFrame:
    return frame_with(at, "id", "dataflow", "status", "received")


def started_within(runs: pd.DataFrame, reach: timedelta) -> pd.Series:
    return pd.to_datetime(runs["started_at"], utc=True) >= pd.Timestamp.now(tz="UTC") - reach


def test_the_default_week_and_the_other_time_ranges(busy) -> None:
    runs = busy["runs"]
    at = open_page("pages/runs.py")
    assert not at.exception
    week = started_within(runs, timedelta(days=7))
    assert at.button_group(key="runs.period").value == "7 days"
    assert len(shown_runs(at)) == week.sum() > 0
    assert f"**{week.sum():,} runs** match" in texts(at.caption)

    at.button_group(key="runs.period").set_value("24 hours").run()
    assert len(shown_runs(at)) == started_within(runs, timedelta(hours=24)).sum()

    at.button_group(key="runs.period").set_value("All").run()
    assert f"**{RUN_COUNT:,} runs** match" in texts(at.caption)
    assert len(shown_runs(at)) == 1_000  # the table lists the newest thousand
    # per-run charts plot the newest 200 runs (bars of two outcomes and a tick each); the timeline is by day
    assert max(chart_rows(at)) <= 3 * CHART_RUNS

    at.button_group(key="runs.period").set_value("Dates").run()
    today = datetime.now(UTC).date()
    at.date_input(key="runs.dates").set_value((today - timedelta(days=40), today - timedelta(days=20))).run()
    started = pd.to_datetime(runs["started_at"], utc=True).dt.date
    expected = started.between(today - timedelta(days=40), today - timedelta(days=20)).sum()
    assert not at.exception and len(shown_runs(at)) == expected > 0


def test_status_failures_only_and_dataflow_filters(busy) -> None:
    runs, ids = busy["runs"], busy["ids"]
    at = open_page("pages/runs.py")
    at.button_group(key="runs.period").set_value("All").run()

    at.multiselect(key="runs.status").set_value(["failed", "abandoned"]).run()
    shown = shown_runs(at)
    assert set(shown["status"]) == {"failed", "abandoned"}
    assert len(shown) == runs["status"].isin(["failed", "abandoned"]).sum()

    at.multiselect(key="runs.status").set_value([]).run()
    at.toggle(key="runs.failures").set_value(True).run()
    shown = shown_runs(at)
    assert ((shown["failed"] > 0) | shown["status"].isin(["failed", "abandoned"])).all()
    failures = runs["status"].isin(["failed", "abandoned"]) | (runs["failed"] > 0)
    assert f"**{failures.sum():,} runs** match" in texts(at.caption)

    at.selectbox(key="runs.dataflow").set_value("gamma").run()
    shown = shown_runs(at)
    assert set(shown["dataflow"]) == {"gamma"}
    assert len(shown) == (failures & (runs["dataflow_id"] == ids["gamma"])).sum()
    assert not at.exception


def test_a_linked_run_shows_its_problems_grouped_with_examples_and_downloads(busy) -> None:
    at = app()
    at.query_params["run"] = str(busy["diagnosed"])  # as the Overview's links open it
    at.run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert at.selectbox(key="runs.run").value == busy["diagnosed"]  # even when older than the week shown

    groups = frame_with(at, "code", "rows", "examples")
    assert groups[["code", "field", "rows"]].values.tolist() == [
        ["expression_error", "loyalty.points", 7],
        ["expect_regex", "email", 4],
        ["malformed_row", "", 2],
    ]
    assert groups["examples"].map(len).tolist() == [3, 3, 2]
    assert "=HYPERLINK" in groups["examples"].iloc[0][0]
    assert len(frame_with(at, "reason", "source_key")) == 13

    at.selectbox(key="runs.group").set_value("expect_regex · email").run()
    assert set(frame_with(at, "reason", "source_key")["code"]) == {"expect_regex"}
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Download 4 rows as CSV", "… as JSON"]


def test_downloads_neutralise_what_the_page_offers(busy) -> None:
    from core.exports import to_csv_bytes, to_json_bytes

    rows = Workspace.open().run_errors(busy["diagnosed"])
    flat = pd.json_normalize(rows["row"].tolist())
    assert to_csv_bytes(flat).decode().splitlines()[1].split(",")[1].startswith("\"'=HYPERLINK")
    assert json.loads(to_json_bytes(flat))[0]["email"].startswith("'=HYPERLINK")
    assert json.loads(to_json_bytes(flat))[0]["points"] == "-12"  # a number stays a number
