"""Merge policies on crafted records: latest wins per attribute, nulls never win, precedence, fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigurationError, NotFoundError
from core.profiles.merge import (
    DEFAULT_POLICY,
    INGESTED_AT,
    DataflowInfo,
    MergePolicy,
    attribute_values,
    choose_policy,
    load_policies,
    merge,
    parse_policy,
    timestamp_attribute,
)

INGESTED = pd.Timestamp("2026-06-01", tz="UTC")
TIMESTAMP = MergePolicy()


def records(rows: list[dict], profile: str = "p1") -> pd.DataFrame:
    """Dataset rows as a run writes them (key, attributes, lineage), in one profile."""
    frame = pd.DataFrame(rows)
    frame["profile_id"] = frame.get("profile_id", profile)
    if INGESTED_AT not in frame:
        frame[INGESTED_AT] = INGESTED
    frame["_run_id"] = 1
    return frame


def values(**by_dataflow: pd.DataFrame) -> pd.DataFrame:
    """The long frame of every dataflow's records, dated by ``updatedAt`` where they have it."""
    frames = [
        attribute_values(frame, name, "updatedAt" if "updatedAt" in frame else INGESTED_AT)
        for name, frame in by_dataflow.items()
    ]
    return pd.concat(frames, ignore_index=True)


def winners(merged: pd.DataFrame, profile: str = "p1") -> dict[str, tuple]:
    """attribute -> (value, dataflow, source_key) of one profile."""
    rows = merged[merged["profile_id"] == profile]
    return {r.attribute: (r.value, r.dataflow, r.source_key) for r in rows.itertuples()}


def test_the_latest_record_wins_attribute_by_attribute() -> None:
    crm = records(
        [
            {"_source_key": "C1", "name": "Ann", "city": "Lyon", "updatedAt": "2026-03-01T10:00:00Z"},
            {"_source_key": "C2", "name": "Anna", "city": None, "updatedAt": "2026-04-01T10:00:00Z"},
        ]
    )
    shop = records([{"_source_key": "O1", "city": "Paris", "updatedAt": "2026-03-15T00:00:00Z"}])
    merged = merge(values(crm=crm, shop=shop), TIMESTAMP)
    assert winners(merged) == {
        "name": ("Anna", "crm", "C2"),  # the newest record
        "city": ("Paris", "shop", "O1"),  # C2 is newer but has no city: the next newest value wins
        "updatedAt": ("2026-04-01T10:00:00Z", "crm", "C2"),
    }
    assert merged.loc[merged["attribute"] == "city", "timestamp"].iloc[0] == pd.Timestamp(
        "2026-03-15", tz="UTC"
    )


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, pd.NaT, "", "   "])
def test_a_missing_value_never_wins_over_a_value(missing: object) -> None:
    older = records([{"_source_key": "1", "email": "ann@example.com", "updatedAt": "2026-01-01"}])
    newer = records([{"_source_key": "2", "email": missing, "updatedAt": "2026-12-01"}])
    merged = merge(values(old=older, new=newer), TIMESTAMP)
    assert winners(merged)["email"] == ("ann@example.com", "old", "1")
    precedence = merge(values(old=older, new=newer), MergePolicy(kind="precedence", order=("new", "old")))
    assert winners(precedence)["email"] == ("ann@example.com", "old", "1")


def test_an_attribute_nobody_has_is_left_out() -> None:
    merged = merge(values(crm=records([{"_source_key": "1", "name": "Ann", "phone": None}])), TIMESTAMP)
    assert set(winners(merged)) == {"name"}


def test_records_without_a_readable_time_are_dated_by_their_ingestion() -> None:
    crm = records(
        [
            {"_source_key": "1", "tier": "gold", "updatedAt": "not a date", INGESTED_AT: INGESTED},
            {"_source_key": "2", "tier": "silver", "updatedAt": "2026-05-01", INGESTED_AT: INGESTED},
        ]
    )
    # record 1 counts as ingested on 2026-06-01, after record 2's own 2026-05-01
    assert winners(merge(values(crm=crm), TIMESTAMP))["tier"] == ("gold", "crm", "1")


