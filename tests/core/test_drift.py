"""Schema drift: added columns reported, a removed or retyped mapped column stops the run before any write."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core import drift
from core.mapping import ProfileSchema, compile_mapping

MAPPING = {"crmId": "id", "personalEmail.address": "lower(email)", "loyalty.points": "points"}


def write(folder: Path, header: str, rows: list[str]) -> None:
    (folder / "people.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture
def flow(workspace, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write(folder, "id,email,points", ["1,A@x.io,10", "2,b@x.io,20"])
    workspace.save_connection("src", "files", {"url": str(folder)})
    workspace.save_dataflow(
        "people",
        {
            "source": {"connection": "src", "stream": "people.csv"},
            "sync": {"mode": "full_refresh", "primary_key": ["id"]},
            "mapping": MAPPING,
        },
    )
    first = workspace.run("people")
    assert first.status == "succeeded" and first.warnings == []
    return folder


def latest_run(workspace) -> dict:
    return workspace.runs("people").iloc[0].to_dict()


def test_first_run_records_the_schema_the_mapping_runs_on(workspace, flow):
    versions = workspace.studio.versions("people")
    spec_row = workspace.store.version_row(None, int(workspace.store.dataflow_row("people")["id"]), 1)
    assert spec_row["source_schema"] == {"id": "integer", "email": "string", "points": "integer"}
    assert versions["version"].tolist() == [1]
    assert workspace.studio.drift("people").drifted is False


def test_an_added_column_is_reported_and_the_run_goes_on(workspace, flow):
    write(flow, "id,email,points,tier", ["1,a@x.io,10,gold", "3,c@x.io,5,silver"])
    summary = workspace.run("people")
    assert summary.status == "succeeded", summary.error_message
    assert summary.ingested == 2
    assert any("'tier' was added" in w for w in summary.warnings)
    stored = latest_run(workspace)["warnings"]
    assert [c["kind"] for c in stored] == ["added"] and stored[0]["column"] == "tier"
    report = workspace.studio.drift("people")
    assert report.drifted and not report.breaking


def test_a_removed_mapped_column_fails_the_run_before_any_write(workspace, flow):
    before = workspace.records("people", limit=None)
    write(flow, "id,points", ["1,11", "9,99"])
    summary = workspace.run("people")
    assert summary.status == "failed" and summary.error_code == "schema_drift"
    assert "'email' was removed" in summary.error_message
    assert "personalEmail.address (lower(email))" in summary.error_message  # the attribute and expression
    assert summary.received == 0
    after = workspace.records("people", limit=None)
    pd.testing.assert_frame_equal(before, after)  # nothing written, nothing deleted


def test_a_retyped_mapped_column_fails_and_a_widening_warns(workspace, flow):
    write(flow, "id,email,points", ["1,a@x.io,10.0", "2,b@x.io,20.0"])
    widened = workspace.run("people")
    assert widened.status == "succeeded", widened.error_message
    assert any("widened from integer to number" in w for w in widened.warnings)

    write(flow, "id,email,points", ["1,a@x.io,lots", "2,b@x.io,few"])
    retyped = workspace.run("people")
    assert retyped.status == "failed" and retyped.error_code == "schema_drift"
    assert "'points' changed type from integer to string" in retyped.error_message
    assert "loyalty.points" in retyped.error_message


def test_accepting_the_new_schema_makes_a_new_version_the_runs_check_against(workspace, flow):
    write(flow, "id,email,points", ["1,a@x.io,lots"])
    assert workspace.run("people").error_code == "schema_drift"
    workspace.save_dataflow(
        "people",
        {**workspace.dataflow_spec("people").model_dump(mode="json"), "mapping": {"crmId": "id"}},
    )
    # the mapping no longer reads points or email: the retype is only reported
    summary = workspace.run("people")
    assert summary.status == "succeeded", summary.error_message
    workspace.studio.accept_schema("people")
    versions = workspace.studio.versions("people")
    assert versions.iloc[0]["note"] == "source schema accepted"
    assert workspace.studio.drift("people").drifted is False
    assert workspace.run("people").warnings == []


def test_compare_rules_without_a_source():
    schema = ProfileSchema.default()
    mapping = compile_mapping({"crmId": "id", "person.firstName": "name", "person.birthDate": "born"}, schema)
    report = drift.compare(
        {"id": "integer", "name": "integer", "born": "date", "gone": "string", "empty": None},
        {"id": "number", "name": "string", "born": "timestamp", "empty": "integer", "new": "string"},
        mapping,
    )
    kinds = {c.column: (c.kind, c.breaking) for c in report.changes}
    assert kinds == {
        "new": ("added", False),
        "id": ("widened", False),  # integer -> number
        "name": ("retyped", False),  # only a text attribute reads it
        "born": ("widened", False),  # date -> timestamp
        "gone": ("removed", False),  # no attribute reads it
    }
    assert not report.breaking
    lost = drift.compare({"id": "integer"}, {}, mapping)
    assert lost.breaking and "crmId" in lost.breaking[0].message
    with pytest.raises(drift.SchemaDriftError, match="'id' was removed"):
        lost.raise_if_breaking()


def test_schema_of_leaves_valueless_columns_untyped():
    frame = pd.DataFrame({"a": ["1", "2"], "b": ["", None], "_tributary_origin": ["x", "y"]})
    assert drift.schema_of(frame) == {"a": "integer", "b": None}
