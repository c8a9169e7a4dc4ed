"""The mapping studio's backend: live mapping with field stats, versions and restore, import/export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.errors import ConfigurationError, NotFoundError
from core.models import DataflowSpec
from core.studio import Studio

SPEC = {
    "source": {"connection": "src", "stream": "people.csv"},
    "sync": {"mode": "full_refresh", "primary_key": ["id"]},
    "mapping": {
        "crmId": "id",
        "personalEmail.address": "lower(trim(email))",
        "person.birthDate": "to_date(dob, '%d/%m/%Y')",
    },
    "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
}


@pytest.fixture
def saved(workspace, tmp_path: Path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "people.csv").write_text(
        "id,email,dob\n1, Ann@X.io ,02/01/1990\n2,bob@x.io,31/02/1990\n3,,15/07/1985\n", encoding="utf-8"
    )
    workspace.save_connection("src", "files", {"url": str(folder)})
    workspace.save_dataflow("people", SPEC)
    return workspace


def test_map_frame_maps_the_sample_with_per_field_counts(saved):
    spec = saved.dataflow_spec("people")
    sample = saved.studio.sample(spec)
    result = saved.studio.map_frame(spec, sample)
    assert result.mapped["personalEmail.address"].tolist()[:2] == ["ann@x.io", "bob@x.io"]
    fields = result.fields.set_index("attribute")
    assert fields.loc["person.birthDate", "failures"] == 1  # 31 February
    assert fields.loc["person.birthDate", "nulls"] == 1
    assert fields.loc["personalEmail.address", "nulls"] == 1
    assert fields.loc["personalEmail.address", "identity"] == "email"
    assert fields.loc["crmId", "type"] == "string" and fields.loc["crmId", "failures"] == 0
    assert "31/02/1990" in result.errors.set_index("field").loc["person.birthDate", "reason"]


def test_a_field_that_does_not_compile_is_reported_and_the_others_still_map(saved):
    spec = saved.dataflow_spec("people")
    bad = spec.model_copy(update={"mapping": {**spec.mapping, "crmId": "concat(id, "}})
    result = saved.studio.map_frame(bad, saved.studio.sample(spec))
    assert list(result.problems) == ["crmId"]
    assert "'crmId'" in result.problems["crmId"] and "character" in result.problems["crmId"]
    assert "crmId" not in result.mapped and "personalEmail.address" in result.mapped
    assert result.fields.set_index("attribute").loc["crmId", "problem"] == result.problems["crmId"]


def test_versions_are_kept_and_an_older_one_restored(saved):
    first = saved.dataflow_spec("people").model_dump(mode="json", exclude_none=True)
    second = {**first, "mapping": {**first["mapping"], "person.firstName": "email"}}
    saved.save_dataflow("people", second)
    saved.save_dataflow("people", second)  # unchanged: no new version
    versions = saved.studio.versions("people")
    assert versions["version"].tolist() == [2, 1]
    assert versions.iloc[0]["changes"] == "added person.firstName"
    assert versions.iloc[1]["changes"] == "first version"
    assert versions["current"].tolist() == [True, False]

    run = saved.run("people")
    assert int(saved.runs("people").iloc[0]["dataflow_version"]) == 2, run.error_message
    assert saved.studio.restore_version("people", 1) == 3
    assert saved.dataflow_spec("people").mapping == first["mapping"]
    latest = saved.studio.versions("people").iloc[0]
    assert latest["note"] == "restored from version 1" and latest["changes"] == "removed person.firstName"
    with pytest.raises(NotFoundError, match="no version 9"):
        saved.studio.restore_version("people", 9)


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_then_import_gives_the_same_mapping(fmt):
    spec = DataflowSpec.model_validate(
        {**SPEC, "mapping": {**SPEC["mapping"], "person.lastName": "concat(a, ',', b)"}}
    )
    text = Studio.export_mapping(spec, fmt)
    mapping, identities = Studio.import_mapping(text, fmt)
    assert mapping == spec.mapping and list(mapping) == list(spec.mapping)
    assert identities == spec.identities


def test_a_csv_mapping_from_a_spreadsheet_is_read():
    text = (
        "\ufeffattribute,source,identity\n"
        "crmId,Customer ID,crm_id\n"
        'personalEmail.address,"lower(`E-mail`)",email\n'
    )
    mapping, identities = Studio.import_mapping(text, "csv")
    assert mapping == {"crmId": "Customer ID", "personalEmail.address": "lower(`E-mail`)"}
    assert identities == {"crm_id": "crmId", "email": "personalEmail.address"}


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("mapping: [a, b]", "yaml", "needs a 'mapping:' section"),
        ("mapping: {crmId: 3}", "yaml", "must map to text"),
        ("mapping: {crmId: id\n", "yaml", "not valid YAML"),
        ("name,value\na,b\n", "csv", "needs a header with attribute, source"),
        ("attribute,source\ncrmId,\n", "csv", "line 2: both attribute and source"),
        ("x", "xml", "unknown mapping format"),
    ],
)
def test_bad_mapping_files_say_what_to_fix(text, fmt, message):
    with pytest.raises(ConfigurationError, match=message):
        Studio.import_mapping(text, fmt)


def test_field_stats_on_an_empty_sample(saved):
    spec = saved.dataflow_spec("people")
    empty = pd.DataFrame(
        {
            "id": pd.Series(dtype="string"),
            "email": pd.Series(dtype="string"),
            "dob": pd.Series(dtype="string"),
        }
    )
    result = saved.studio.map_frame(spec, empty)
    assert result.fields["nulls"].tolist() == [0, 0, 0] and result.fields["failures"].sum() == 0
