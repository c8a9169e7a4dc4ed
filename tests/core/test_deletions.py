"""Deletions a source reports (``DELETED_COLUMN``, as Salesforce's IsDeleted): the record and its links go."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from connectors.base import DELETED_COLUMN
from core import config
from core.chunks import ChunkProcessor
from core.mapping import ProfileSchema
from core.models import DataflowSpec
from core.services import Workspace

HEADER = f"customer_id,email,updated_at,{DELETED_COLUMN}"


def spec(folder: Path) -> dict:
    return {
        "connections": {"crm": {"connector": "files", "config": {"url": str(folder)}}},
        "dataflows": {
            "contacts": {
                "source": {"connection": "crm", "stream": "contacts*.csv", "format": {"type": "csv"}},
                "sync": {"mode": "incremental", "primary_key": ["customer_id"], "cursor": "updated_at"},
                "mapping": {"crmId": "customer_id", "personalEmail.address": "lower(trim(email))"},
                "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
            }
        },
    }


def processor() -> ChunkProcessor:
    flow = DataflowSpec.model_validate(spec(Path("."))["dataflows"]["contacts"])
    return ChunkProcessor(flow, ProfileSchema.default())


def test_a_chunk_splits_deletions_from_records_and_the_last_row_of_a_key_wins() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "C", "D", "D"],
            "email": ["a@x.fr", "b@x.fr", "c@x.fr", "c@x.fr", "d@x.fr", "d2@x.fr"],
            "updated_at": ["2026-01-01T00:00:00Z"] * 6,
            # A kept; B deleted; C deleted then written again (kept); D written then deleted (gone)
            DELETED_COLUMN: [False, True, True, None, False, "true"],
        }
    )
    chunk = processor().prepare(raw, None)
    assert sorted(chunk.records["_source_key"]) == ["A", "C"]
    assert sorted(chunk.deleted_keys) == ["B", "D"]
    assert chunk.received == 6 and chunk.failed == 0 and chunk.errors.empty  # a deletion is not mapped


def test_an_incremental_run_removes_the_deleted_record_and_its_profile(
    any_workspace: Workspace, tmp_path
) -> None:
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "contacts1.csv").write_text(
        f"{HEADER}\nA,ann@x.fr,2026-01-01T00:00:00Z,false\nB,bob@x.fr,2026-01-01T00:00:00Z,false\n"
        "C,cid@x.fr,2026-01-01T00:00:00Z,false\n"
    )
    path = tmp_path / "flow.yml"
    path.write_text(yaml.safe_dump(spec(folder)))
    config.apply(any_workspace, path)
    first = any_workspace.run("contacts")
    assert (first.status, first.ingested, first.deleted) == ("succeeded", 3, 0)
    assert any_workspace.profiles.lookup("email", "bob@x.fr") is not None

    # the source reports B deleted (and an unknown key Z, already gone: nothing to remove)
    (folder / "contacts2.csv").write_text(
        f"{HEADER}\nB,,2026-02-01T00:00:00Z,true\nZ,,2026-02-01T00:00:00Z,true\n"
    )
    assert any_workspace.studio.dry_run("contacts").deleted == 1
    second = any_workspace.run("contacts")
    assert (second.status, second.received, second.ingested, second.failed, second.deleted) == (
        "succeeded", 2, 0, 0, 1
    )  # fmt: skip
    assert sorted(any_workspace.records("contacts")["_source_key"]) == ["A", "C"]
    assert any_workspace.profiles.lookup("email", "bob@x.fr") is None
    assert any_workspace.profiles.lookup("crm_id", "A") is not None
    history = any_workspace.runs("contacts")
    assert history.loc[history["id"] == second.run_id, "deleted"].tolist() == [1]  # in the run history
    assert any_workspace.run("contacts").received == 0  # the deletions are not read again