def test_times_in_other_zones_and_naive_times_compare_in_utc() -> None:
    crm = records([{"_source_key": "1", "x": "paris", "updatedAt": "2026-05-01T11:30:00+02:00"}])
    shop = records([{"_source_key": "2", "x": "utc", "updatedAt": pd.Timestamp("2026-05-01T09:45:00")}])
    assert winners(merge(values(crm=crm, shop=shop), TIMESTAMP))["x"] == ("utc", "shop", "2")


def test_precedence_takes_the_first_dataflow_holding_a_value() -> None:
    crm = records([{"_source_key": "C1", "name": "Ann", "tier": None, "updatedAt": "2026-01-01"}])
    loyalty = records([{"_source_key": "L1", "name": "Annie", "tier": "gold", "updatedAt": "2026-02-01"}])
    shop = records([{"_source_key": "O1", "name": "A.", "tier": "bronze", "updatedAt": "2026-09-01"}])
    policy = MergePolicy(kind="precedence", order=("crm", "loyalty", "shop"))
    assert winners(merge(values(crm=crm, loyalty=loyalty, shop=shop), policy)) == {
        "name": ("Ann", "crm", "C1"),  # the oldest, but crm comes first
        "tier": ("gold", "loyalty", "L1"),  # crm has none: the next dataflow in the order
        "updatedAt": ("2026-01-01", "crm", "C1"),
    }


def test_precedence_falls_back_to_time_within_a_dataflow_and_among_unlisted_ones() -> None:
    crm = records(
        [
            {"_source_key": "C1", "name": "Ann", "updatedAt": "2026-01-01"},
            {"_source_key": "C2", "name": "Anne", "updatedAt": "2026-03-01"},
        ]
    )
    web = records([{"_source_key": "W1", "name": "Web", "city": "Nice", "updatedAt": "2026-02-01"}])
    app = records([{"_source_key": "A1", "name": "App", "city": "Nantes", "updatedAt": "2026-08-01"}])
    merged = merge(values(crm=crm, web=web, app=app), MergePolicy(kind="precedence", order=("crm",)))
    assert winners(merged)["name"] == ("Anne", "crm", "C2")  # two crm records: the newer
    assert winners(merged)["city"] == ("Nantes", "app", "A1")  # neither listed: the newer


def test_equal_times_are_settled_by_dataflow_then_key_whatever_the_input_order() -> None:
    stamp = "2026-05-05T05:05:05Z"
    frames = {
        "b": records([{"_source_key": "1", "x": "b1", "updatedAt": stamp}]),
        "a": records([{"_source_key": "2", "x": "a2", "updatedAt": stamp}, {"_source_key": "1", "x": "a1"}]),
    }
    frames["a"].loc[1, "updatedAt"] = stamp
    first = merge(values(**frames), TIMESTAMP)
    shuffled = values(**frames).sample(frac=1, random_state=3)
    assert winners(first)["x"] == ("a1", "a", "1")
    assert winners(merge(shuffled, TIMESTAMP)) == winners(first)


def test_values_keep_their_own_types() -> None:
    crm = records([{"_source_key": "1", "points": 120, "vip": True, "born": pd.Timestamp("1990-02-03")}])
    got = winners(merge(values(crm=crm), TIMESTAMP))
    assert got["points"][0] == 120 and isinstance(got["points"][0], int | np.integer)
    assert got["vip"][0] is True or got["vip"][0] == np.True_
    assert got["born"][0] == pd.Timestamp("1990-02-03")


