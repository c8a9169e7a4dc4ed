"""Profile lookup latency by identity on a million profiles, on SQLite and PostgreSQL.

Run from the repository root::

    python -m bench.profile_lookup_bench [--profiles 1000000] [--lookups 1000] [--stores sqlite,postgresql]

Builds a throwaway store per database (SQLite in a temporary folder; a fresh
PostgreSQL database on 127.0.0.1:5432, dropped afterwards) holding
``--profiles`` profiles written straight into the graph's tables with bulk
writes (COPY on PostgreSQL, executemany on SQLite): two dataflows, a CRM with
one record per profile (crm_id, email) and a shop whose orders belong to
every other profile (email), so half the profiles merge two records and have
a "merged" decision in their trail. PostgreSQL's statistics are refreshed
(ANALYZE) after the load, as autovacuum would.

Then times ``Profiles.lookup`` (normalise the identity, find its profile,
read the members' records, identities and trail, merge by the default
policy) for ``--lookups`` random identities, half emails typed with stray
case and spaces, half CRM ids, after 50 untimed warm-up lookups. Prints the
median and 95th percentile; the target is under 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CRM = "bench_crm"
SHOP = "bench_shop"
CRM_COLUMNS = {
    "crmId": "string",
    "person.firstName": "string",
    "person.lastName": "string",
    "personalEmail.address": "string",
    "loyalty.points": "integer",
    "updatedAt": "timestamp",
}
SHOP_COLUMNS = {
    "order.id": "string",
    "personalEmail.address": "string",
    "person.firstName": "string",
    "order.total": "number",
    "updatedAt": "timestamp",
}
FIRST = np.array(["Ann", "Ben", "Chloé", "David", "Elena", "=cmd|' /C calc'!A0", "Greta", "Hugo"])
LAST = np.array(["Müller", "Martin", "García", "Rossi", "Nowak", "Jansen", "O'Brien", "Silva"])


@dataclass(frozen=True)
class Built:
    """What :func:`build_profiles` wrote."""

    profiles: int
    crm_records: int
    shop_records: int


def profile_ids(numbers: np.ndarray) -> list[str]:
    """Profile ids as the graph makes them: 40 hex digits, spread over the key space."""
    return [hashlib.sha1(f"bench:{n}".encode()).hexdigest() for n in numbers]


def email(numbers: np.ndarray) -> pd.Series:
    """The (normalised) email of person ``n``."""
    return "user" + pd.Series(numbers).astype(str) + "@example.com"


def build_profiles(workspace: Any, profiles: int, chunk: int = 100_000, seed: int = 1) -> Built:
    """Writes ``profiles`` profiles (and their records, identities and trail) straight into a store."""
    from core.store import datasets
    from core.store import tables as t
    from core.store.repository import utcnow

    folder = Path(tempfile.mkdtemp(prefix="tributary-bench-source-"))
    workspace.save_connection("bench_files", "files", {"url": str(folder)})
    for name, columns, key in ((CRM, CRM_COLUMNS, "customer_id"), (SHOP, SHOP_COLUMNS, "order_id")):
        mapping = {attribute: attribute.replace(".", "_").lower() for attribute in columns}
        identities = {"email": "personalEmail.address"}
        if name == CRM:
            identities["crm_id"] = "crmId"
        spec = {
            "source": {"connection": "bench_files", "stream": f"{name}.csv", "format": {"type": "csv"}},
            "sync": {"mode": "full_refresh", "primary_key": [key]},
            "mapping": mapping,
            "identities": identities,
        }
        workspace.save_dataflow(name, spec)
    ids = {name: workspace.store.dataflow_row(name)["id"] for name in (CRM, SHOP)}
    with workspace.engine.begin() as conn:
        tables = {
            CRM: datasets.ensure_dataset(conn, ids[CRM], CRM, CRM_COLUMNS),
            SHOP: datasets.ensure_dataset(conn, ids[SHOP], SHOP, SHOP_COLUMNS),
        }
    rng = np.random.default_rng(seed)
    now = utcnow()
    base = pd.Timestamp("2026-01-01", tz="UTC")
    shop_records = 0
    for start in range(0, profiles, chunk):
        numbers = np.arange(start, min(start + chunk, profiles))
        n = len(numbers)
        pids = profile_ids(numbers)
        merged = numbers % 2 == 0  # every other profile also has a shop order
        crm_keys = "C" + pd.Series(numbers).astype(str)
        emails = email(numbers)
        crm = pd.DataFrame(
            {
                datasets.KEY: crm_keys,
                "crmId": crm_keys,
                "person.firstName": FIRST[rng.integers(0, len(FIRST), n)],
                "person.lastName": LAST[rng.integers(0, len(LAST), n)],
                "personalEmail.address": emails,
                "loyalty.points": rng.integers(0, 20_000, n),
                "updatedAt": base + pd.to_timedelta(rng.integers(0, 300 * 86400, n), unit="s"),
                "_run_id": 1,
                "_generation": 1,
                "_origin": "bench",
                "_ingested_at": pd.Timestamp(now),
            }
        )
        m = int(merged.sum())
        shop_keys = "O" + pd.Series(numbers[merged]).astype(str)
        shop = pd.DataFrame(
            {
                datasets.KEY: shop_keys,
                "order.id": shop_keys,
                "personalEmail.address": emails[merged].to_numpy(),
                "person.firstName": FIRST[rng.integers(0, len(FIRST), m)],
                "order.total": np.round(rng.gamma(2.0, 40.0, m), 2),
                "updatedAt": base + pd.to_timedelta(rng.integers(0, 300 * 86400, m), unit="s"),
                "_run_id": 1,
                "_generation": 1,
                "_origin": "bench",
                "_ingested_at": pd.Timestamp(now),
            }
        )
        shop_pids = [pid for pid, both in zip(pids, merged, strict=True) if both]
        members = pd.concat(
            [
                pd.DataFrame({"dataflow_id": ids[CRM], "source_key": crm_keys, "profile_id": pids}),
                pd.DataFrame({"dataflow_id": ids[SHOP], "source_key": shop_keys, "profile_id": shop_pids}),
            ],
            ignore_index=True,
        ).assign(updated_at=pd.Timestamp(now))
        identities = pd.concat(
            [
                pd.DataFrame(
                    {
                        "dataflow_id": ids[CRM],
                        "source_key": crm_keys,
                        "namespace": "crm_id",
                        "value": crm_keys,
                    }
                ),
                pd.DataFrame(
                    {"dataflow_id": ids[CRM], "source_key": crm_keys, "namespace": "email", "value": emails}
                ),
                pd.DataFrame(
                    {
                        "dataflow_id": ids[SHOP],
                        "source_key": shop_keys,
                        "namespace": "email",
                        "value": shop["personalEmail.address"],
                    }
                ),
            ],
            ignore_index=True,
        )
        crm_only = json.dumps([CRM])
        both = json.dumps(sorted([CRM, SHOP]))
        summary = pd.DataFrame(
            {
                "profile_id": pids,
                "members": np.where(merged, 2, 1),
                "identities": [
                    json.dumps({"crm_id": [key], "email": [address]})
                    for key, address in zip(crm_keys, emails, strict=True)
                ],
                "dataflows": np.where(merged, both, crm_only),
                "created_at": pd.Timestamp(now),
                "updated_at": pd.Timestamp(now),
            }
        )
        decisions = pd.DataFrame(
            {
                "id": np.arange(start, start + m) + 1,
                "profile_id": shop_pids,
                "dataflow_id": ids[SHOP],
                "source_key": shop_keys,
                "namespace": "email",
                "value": shop["personalEmail.address"],
                "rule": "merged",
                "detail": "shares email " + shop["personalEmail.address"] + " with " + CRM + " record",
                "created_at": pd.Timestamp(now),
            }
        )
        with workspace.engine.begin() as conn:
            for table, frame in (
                (tables[CRM], crm),
                (tables[SHOP], shop),
                (t.profile_members, members),
                (t.identities, identities),
                (t.profiles, summary),
                (t.profile_decisions, decisions),
            ):
                insert_rows(conn, table, frame)
        shop_records += m
    if workspace.engine.dialect.name == "postgresql":
        with workspace.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return Built(profiles, profiles, shop_records)


def insert_rows(conn: Any, table: Any, frame: pd.DataFrame) -> None:
    """Appends rows to a table: COPY on PostgreSQL, one prepared INSERT executed for all rows elsewhere."""
    from core.store import bulk

    preparer = conn.dialect.identifier_preparer
    columns = list(frame.columns)
    names = ", ".join(preparer.quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(
            f"COPY {preparer.format_table(table)} ({names}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(frame.to_csv(index=False, header=False, na_rep=""))
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})",
        bulk.rows(conn, table, frame, columns),
    )


def _iso(stamps: pd.Series) -> np.ndarray:
    """UTC times as ISO 8601 text, formatted by numpy (pandas' CSV writer formats them one by one)."""
    utc = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return np.char.add(np.datetime_as_string(utc, unit="us"), "+00:00")


def time_lookups(workspace: Any, profiles: int, lookups: int, seed: int = 2) -> list[float]:
    """Milliseconds per ``Profiles.lookup`` of random identities (after 50 untimed ones)."""
    from core.profiles.query import Profiles

    finder = Profiles(workspace)
    rng = np.random.default_rng(seed)
    numbers = rng.integers(0, profiles, lookups + 50)
    times = []
    for position, number in enumerate(numbers):
        if position % 2:
            namespace, value = "email", f"  User{number}@Example.COM "
        else:
            namespace, value = "crm_id", f"C{number}"
        start = time.perf_counter()
        profile = finder.lookup(namespace, value)
        elapsed = (time.perf_counter() - start) * 1000
        assert profile is not None and profile.value("crmId") == f"C{number}", (namespace, value)
        if position >= 50:
            times.append(elapsed)
    return times


def time_searches(workspace: Any, searches: int, seed: int = 3) -> list[float]:
    """Milliseconds per explorer search of an email prefix (``user123``: up to 20 matches)."""
    from core.profiles.query import Profiles

    finder = Profiles(workspace)
    times = []
    for number in np.random.default_rng(seed).integers(100, 999, searches):
        start = time.perf_counter()
        found = finder.search(f"user{number}", limit=20, namespace="email")
        times.append((time.perf_counter() - start) * 1000)
        assert not found.empty
    return times


def _postgres_database() -> tuple[str, Any]:
    """A fresh PostgreSQL database URL and a function that drops it."""
    import psycopg

    name = f"tributary_bench_{uuid.uuid4().hex[:12]}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def run(store: str, profiles: int, lookups: int) -> None:
    """Builds one store, times the lookups, prints the figures."""
    from core.profiles.query import Profiles
    from core.services import Workspace

    folder = Path(tempfile.mkdtemp(prefix="tributary-bench-")) / "workspace"
    os.environ["TRIBUTARY_WORKSPACE"] = str(folder)
    drop = None
    if store == "sqlite":
        url = f"sqlite:///{folder / 'tributary.db'}"
    else:
        url, drop = _postgres_database()
    try:
        workspace = Workspace.open(url)
        start = time.perf_counter()
        built = build_profiles(workspace, profiles)
        load_s = time.perf_counter() - start
        times = time_lookups(workspace, profiles, lookups)
        median = statistics.median(times)
        p95 = float(np.percentile(times, 95))
        print(
            f"{store:10s} {built.profiles:,} profiles ({built.crm_records + built.shop_records:,} records, "
            f"loaded in {load_s:.0f} s): {len(times):,} lookups by identity: "
            f"median {median:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms (target < 50)"
        )
        searches = time_searches(workspace, 50)
        start = time.perf_counter()
        Profiles(workspace).stats()
        stats_s = time.perf_counter() - start
        print(
            f"{'':10s} explorer search by prefix: median {statistics.median(searches):.1f} ms; "
            f"stats (counts over every profile): {stats_s:.1f} s"
        )
        workspace.engine.dispose()
    finally:
        if drop is not None:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    for store in args.stores.split(","):
        run(store.strip(), args.profiles, args.lookups)


if __name__ == "__main__":
    main()
