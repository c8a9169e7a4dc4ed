"""Dry runs: on a sample or the whole source, the counts a real run then produces, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.store import tables as t

HEADER = "id,email,points\n"


def write(path: Path, rows: list[str]) -> None:
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")


def rows(ids: range, bad_every: int = 0) -> list[str]:
    return [f"{i},u{i}@x.io,{'oops' if bad_every and i % bad_every == 0 else i}" for i in ids]


def store_counts(workspace) -> tuple[int, int, int]:
    with workspace.engine.connect() as c:
        return tuple(  # type: ignore[return-value]
            int(c.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (t.runs, t.run_errors, t.cursors)
        )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def save(workspace, folder: Path, mode: str = "full_refresh", threshold: float = 0.2) -> None:
    workspace.save_connection("src", "files", {"url": str(folder)})
    workspace.save_dataflow(
        "people",
        {
            "source": {"connection": "src", "stream": "*.csv"},
            "sync": {"mode": mode, "primary_key": ["id"], "chunk_size": 300},
            "mapping": {"crmId": "id", "personalEmail.address": "email", "loyalty.points": "to_int(points)"},
            "error_threshold": threshold,
        },
    )


@pytest.mark.parametrize("mode", ["full_refresh", "incremental"])
def test_a_dry_run_on_the_whole_source_predicts_the_real_runs_counts(workspace, folder, mode):
    write(folder / "a.csv", rows(range(0, 1000), bad_every=50))
    save(workspace, folder, mode)
    before = store_counts(workspace)
    dry = workspace.studio.dry_run("people", sample_rows=None)
    assert store_counts(workspace) == before  # nothing written: no run, no error, no state
    assert workspace.records("people").empty
    real = workspace.run("people")
    assert (dry.received, dry.ingested, dry.quarantined) == (real.received, real.ingested, real.failed)
    assert (dry.new, dry.updated) == (real.ingested, 0)
    assert dry.would_fail is None and dry.scope == "source"
    reasons = dry.reasons.set_index("field")
    assert reasons.loc["loyalty.points", "rows"] == 20
    assert "oops" in reasons.loc["loyalty.points", "reason"]
    assert len(dry.examples) == 20 and set(dry.examples["code"]) == {"expression_error"}

    # second round: some rows changed, some new, one file gone in full refresh
    write(folder / "a.csv", rows(range(500, 1200)))
    dry2 = workspace.studio.dry_run("people", sample_rows=None)
    real2 = workspace.run("people")
    assert (dry2.received, dry2.ingested, dry2.quarantined) == (real2.received, real2.ingested, real2.failed)
    if mode == "full_refresh":
        # 1000..1199 and the 10 ids quarantined last time are new; the rest of 500..999 updated
        assert (dry2.new, dry2.updated) == (210, 490)
        assert dry2.deleted == real2.deleted == 490
    else:
        # incremental over files: the changed object is read again whole
        assert dry2.new + dry2.updated == real2.ingested


def test_a_dry_run_over_the_threshold_says_the_run_would_stop(workspace, folder):
    write(folder / "a.csv", rows(range(0, 100), bad_every=2))
    save(workspace, folder, threshold=0.1)
    dry = workspace.studio.dry_run("people", sample_rows=None)
    assert dry.quarantined == 50 and dry.would_fail is not None
    assert "over the error threshold of 10%" in dry.would_fail
    assert workspace.run("people").status == "failed"


def test_a_dry_run_on_the_sample_reads_only_the_sample(workspace, folder):
    write(folder / "a.csv", rows(range(0, 3000), bad_every=100))
    save(workspace, folder)
    dry = workspace.studio.dry_run("people", sample_rows=1000)
    assert dry.scope == "sample"
    assert (dry.received, dry.quarantined, dry.ingested) == (1000, 10, 990)
    assert dry.deleted == 0


def test_a_dry_run_reports_breaking_drift(workspace, folder):
    write(folder / "a.csv", rows(range(0, 10)))
    save(workspace, folder)
    workspace.run("people")
    (folder / "a.csv").write_text("id,points\n1,2\n", encoding="utf-8")
    dry = workspace.studio.dry_run("people", sample_rows=None)
    assert dry.would_fail and "'email' was removed" in dry.would_fail
    assert [c["column"] for c in dry.drift] == ["email"]
