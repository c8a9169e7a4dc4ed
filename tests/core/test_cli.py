"""The command line as a user runs it: a real subprocess per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(workspace_dir: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "core", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


def test_demo_then_every_read_command(cli, workspace_dir):
    cli("demo")
    runs = json.loads(cli("runs", "--json").stdout)
    assert {r["dataflow"] for r in runs} == {"crm_contacts", "shop_orders", "loyalty_members"}
    contacts = next(r for r in runs if r["dataflow"] == "crm_contacts")
    assert contacts["received"] == 1000
    assert contacts["received"] == contacts["ingested"] + contacts["failed"]
    assert 0 < contacts["failed"] <= 50  # realistic dirt, under the 5% threshold
    assert contacts["status"] == "partial"

    preview = json.loads(cli("preview", "demo_files", "contacts.csv", "--limit", "5", "--json").stdout)
    assert len(preview) == 5 and "email" in preview[0]

    records = json.loads(cli("records", "crm_contacts", "--limit", "3", "--json").stdout)
    assert len(records) == 3 and all(
        r["personalEmail.address"] == r["personalEmail.address"].lower() for r in records
    )

    errors = json.loads(cli("errors", str(contacts["id"]), "--json").stdout)
    assert len({e["source_key"] for e in errors}) == contacts["failed"]
    assert all(e["reason"] for e in errors)

    again = json.loads(cli("run", "crm_contacts", "--json").stdout)
    assert (again["received"], again["status"]) == (0, "succeeded")

    table = cli("runs", "crm_contacts").stdout
    assert "crm_contacts" in table and "partial" in table


def test_export_writes_yaml_that_applies_back(cli, workspace_dir, tmp_path):
    cli("demo")
    target = tmp_path / "out.yml"
    cli("export", str(target))
    text = target.read_text()
    assert "crm_contacts" in text and "demo_files" in text
    assert "applied 1 connection(s) and 3 dataflow(s)" in cli("apply", str(target)).stdout


def test_errors_exit_2_with_a_message_and_no_traceback(cli, workspace_dir):
    done = cli("run", "nope", check=False)
    assert done.returncode == 2
    assert "no dataflow named 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("apply", "/does/not/exist.yml", check=False)
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_studio_commands_dry_run_drift_versions_restore_mapping(cli, workspace_dir, tmp_path):
    cli("demo")
    dry = json.loads(cli("dry-run", "shop_orders", "--json").stdout)
    assert dry["scope"] == "source" and dry["received"] > 0
    assert dry["new"] == 0 and dry["updated"] == dry["ingested"]  # the demo already ran it once
    assert (dry["profiles_new"], dry["profiles_joined"], dry["profiles_merged"]) == (0, 0, 0)
    assert "no drift" in cli("drift", "shop_orders").stdout
    exported = cli("mapping", "shop_orders", "--format", "csv").stdout
    assert exported.splitlines()[0] == "attribute,source,identity"
    assert "crmId,customer_id,crm_id" in exported

    config = tmp_path / "flow.yml"
    config.write_text(cli("export").stdout.replace("upper(currency)", "lower(currency)"))
    cli("apply", str(config))
    versions = cli("versions", "shop_orders").stdout
    assert "changed order.currency" in versions
    assert "restored version 1 of shop_orders as version 3" in cli("restore", "shop_orders", "1").stdout
    assert "upper(currency)" in cli("mapping", "shop_orders").stdout


def test_errors_export_neutralised_and_replay_after_a_mapping_fix(cli, workspace_dir, tmp_path):
    cli("demo")
    runs = json.loads(cli("runs", "crm_contacts", "--json").stdout)
    run_id = next(r["id"] for r in runs if r["failed"])
    failed = next(r["failed"] for r in runs if r["id"] == run_id)
    target = tmp_path / "errors.csv"
    assert (
        f"wrote {failed:,} rows"
        in cli("errors", str(run_id), "--format", "csv", "--output", str(target)).stdout
    )
    lines = target.read_text(encoding="utf-8").splitlines()
    assert "reason" in lines[0] and len(lines) > failed
    assert not any(cell.startswith(("=", "+", "@")) for line in lines for cell in line.split(","))
    assert len(json.loads(cli("errors", str(run_id), "--format", "json").stdout)) == failed

    config = tmp_path / "flow.yml"
    fixed = "if(points == 'n/a', null, to_int(points))"
    config.write_text(cli("export").stdout.replace("to_int(points)", fixed))
    cli("apply", str(config))
    replayed = json.loads(cli("replay", str(run_id), "--json", check=False).stdout)
    assert replayed["received"] > 0 and replayed["ingested"] > 0


def test_profiles_commands_go_through_python_m_core(cli, workspace_dir):
    cli("demo")
    stats = json.loads(cli("profiles", "stats", "--json").stdout)
    assert stats["profiles"] > 0 and stats["records"] >= stats["profiles"]
