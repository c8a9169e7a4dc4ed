"""Runs: history with a dataflow filter, the chart, and a run's quarantined rows to download."""

from __future__ import annotations

from typing import Any

from core.services import Workspace
from tests.pages.apptest import open_page, texts


def test_history_chart_and_quarantined_rows_of_a_run_with_failures() -> None:
    at = open_page("pages/runs.py")
    assert not at.exception
    assert at.get("vega_lite_chart"), "the runs chart is drawn"
    history = at.dataframe[0].value
    assert list(history["id"]) == list(Workspace.open().runs()["id"])

    run_id = at.selectbox(key="runs.run").value
    errors = Workspace.open().run_errors(run_id)
    assert len(errors) > 0  # the page starts on the newest run with failures
    quarantined = at.dataframe[1].value
    assert len(quarantined) == len(errors)
    source_fields = set(errors["row"].iloc[0])
    assert {"code", "reason"} | source_fields <= set(quarantined.columns)  # one column per source field
    assert list(quarantined["reason"]) == list(errors["reason"])
    download = at.get("download_button")[0]
    assert f"Download {len(errors):,} rows as CSV" in download.proto.label


def test_filter_by_dataflow() -> None:
    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("shop_orders").run()
    assert not at.exception
    assert set(at.dataframe[0].value["dataflow"]) == {"shop_orders"}


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
    assert at.dataframe[0].value["dataflow_version"].tolist() == [1, 1]


def test_a_runs_quality_checks_show_each_expectations_totals() -> None:
    at = open_page("pages/runs.py")
    at.selectbox(key="runs.dataflow").set_value("crm_contacts").run()
    assert not at.exception
    checks = next(d.value for d in at.dataframe if "Failing rows" in d.value.columns).set_index("Check")
    assert "Values are never null" in checks.index
    assert (checks["Evaluated"] > 0).all()
    assert "Great Expectations" in texts(at.caption)
