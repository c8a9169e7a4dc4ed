"""Replay: a run's quarantined rows re-ingested with the fixed mapping, never doubled, never stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import ConfigurationError, LeaseLostError
from core.replay import replay
from core.services import Workspace
from core.store import tables as t
from core.store.leases import Lease

HEADER = "customer_id,first_name,email,points,signup_date,updated_at"
DAY = "2024-01-02,2026-11-01"
GOOD = [f"{i},Name{i},user{i}@example.com,{i * 10},{DAY}T00:{i:02d}:00Z" for i in range(1, 21)]
FIXABLE = [f'{i},Name{i},user{i}@example.com,"1,2{i}",{DAY}T01:00:00Z' for i in range(21, 25)]
STILL_BAD = [
    "25,Name25,user25@example.com,n/a,2024-01-02,2026-11-01T01:00:00Z",  # to_int, before and after
    "26,Name26,user26@example.com,n/a,someday,2026-11-01T01:00:00Z",  # two problems in one row
    '27,Name27,not-an-email,"1,500",2024-01-02,2026-11-01T01:00:00Z',  # once fixed, the email check fails
    "28,Name28,user28@example.com,5,2024-01-02,2026-11-01T01:00:00Z,surplus",  # malformed
]
MAPPING = {
    "crmId": "customer_id",
    "person.firstName": "first_name",
    "personalEmail.address": "lower(trim(email))",
    "loyalty.points": "to_int(points)",
    "loyalty.joinedAt": "to_date(signup_date)",
}
FIXED = {**MAPPING, "loyalty.points": "to_int(replace(points, ',', ''))"}


def save(ws: Workspace, folder: Path, mapping: dict[str, str], mode: str = "incremental") -> None:
    sync: dict[str, Any] = {"mode": mode, "primary_key": ["customer_id"]}
    if mode == "incremental":
        sync["cursor"] = "updated_at"
    ws.save_connection("crm", "files", {"url": str(folder)})
    ws.save_dataflow(
        "contacts",
        {
            "source": {"connection": "crm", "stream": "contacts*.csv", "format": {"type": "csv"}},
            "sync": sync,
            "mapping": mapping,
            "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
            "quality": [
                {
                    "expect_column_values_to_match_regex": {
                        "column": "personalEmail.address",
                        "regex": r"^[^@\s]+@[^@\s]+$",
                    }
                }
            ],
            "error_threshold": 0.5,
        },
    )


@pytest.fixture
def dirty_run(any_workspace: Workspace, tmp_path: Path) -> tuple[Workspace, Path, int]:
    """A partial run of 28 rows: 20 ingested, 8 quarantined (4 of which the fixed mapping rescues)."""
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "contacts.csv").write_text("\n".join([HEADER, *GOOD, *FIXABLE, *STILL_BAD]) + "\n")
    save(any_workspace, folder, MAPPING)
    first = any_workspace.run("contacts")
    assert (first.status, first.received, first.ingested, first.failed) == ("partial", 28, 20, 8)
    return any_workspace, folder, first.run_id


def run_row(ws: Workspace, run_id: int) -> dict[str, Any]:
    return dict(ws.store.run_row(run_id))


def identities(ws: Workspace) -> list[tuple[str, str]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(select(t.identities.c.source_key, t.identities.c.namespace)).all()
    return [tuple(row) for row in rows]


def test_replay_ingests_the_fixed_rows_and_quarantines_the_rest_again(dirty_run) -> None:
    ws, _, run_id = dirty_run
    before = run_row(ws, run_id)
    errors_before = ws.run_errors(run_id)
    save(ws, dirty_run[1], FIXED)

    summary = replay(ws, run_id)

    assert (summary.status, summary.received, summary.ingested, summary.failed) == ("partial", 8, 4, 4)
    records = ws.records("contacts", limit=None)
    assert len(records) == 24 and records["_source_key"].is_unique
    points = records.set_index("_source_key")["loyalty.points"]
    assert [int(points[str(i)]) for i in range(21, 25)] == [1221, 1222, 1223, 1224]
    assert set(records.loc[records["_source_key"].isin(["21", "24"]), "_run_id"]) == {summary.run_id}
    replayed = run_row(ws, summary.run_id)
    assert (replayed["trigger"], replayed["resumed_from"]) == ("replay", run_id)
    assert replayed["status"] == "partial"
    assert replayed["dataflow_version"] == 2

    again = ws.run_errors(summary.run_id)
    malformed = again[again["code"] == "malformed_row"]
    assert len(malformed) == 1 and malformed["reason"].iloc[0].startswith("Still malformed")
    by_key = again[again["code"] != "malformed_row"].set_index("source_key")
    assert sorted(by_key.index.unique()) == ["25", "26", "27"]
    assert by_key.loc["27", "code"] == "expect_column_values_to_match_regex"  # a new reason
    assert set(by_key.loc["26", "field"]) == {"loyalty.points", "loyalty.joinedAt"}  # one row, two problems

    assert run_row(ws, run_id) == before  # the replayed run is left as it was
    assert ws.run_errors(run_id).equals(errors_before)
    assert sum(1 for key, _ in identities(ws) if key in {"21", "22", "23", "24"}) == 8


def test_replaying_twice_doubles_nothing(dirty_run) -> None:
    ws, folder, run_id = dirty_run
    save(ws, folder, FIXED)
    first, second = replay(ws, run_id), replay(ws, run_id)
    assert (second.received, second.ingested, second.failed) == (first.received, 4, 4)
    records = ws.records("contacts", limit=None)
    assert len(records) == 24 and records["_source_key"].is_unique
    pairs = identities(ws)
    assert len(pairs) == len(set(pairs)) == 48
    assert ws.store.count_errors(second.run_id) == ws.store.count_errors(first.run_id)


def test_a_replay_of_a_replay_keeps_the_first_read_run(dirty_run) -> None:
    ws, folder, run_id = dirty_run
    save(ws, folder, FIXED)
    first = replay(ws, run_id)
    again = replay(ws, first.run_id)
    assert run_row(ws, again.run_id)["resumed_from"] == run_id
    assert (again.received, again.ingested, again.failed) == (4, 0, 4)


def test_rows_a_later_run_read_again_are_not_overwritten(dirty_run) -> None:
    ws, folder, run_id = dirty_run
    save(ws, folder, FIXED)
    # key 21 changed at the source and a later incremental run ingested it, with the fixed mapping
    (folder / "contacts-2.csv").write_text(
        f'{HEADER}\n21,Newer,user21@example.com,"1,300",2024-01-02,2026-11-02T00:00:00Z\n'
    )
    later = ws.run("contacts")
    assert (later.ingested, later.failed) == (1, 0)

    summary = replay(ws, run_id)

    assert (summary.received, summary.ingested, summary.failed) == (8, 3, 4)
    assert "1 row(s) were not replayed" in run_row(ws, summary.run_id)["warnings"][0]["message"]
    record = ws.records("contacts", limit=None).set_index("_source_key").loc["21"]
    assert (record["person.firstName"], int(record["loyalty.points"])) == ("Newer", 1300)


def test_after_a_later_full_refresh_nothing_is_replayed(any_workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "contacts.csv").write_text("\n".join([HEADER, *GOOD, *FIXABLE]) + "\n")
    save(any_workspace, folder, MAPPING, mode="full_refresh")
    first = any_workspace.run("contacts")
    save(any_workspace, folder, FIXED, mode="full_refresh")
    refresh = any_workspace.run("contacts")
    assert (refresh.ingested, refresh.failed) == (24, 0)

    summary = replay(any_workspace, first.run_id)

    assert (summary.status, summary.received, summary.ingested, summary.failed) == ("succeeded", 4, 0, 0)
    assert f"Replay run #{refresh.run_id}" in summary.warnings[0]
    assert len(any_workspace.records("contacts", limit=None)) == 24


def test_a_run_without_quarantined_rows_has_nothing_to_replay(dirty_run) -> None:
    ws = dirty_run[0]
    clean = ws.run("contacts")  # nothing new since: no rows, no errors
    with pytest.raises(ConfigurationError, match="nothing to replay"):
        replay(ws, clean.run_id)


def test_a_replay_waits_for_the_running_dataflow(dirty_run) -> None:
    ws, _, run_id = dirty_run
    lease = Lease(ws.engine, int(ws.store.dataflow_row("contacts")["id"]))
    lease.acquire()
    try:
        with pytest.raises(LeaseLostError, match="already running"):
            replay(ws, run_id)
    finally:
        lease.release()
