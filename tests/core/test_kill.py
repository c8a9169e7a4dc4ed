"""A run killed mid-way (SIGKILL, a real subprocess) and run again leaves exact records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from core import config

ROOT = Path(__file__).resolve().parents[2]
ROWS = 60_000


def test_killed_run_rerun_leaves_no_duplicate_and_no_lost_record(any_workspace, workspace_dir, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    ids = np.arange(ROWS)
    pd.DataFrame(
        {"customer_id": ids, "email": pd.Series(ids).astype(str) + "@example.com", "points": ids % 1000}
    ).to_csv(source / "big.csv", index=False)
    spec = tmp_path / "t.yml"
    spec.write_text(
        f"""
connections:
  src: {{connector: files, config: {{url: "{source}"}}}}
dataflows:
  big:
    source: {{connection: src, stream: big.csv}}
    sync: {{mode: full_refresh, primary_key: [customer_id], chunk_size: 1000}}
    mapping: {{crmId: customer_id, personalEmail.address: email, loyalty.points: to_int(points)}}
    quality:
      - expect_column_values_to_not_be_null: {{column: crmId}}
"""
    )
    config.apply(any_workspace, spec)
    url = os.environ["TRIBUTARY_DATABASE_URL"]
    engine = create_engine(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "core", "run", "big", "--json"]
    victim = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and victim.poll() is None:
        with engine.connect() as c:
            committed = c.execute(text("select coalesce(max(chunks), 0) from runs")).scalar() or 0
        if committed >= 3:
            break
        time.sleep(0.05)
    assert victim.poll() is None, "the run finished before it could be killed; make the source bigger"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert 3 <= committed < ROWS // 1000

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    summary = json.loads(rerun.stdout)
    assert summary["status"] == "succeeded", rerun.stderr
    with engine.connect() as c:
        rows = c.execute(text("select count(*), count(distinct _source_key) from ds_big")).one()
        statuses = [r[0] for r in c.execute(text("select status from runs order by id"))]
        killed_chunks = c.execute(text("select chunks from runs order by id limit 1")).scalar()
    assert rows == (ROWS, ROWS)
    assert statuses == ["abandoned", "succeeded"]
    # the rerun skipped the chunks the killed run had committed, and read only the rest
    assert summary["received"] == ROWS - killed_chunks * 1000
    assert summary["deleted"] == 0
