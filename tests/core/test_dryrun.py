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


def _flow(workspace, name: str, stream: str, key: str, identities: dict[str, str]) -> None:
    mapping = {"crmId": "id", "loyaltyId": "id", "personalEmail.address": "email"}
    mapping = {a: c for a, c in mapping.items() if a in identities.values()}
    mapping["mobilePhone.number"] = "phone"
    workspace.save_dataflow(
        name,
        {
            "source": {"connection": "src", "stream": stream},
            "sync": {"mode": "full_refresh", "primary_key": [key], "chunk_size": 3},
            "mapping": mapping,
            "identities": identities,
        },
    )


def _profiles(workspace) -> int:
    with workspace.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(t.profiles)).scalar_one())


def test_a_dry_run_forecasts_the_profiles_a_run_creates_joins_and_merges(workspace, folder):
    workspace.save_connection("src", "files", {"url": str(folder)})
    (folder / "crm.csv").write_text(
        "id,email,phone\n1,a@x.io,+33612345671\n2,b@x.io,+33612345672\n3,c@x.io,+33612345673\n",
        encoding="utf-8",
    )
    (folder / "news.csv").write_text("email,phone\ne@x.io,\nz@x.io,\n", encoding="utf-8")
    people = {"crm_id": "crmId", "email": "personalEmail.address", "phone": "mobilePhone.number"}
    _flow(workspace, "crm", "crm.csv", "id", people)
    _flow(workspace, "news", "news.csv", "email", {"email": "personalEmail.address"})
    workspace.run("crm")
    workspace.run("news")
    before = _profiles(workspace)
    assert before == 5
    (folder / "loyalty.csv").write_text(
        "id,email,phone\n"
        "L1, A@X.IO ,\n"  # joins crm 1 (case and whitespace are normalised)
        "L2,,+33 6 12 34 56 72\n"  # joins crm 2 by phone
        "L3,e@x.io,+33612345673\n"  # merges crm 3 and the newsletter's e@x.io
        "L4,f@x.io,\n"  # a new person, and another member with their email: kept apart,
        "L5,F@x.io,\n"  # as a profile holds one loyalty_id: two new profiles
        "L6,test@test.com,\n"  # placeholders link no one: two more new profiles
        "L7,test@test.com,0000000000\n",
        encoding="utf-8",
    )
    _flow(
        workspace,
        "loyalty",
        "loyalty.csv",
        "id",
        {"loyalty_id": "loyaltyId", "email": "personalEmail.address", "phone": "mobilePhone.number"},
    )
    dry = workspace.studio.dry_run("loyalty", sample_rows=None)
    assert (dry.profiles_new, dry.profiles_joined, dry.profiles_merged) == (4, 2, 2)
    assert dry.as_dict()["profiles_merged"] == 2
    assert _profiles(workspace) == before  # nothing written

    workspace.run("loyalty")
    assert _profiles(workspace) == before + 4 - 1  # two of them became one
    again = workspace.studio.dry_run("loyalty", sample_rows=None)
    assert (again.profiles_new, again.profiles_joined, again.profiles_merged) == (0, 0, 0)

    # a full refresh that drops L5 and moves L4 onto crm 2's phone: L4 joins crm 2, nothing new
    (folder / "loyalty.csv").write_text(
        "id,email,phone\nL1,a@x.io,\nL4,f@x.io,+33612345672\nL8,g@x.io,\n", encoding="utf-8"
    )
    moved = workspace.studio.dry_run("loyalty", sample_rows=None)
    assert (moved.profiles_new, moved.profiles_joined, moved.profiles_merged) == (1, 1, 0)


def test_a_dataflow_without_identities_forecasts_no_profiles(workspace, folder):
    write(folder / "a.csv", rows(range(0, 10)))
    save(workspace, folder)
    dry = workspace.studio.dry_run("people", sample_rows=None)
    assert (dry.profiles_new, dry.profiles_joined, dry.profiles_merged) == (0, 0, 0)
