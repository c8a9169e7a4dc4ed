"""``python -m core profiles show|stats|export`` (here ``python -m core.profiles.cli``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.profiles.cli import main
from core.services import Workspace
from tests.profiles.test_query import PERSONS, Customers, ingest_customers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def customers(any_workspace: Workspace, tmp_path: Path) -> Customers:
    return ingest_customers(any_workspace, tmp_path / "source")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_profile_its_sources_and_why_merged(customers: Customers, capsys) -> None:
    code, out, err = run(capsys, "show", "--identity", "email: ANN@Example.com ")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first == (
        f"profile {customers.profile_of('ann')} · 3 record(s) from crm, loyalty, shop · policy default"
    )
    assert "attributes:" in out and "identities:" in out and "why merged:" in out
    line = next(row for row in out.splitlines() if row.strip().startswith("person.firstName"))
    assert line.split()[1:4] == ["Anne", "shop", "O1"]
    assert "crm:C1, loyalty:L1, shop:O1" in out


def test_show_as_json(customers: Customers, capsys) -> None:
    code, out, _ = run(capsys, "show", "--identity", "loyalty_id:L1", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["profile_id"] == customers.profile_of("ann")
    assert data["attributes"]["person.firstName"] == {
        "value": "Anne",
        "dataflow": "shop",
        "source_key": "O1",
        "timestamp": "2026-04-01T09:00:00+00:00",
    }
    assert data["attributes"]["loyalty.points"]["value"] == 120
    assert {r["rule"] for r in data["trail"]} == {"merged"}
    assert sorted(data["records"]) == ["crm", "loyalty", "shop"]


def test_show_with_a_policy(customers: Customers, capsys) -> None:
    customers.profiles.save_policy("crm_first", {"kind": "precedence", "order": ["crm"]})
    code, out, _ = run(capsys, "show", "--identity", "crm_id:C1", "--policy", "crm_first", "--json")
    assert code == 0 and json.loads(out)["attributes"]["person.firstName"]["value"] == "Ann"
    code, _, err = run(capsys, "show", "--identity", "crm_id:C1", "--policy", "nope")
    assert code == 2 and "no merge policy 'nope'" in err


@pytest.mark.parametrize(
    ("identity", "code", "message"),
    [
        ("email:stranger@example.com", 1, "no profile has email:stranger@example.com"),
        ("email:test@test.com", 1, "blocked email value"),
        ("email:twin@example.com", 2, "several profiles"),
        ("ann@example.com", 2, "--identity takes NAMESPACE:VALUE"),
        ("email:", 2, "--identity takes NAMESPACE:VALUE"),
    ],
)
def test_show_says_why_it_found_nothing(
    customers: Customers, capsys, identity: str, code: int, message: str
) -> None:
    got, out, err = run(capsys, "show", "--identity", identity)
    assert (got, out) == (code, "")
    assert message in err


def test_stats(customers: Customers, capsys) -> None:
    code, out, _ = run(capsys, "stats")
    assert code == 0
    assert out.splitlines()[0] == "8 profiles from 11 records (1.38 records per profile; 2 merged, 25.0%)"
    assert "identities: crm_id 6, email 5, loyalty_id 2, phone 2" in out
    assert "crm + loyalty + shop" in out
    code, out, _ = run(capsys, "stats", "--json")
    data = json.loads(out)
    assert (data["profiles"], data["records"], data["merged_profiles"]) == (len(PERSONS), 11, 2)
    assert data["combinations"][0] == {"dataflows": "crm", "profiles": 4}


def test_export_writes_csv_and_parquet(customers: Customers, capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "export", str(tmp_path / "p.csv"))
    assert code == 0 and out.startswith("wrote 8 profiles (") and "csv" in out
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(PERSONS)
    code, out, _ = run(capsys, "export", str(tmp_path / "p.out"), "--format", "parquet", "--chunk-size", "3")
    assert code == 0 and "parquet" in out
    assert pq.ParquetFile(tmp_path / "p.out").metadata.num_row_groups == 3
    code, _, err = run(capsys, "export", str(tmp_path / "q.csv"), "--chunk-size", "0")
    assert code == 2 and "at least 1" in err


def test_the_module_runs_as_a_command(customers: Customers, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    url = str(customers.workspace.engine.url.render_as_string(hide_password=False))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.profiles.cli",
            "--database-url",
            url,
            "show",
            "--identity",
            "crm_id:C2",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["attributes"]["person.firstName"]["value"] == "Bob"