def test_a_bulk_merge_equals_merging_each_profile_alone() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    frames = {}
    for name in ("crm", "shop", "loyalty"):
        frame = pd.DataFrame(
            {
                "profile_id": [f"p{i:03d}" for i in rng.integers(0, 400, n)],
                "_source_key": [f"{name}{i}" for i in range(n)],
                "name": rng.choice(["Ann", "Bob", None, "", "Cid"], n),
                "points": pd.array(rng.integers(0, 9, n), dtype="Int64"),
                "updatedAt": pd.Timestamp("2026-01-01", tz="UTC")
                + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
                INGESTED_AT: INGESTED,
            }
        )
        frame.loc[rng.random(n) < 0.2, "points"] = pd.NA
        frames[name] = frame
    long = values(**frames)
    for policy in (TIMESTAMP, MergePolicy(kind="precedence", order=("loyalty", "crm"))):
        bulk = merge(long, policy)
        assert not bulk.duplicated(["profile_id", "attribute"]).any()
        for profile in ("p000", "p123", "p399"):
            alone = merge(long[long["profile_id"] == profile], policy)
            assert winners(bulk, profile) == winners(alone, profile)


def test_nothing_to_merge_gives_an_empty_frame_with_the_columns() -> None:
    merged = merge(
        attribute_values(records([{"_source_key": "1", "x": None}]), "crm", INGESTED_AT), TIMESTAMP
    )
    assert merged.empty
    assert list(merged.columns) == ["profile_id", "attribute", "value", "dataflow", "source_key", "timestamp"]


# -- which attribute dates a dataflow's records ---------------------------------------------------
def test_the_timestamp_attribute_comes_from_the_policy_then_updated_at_then_the_cursor() -> None:
    columns = ["_source_key", "crmId", "changed", "updatedAt", INGESTED_AT]
    mapping = {"crmId": "customer_id", "changed": "to_timestamp(modified_at)", "updatedAt": "updated"}
    crm = DataflowInfo(1, "crm", mapping, cursor=None, namespaces=())
    by_cursor = DataflowInfo(1, "crm", mapping, cursor="modified_at", namespaces=())
    elsewhere = DataflowInfo(1, "crm", mapping, cursor="elsewhere", namespaces=())
    chosen = MergePolicy(timestamps={"crm": "changed"})
    assert timestamp_attribute(chosen, crm, columns) == "changed"
    assert timestamp_attribute(TIMESTAMP, crm, columns) == "updatedAt"
    without = [c for c in columns if c != "updatedAt"]
    assert timestamp_attribute(TIMESTAMP, by_cursor, without) == "changed"
    assert timestamp_attribute(TIMESTAMP, elsewhere, without) == INGESTED_AT
    assert timestamp_attribute(TIMESTAMP, crm, without) == INGESTED_AT
    with pytest.raises(ConfigurationError, match="no attribute 'nope'"):
        timestamp_attribute(MergePolicy(timestamps={"crm": "nope"}), crm, columns)


# -- policies as settings -------------------------------------------------------------------------
def test_the_default_policy_is_latest_wins_unless_the_setting_replaces_it() -> None:
    assert load_policies(None) == {DEFAULT_POLICY: MergePolicy()}
    policies = load_policies(
        {
            "crm_first": {"kind": "precedence", "order": ["crm", "shop"]},
            "default": {"timestamps": {"crm": "x"}},
        }
    )
    assert policies["crm_first"].order == ("crm", "shop")
    assert policies[DEFAULT_POLICY].timestamps == {"crm": "x"}
    assert choose_policy(policies, None) == (DEFAULT_POLICY, policies[DEFAULT_POLICY])
    assert choose_policy(policies, "crm_first")[0] == "crm_first"
    with pytest.raises(NotFoundError, match="no merge policy 'other'; known: crm_first, default"):
        choose_policy(policies, "other")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"kind": "precedence"}, "needs an order"),
        ({"kind": "precedence", "order": ["a", "a"]}, "names a dataflow twice"),
        ({"kind": "random"}, "kind"),
        ({"kind": "timestamp", "colour": "red"}, "colour"),
    ],
)
def test_a_malformed_policy_says_what_to_fix(body: dict, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as error:
        parse_policy("mine", body)
    assert error.value.user_message.startswith("merge policy 'mine': ")


def test_policies_describe_themselves() -> None:
    assert TIMESTAMP.describe() == "latest update wins per attribute"
    assert MergePolicy(kind="precedence", order=("crm", "shop")).describe() == (
        "dataflow precedence: crm > shop, then latest update"
    )
