"""Bulk writes round-trip every type and awkward text exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import event

from core.store import bulk, datasets

COLUMNS = {
    "text": "string",
    "count": "integer",
    "amount": "number",
    "flag": "boolean",
    "day": "date",
    "at": "timestamp",
}


def frame(keys: list[str], text: list[object]) -> pd.DataFrame:
    n = len(keys)
    return pd.DataFrame(
        {
            datasets.KEY: keys,
            "text": pd.Series(text, dtype="string"),
            "count": pd.Series([7, None, -(2**40)][:n], dtype="Int64"),
            "amount": pd.Series([1.25, None, 1e-7][:n], dtype="Float64"),
            "flag": pd.Series([True, None, False][:n], dtype="boolean"),
            "day": pd.Series(pd.to_datetime(["2026-02-28", None, "1999-12-31"][:n])).astype("datetime64[s]"),
            "at": pd.Series(
                pd.to_datetime(
                    ["2026-03-29T01:30:00.123456Z", None, "2026-10-25T02:30:00Z"][:n], format="ISO8601"
                )
            ),
            "_run_id": 1,
            "_generation": 1,
            "_origin": "f#1",
            "_ingested_at": pd.Timestamp("2026-11-28T00:00:00Z"),
        }
    )


def a_dataflow(workspace) -> int:
    with workspace.engine.begin() as conn:
        connection = workspace.store.upsert_connection(conn, "c", "files", {"url": "."}, {}, {})
        return workspace.store.upsert_dataflow(conn, "round trip", connection, {"mapping": {}})


def test_upsert_round_trips_types_and_awkward_text(any_workspace):
    engine = any_workspace.engine
    dataflow_id = a_dataflow(any_workspace)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with engine.begin() as conn:
        table = datasets.ensure_dataset(conn, dataflow_id, "round trip", COLUMNS)
        text = ['comma, "quote"\nnewline\\N', None, "unicode é ✓ 🙂"]
        datasets.upsert(conn, table, frame(["a", "b", "c"], text))
    out = datasets.read_records(engine, table, None).set_index(datasets.KEY)
    assert out.loc["a", "text"] == text[0]
    assert out.loc["c", "text"] == text[2]
    assert out.loc["b"].drop(["_run_id", "_generation", "_origin", "_ingested_at"]).isna().all()
    assert int(out.loc["c", "count"]) == -(2**40)
    assert out.loc["c", "amount"] == 1e-7
    assert bool(out.loc["a", "flag"]) is True and bool(out.loc["c", "flag"]) is False
    assert str(out.loc["a", "day"]) == "2026-02-28"
    stamp = pd.Timestamp(out.loc["a", "at"])
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    assert stamp == pd.Timestamp("2026-03-29T01:30:00.123456Z")
    if engine.dialect.name == "postgresql":
        # COPY goes through the driver's own cursor; the merge from the staging table is visible
        assert any("CREATE TEMPORARY TABLE" in s for s in statements)
        assert any(s.startswith("INSERT INTO") and "FROM _stage_" in s for s in statements)

    # a second upsert replaces by key and keeps the others
    with engine.begin() as conn:
        datasets.upsert(conn, table, frame(["a"], ["changed"]))
    again = datasets.read_records(engine, table, None).set_index(datasets.KEY)
    assert len(again) == 3 and again.loc["a", "text"] == "changed"


def test_delete_where_removes_exactly_the_given_keys(any_workspace):
    from core.store import tables as t

    engine = any_workspace.engine
    rows = pd.DataFrame(
        {
            "dataflow_id": [1, 1, 2],
            "source_key": ["k1", "k2", "k1"],
            "namespace": ["email", "email", "email"],
            "value": ["a@x", "b@x", "c@x"],
        }
    )
    with engine.begin() as conn:
        bulk.upsert(conn, t.identities, rows, ["dataflow_id", "source_key", "namespace"])
        bulk.delete_where(conn, t.identities, rows.iloc[[0]], ["dataflow_id", "source_key"])
    with engine.connect() as conn:
        left = sorted(conn.execute(t.identities.select()).all())
    assert [(r.dataflow_id, r.source_key) for r in left] == [(1, "k2"), (2, "k1")]
