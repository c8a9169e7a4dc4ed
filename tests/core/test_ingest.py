"""End to end: apply a YAML, run a dirty CSV, rerun, increment, refresh, fail, drift."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from core import config
from core.__main__ import main

HEADER = "customer_id,first_name,email,points,tier,updated_at\n"


def write_contacts(path: Path, rows: int, start: int = 1, day: str = "2026-11-01") -> list[str]:
    lines = [
        f"{i},Name{i},user{i}@example.com,{i * 10},gold,{day}T{(i % 24):02d}:00:00Z"
        for i in range(start, start + rows)
    ]
    return lines


def dataflow_yaml(folder: Path, mode: str = "incremental", threshold: float = 0.05) -> str:
    sync: dict = {"mode": mode, "primary_key": ["customer_id"]}
    if mode == "incremental":
        sync["cursor"] = "updated_at"
    spec = {
        "connections": {"crm": {"connector": "files", "config": {"url": str(folder)}}},
        "dataflows": {
            "contacts": {
                "source": {"connection": "crm", "stream": "contacts*.csv", "format": {"type": "csv"}},
                "sync": sync,
                "mapping": {
                    "crmId": "customer_id",
                    "person.firstName": "first_name",
                    "personalEmail.address": "lower(trim(email))",
                    "loyalty.points": "to_int(points)",
                    "loyalty.tier": "tier",
                },
                "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
                "quality": [
                    {"expect_column_values_to_not_be_null": {"column": "crmId"}},
                    {
                        "expect_column_values_to_match_regex": {
                            "column": "personalEmail.address",
                            "regex": r"^[^@\s]+@[^@\s]+$",
                        }
                    },
                    {
                        "expect_column_values_to_be_in_set": {
                            "column": "loyalty.tier",
                            "value_set": ["bronze", "silver", "gold"],
                        }
                    },
                ],
                "error_threshold": threshold,
            }
        },
    }
    return yaml.safe_dump(spec, sort_keys=False)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


def apply_yaml(workspace, tmp_path: Path, text: str) -> None:
    path = tmp_path / "tributary.yml"
    path.write_text(text)
    config.apply(workspace, path)


def run_json(capsys, name: str = "contacts") -> dict:
    code = main(["run", name, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == (1 if out["status"] == "failed" else 0)
    return out


def test_dirty_csv_gives_exact_counts_and_rerun_changes_nothing(any_workspace, tmp_path, source, capsys):
    lines = write_contacts(source, 190)
    dirty = [
        "191,Bad1,not-an-email,5,gold,2026-11-01T01:00:00Z",  # regex
        "192,Bad2,b2@example.com,lots,gold,2026-11-01T01:00:00Z",  # to_int
        "193,Bad3,b3@example.com,5,diamond,2026-11-01T01:00:00Z",  # in_set
        ",Bad4,b4@example.com,5,gold,2026-11-01T01:00:00Z",  # missing key
        '194,"Bad5",b5@example.com,5,gold,2026-11-01T01:00:00Z,surplus',  # malformed
    ]
    (source / "contacts.csv").write_text(HEADER + "\n".join(lines + dirty) + "\n")
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source))

    first = run_json(capsys)
    assert (first["received"], first["ingested"], first["failed"]) == (195, 190, 5)
    assert first["status"] == "partial"
    assert set(first) >= {"run_id", "dataflow", "status", "received", "ingested", "failed", "duration_s"}

    records = any_workspace.records("contacts", limit=None)
    assert len(records) == 190
    assert records["_source_key"].is_unique
    assert str(records.set_index("crmId").loc["7", "personalEmail.address"]) == "user7@example.com"

    errors = any_workspace.run_errors(first["run_id"])
    assert sorted(errors["code"]) == sorted(
        [
            "expect_column_values_to_match_regex",
            "expression_error",
            "expect_column_values_to_be_in_set",
            "missing_primary_key",
            "malformed_row",
        ]
    )
    by_code = errors.set_index("code")
    validation = any_workspace.runs("contacts").iloc[0]["validation"]
    assert validation["success"] is False and validation["chunks"] == 1
    unexpected = {e["expectation"]: e["unexpected"] for e in validation["expectations"]}
    assert unexpected == {  # the suite's own tally agrees with the rows it quarantined
        "expect_column_values_to_not_be_null": 0,
        "expect_column_values_to_match_regex": 1,
        "expect_column_values_to_be_in_set": 1,
    }
    assert "lots" in by_code.loc["expression_error", "reason"]
    assert by_code.loc["expression_error", "row"]["points"] == "lots"
    assert by_code.loc["malformed_row", "origin"].startswith("contacts.csv#")

    second = run_json(capsys)
    assert (second["received"], second["ingested"], second["failed"]) == (0, 0, 0)
    assert second["status"] == "succeeded"
    pd.testing.assert_frame_equal(
        any_workspace.records("contacts", limit=None).drop(
            columns=["_run_id", "_ingested_at", "_generation"]
        ),
        records.drop(columns=["_run_id", "_ingested_at", "_generation"]),
    )


def test_incremental_picks_up_new_rows_and_late_ties_exactly_once(any_workspace, tmp_path, source, capsys):
    lines = write_contacts(source, 50)
    (source / "contacts.csv").write_text(HEADER + "\n".join(lines) + "\n")
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source))
    assert run_json(capsys)["ingested"] == 50
    top = max(line.rsplit(",", 1)[1] for line in lines)
    late = [
        f"900,Late,late@example.com,1,gold,{top}",  # same cursor as the watermark, new key
        "901,New,new@example.com,1,gold,2026-11-02T00:00:00Z",
    ]
    (source / "contacts.csv").write_text(HEADER + "\n".join(lines + late) + "\n")
    third = run_json(capsys)
    assert (third["received"], third["ingested"]) == (2, 2)
    assert any_workspace.record_count("contacts") == 52
    assert run_json(capsys)["received"] == 0


def test_full_refresh_removes_records_gone_from_the_source(any_workspace, tmp_path, source, capsys):
    lines = write_contacts(source, 30)
    (source / "contacts.csv").write_text(HEADER + "\n".join(lines) + "\n")
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source, mode="full_refresh"))
    assert run_json(capsys)["ingested"] == 30
    (source / "contacts.csv").write_text(HEADER + "\n".join(lines[:20]) + "\n")
    again = run_json(capsys)
    assert (again["received"], again["ingested"], again["deleted"]) == (20, 20, 10)
    assert any_workspace.record_count("contacts") == 20
    ids = set(any_workspace.records("contacts", limit=None)["crmId"].astype(str))
    assert ids == {str(i) for i in range(1, 21)}


def test_over_the_threshold_the_run_fails_and_writes_nothing_more(any_workspace, tmp_path, source, capsys):
    lines = write_contacts(source, 10)
    bad = [f"{i},X,not-an-email,1,gold,2026-11-01T00:00:00Z" for i in range(100, 110)]
    (source / "contacts.csv").write_text(HEADER + "\n".join(lines + bad) + "\n")
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source, threshold=0.2))
    out = run_json(capsys)
    assert out["status"] == "failed"
    assert out["failed"] == 10 and out["ingested"] == 0
    assert "error threshold" in out["error_message"] and "50.0%" in out["error_message"]
    assert any_workspace.record_count("contacts") == 0
    assert len(any_workspace.run_errors(out["run_id"])) == 10


def test_schema_drift_fails_with_a_message_naming_the_column(any_workspace, tmp_path, source, capsys):
    (source / "contacts.csv").write_text(
        "customer_id,first_name,mail,points,tier,updated_at\n1,A,a@b.c,1,gold,2026-11-01\n"
    )
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source))
    out = run_json(capsys)
    assert out["status"] == "failed"
    assert out["error_code"] == "schema_drift"
    assert "email" in out["error_message"] and "mail" in out["error_message"]


def test_apply_rejects_unknown_keys_naming_file_key_and_allowed(any_workspace, tmp_path, source):
    text = dataflow_yaml(source).replace("error_threshold:", "eror_threshold:")
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(Exception) as caught:
        config.apply(any_workspace, path)
    message = caught.value.user_message
    assert "bad.yml" in message and "eror_threshold" in message and "error_threshold" in message


def test_apply_reports_a_bad_expression_and_a_missing_env_var(any_workspace, tmp_path, source, monkeypatch):
    path = tmp_path / "bad.yml"
    path.write_text(dataflow_yaml(source).replace("lower(trim(email))", "lower(trim(email)"))
    with pytest.raises(Exception, match=r"personalEmail\.address") as caught:
        config.apply(any_workspace, path)
    assert "bad.yml" in caught.value.user_message
    path.write_text(dataflow_yaml(source).replace(f"url: {source}", "url: ${NOPE_NOT_SET}"))
    with pytest.raises(Exception, match="NOPE_NOT_SET is not set"):
        config.apply(any_workspace, path)


def test_export_round_trips_without_secrets(any_workspace, tmp_path, source):
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source))
    text = config.export(any_workspace)
    assert "contacts" in text and "lower(trim(email))" in text
    out = tmp_path / "again.yml"
    out.write_text(text)
    assert config.apply(any_workspace, out) == {"connections": ["crm"], "dataflows": ["contacts"]}
    assert any_workspace.store.dataflow_row("contacts")["version"] == 1  # unchanged spec, no new version


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 40,  # binary garbage
        b'customer_id,first_name,email,points,tier,updated_at\n1,"unterminated,a@b.c,1,gold,2026-11-01\n',
        b"\xff\xfe\x00\x00garbage",
        b"customer_id,first_name\n1\n2,3,4,5\n",
    ],
    ids=["binary", "unterminated-quote", "bad-bom", "ragged"],
)
def test_malformed_files_end_in_a_clear_outcome_never_a_crash(
    any_workspace, tmp_path, source, capsys, content
):
    (source / "contacts.csv").write_bytes(content)
    apply_yaml(any_workspace, tmp_path, dataflow_yaml(source, mode="full_refresh", threshold=1.0))
    out = run_json(capsys)
    assert out["status"] in {"failed", "partial", "succeeded"}
    if out["status"] == "failed":
        assert out["error_message"] and "Traceback" not in out["error_message"]
        assert out["error_code"] != "internal", out["error_message"]
    else:
        assert out["received"] == out["ingested"] + out["failed"]
        errors = any_workspace.run_errors(out["run_id"])
        assert len(errors) >= out["failed"]
