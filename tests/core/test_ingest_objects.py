"""Incremental over files: each object is read once per version, crash mid-object rerun exact."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.errors import ConfigurationError

HEADER = "id,email,points\n"


def write(path: Path, ids: range, points: int = 1) -> None:
    path.write_text(HEADER + "".join(f"{i},u{i}@example.com,{points}\n" for i in ids))
    # a later modification time even on coarse file systems
    stamp = time.time() + len(list(path.parent.iterdir()))
    os.utime(path, (stamp, stamp))


def save(workspace, folder: Path, primary_key: list[str], chunk_size: int = 50_000) -> None:
    workspace.save_connection("drop", "files", {"url": str(folder)})
    workspace.save_dataflow(
        "drops",
        {
            "source": {"connection": "drop", "stream": "*.csv"},
            "sync": {"mode": "incremental", "primary_key": primary_key, "chunk_size": chunk_size},
            "mapping": {"crmId": "id", "personalEmail.address": "email", "loyalty.points": "to_int(points)"},
        },
    )


def test_new_and_changed_objects_are_read_once_per_version(workspace, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder / "a.csv", range(1, 101))
    write(folder / "b.csv", range(101, 151))
    save(workspace, folder, ["id"])

    first = workspace.run("drops")
    assert (first.status, first.received, first.ingested) == ("succeeded", 150, 150)
    assert workspace.run("drops").received == 0  # nothing changed

    write(folder / "c.csv", range(151, 161))
    third = workspace.run("drops")
    assert (third.received, third.ingested) == (10, 10)

    write(folder / "a.csv", range(1, 101), points=7)  # a new version of a.csv
    fourth = workspace.run("drops")
    assert fourth.received == 100
    records = workspace.records("drops", limit=None).set_index("crmId")
    assert len(records) == 160
    assert int(records.loc["5", "loyalty.points"]) == 7
    assert int(records.loc["120", "loyalty.points"]) == 1


def test_a_run_that_dies_mid_object_is_rerun_exactly(workspace, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder / "a.csv", range(0, 1000))
    write(folder / "b.csv", range(1000, 3000))
    save(workspace, folder, [], chunk_size=250)  # keyed by file#row: a double would show

    def die_in_the_middle_of_b(summary) -> None:
        if summary.chunks == 6:  # a.csv's 4 chunks, then 2 of b.csv's 8
            raise RuntimeError("the process died")

    broken = workspace.run("drops", progress=die_in_the_middle_of_b)
    assert broken.status == "failed" and broken.received == 1500
    rerun = workspace.run("drops")
    assert rerun.status == "succeeded", rerun.error_message
    assert rerun.received == 1500  # only what the broken run had not committed
    records = workspace.records("drops", limit=None)
    assert len(records) == 3000 and records["_source_key"].is_unique
    assert workspace.run("drops").received == 0


def test_incremental_without_a_cursor_needs_a_versioned_source(workspace, tmp_path):
    workspace.save_connection("db", "sqlite", {"path": str(tmp_path / "x.db")})
    with pytest.raises(ConfigurationError, match="needs a cursor column"):
        workspace.save_dataflow(
            "t",
            {
                "source": {"connection": "db", "stream": "t"},
                "sync": {"mode": "incremental"},
                "mapping": {"crmId": "id"},
            },
        )
