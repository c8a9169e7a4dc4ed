"""Dask executor: one run of a 4-partition source on 2 workers vs 1, side by side.

Run from the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres)::

    python -m bench.dask_bench [--rows 200000] [--files 4] [--chunk 50000] [--repeat 1] [--identities]

Writes ``--files`` CRM exports of ``--rows`` rows each (``bench.crm_export``,
distinct customer ids per file) into a folder under the system temp dir, and
one incremental dataflow over ``*.csv`` with the ingest benchmark's mapping and
quality suite: each file is one partition. For 1 and then 2 workers it starts
a Dask ``LocalCluster`` of that many worker processes (one thread each) on a
fresh PostgreSQL database, warms the workers up with a tiny run (imports,
the store's engine), then times a full run of the source ``--repeat`` times
(a new dataflow each time, so each run writes an empty dataset). The local
executor (partitions read one after another in this process) runs first as a
reference. Prints each setting's best run: seconds, rows per second, and the
speed-up over 1 worker.

The identity graph is left out unless ``--identities``: its writes are
serialised across workers by one PostgreSQL advisory lock, so a dataflow with
identities scales only in reading, mapping and upserting.

On a machine with C cores, C workers at most make sense; the coordinator,
the workers and PostgreSQL share them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

from pyarrow import csv

from bench.crm_export import COLUMNS, chunk_table
from tests.executors.databases import fresh_database

MAPPING = {
    "crmId": "customer_id",
    "person.firstName": "trim(first_name)",
    "person.lastName": "last_name",
    "personalEmail.address": "lower(trim(email))",
    "mobilePhone.number": "phone",
    "homeAddress.countryCode": "upper(trim(country))",
    "homeAddress.city": "city",
    "homeAddress.postalCode": "postal_code",
    "person.birthDate": "birth_date",
    "loyalty.points": "loyalty_points",
    "loyalty.tier": "tier",
    "updatedAt": "updated_at",
}
QUALITY = [
    {"expect_column_values_to_not_be_null": {"column": "crmId"}},
    {
        "expect_column_values_to_match_regex": {
            "column": "personalEmail.address",
            "regex": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        }
    },
]


def write_source(folder: Path, files: int, rows: int, seed: int = 7) -> int:
    """``files`` CSV exports of ``rows`` rows (reused when present); returns the rows in all."""
    folder.mkdir(parents=True, exist_ok=True)
    options = csv.WriteOptions(include_header=False, quoting_style="none")
    for index in range(files):
        path = folder / f"customers_{index}.csv"
        if path.exists():
            continue
        partial = path.with_name(path.name + ".part")
        with partial.open("wb") as out:
            out.write((",".join(COLUMNS) + "\n").encode())
            for start in range(index * rows, (index + 1) * rows, 100_000):
                table, _ = chunk_table(start, min(100_000, (index + 1) * rows - start), seed)
                csv.write_csv(table, out, options)
        os.replace(partial, path)
    return files * rows


def save(workspace, name: str, folder: Path, chunk: int, identities: bool) -> None:  # type: ignore[no-untyped-def]
    """A dataflow over ``folder/*.csv``: one partition per file."""
    workspace.save_connection(f"{name}_files", "files", {"url": str(folder)})
    spec = {
        "source": {"connection": f"{name}_files", "stream": "*.csv", "format": {"type": "csv"}},
        "sync": {
            "mode": "incremental",
            "cursor": "updated_at",
            "primary_key": ["customer_id"],
            "chunk_size": chunk,
        },
        "mapping": MAPPING,
        "quality": QUALITY,
    }
    if identities:
        spec["identities"] = {"email": "personalEmail.address", "crm_id": "crmId"}
    workspace.save_dataflow(name, spec)


def measure(setting: str, args: argparse.Namespace, source: Path, warmup: Path) -> list[float]:
    """Seconds of each timed run with ``setting`` as the executor (``local`` or a worker count)."""
    import dask
    from distributed import LocalCluster

    from core.executors import EXECUTOR_ENV
    from core.executors.cluster import LOCAL_WORKER_CONFIG, close_clients
    from core.services import Workspace

    with fresh_database("tributary_bench_dask") as url, contextlib.ExitStack() as stack:
        os.environ["TRIBUTARY_DATABASE_URL"] = url
        if setting == "local":
            os.environ[EXECUTOR_ENV] = "local"
        else:
            stack.enter_context(dask.config.set(LOCAL_WORKER_CONFIG))
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=int(setting),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    env={"TRIBUTARY_DATABASE_URL": url},
                )
            )
            os.environ[EXECUTOR_ENV] = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
            stack.callback(close_clients)
        workspace = Workspace.open(url)
        save(workspace, "warmup", warmup, args.chunk, args.identities)
        workspace.run("warmup")  # imports and engines on every worker, not timed
        seconds = []
        for attempt in range(args.repeat):
            name = f"bench_{attempt}"
            save(workspace, name, source, args.chunk, args.identities)
            started = time.perf_counter()
            summary = workspace.run(name)
            seconds.append(time.perf_counter() - started)
            if summary.status not in ("succeeded", "partial") or summary.received != args.files * args.rows:
                raise SystemExit(f"{setting}: run {summary.status}: {summary.error_message}")
            # the machine's load: on a shared machine, other work takes cores the workers would use
            load = os.getloadavg()[0]
            print(
                f"  {setting:>5}: {seconds[-1]:6.1f} s  ({summary.received:,} rows, load {load:.1f})",
                flush=True,
            )
        workspace.engine.dispose()
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows per file (partition)")
    parser.add_argument("--files", type=int, default=4, help="files, hence partitions")
    parser.add_argument("--chunk", type=int, default=50_000, help="the dataflow's chunk size")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per setting (the best is kept)")
    parser.add_argument("--identities", action="store_true", help="also maintain the identity graph")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "tributary_dask_bench")
    args = parser.parse_args()

    os.environ.setdefault("TRIBUTARY_SCHEDULER", "0")
    os.environ.setdefault("TRIBUTARY_WORKSPACE", str(args.folder / "workspace"))
    source = args.folder / f"source_{args.files}x{args.rows}"
    total = write_source(source, args.files, args.rows)
    warmup = args.folder / "warmup"
    write_source(warmup, args.files, 200)
    print(
        f"source: {args.files} files x {args.rows:,} rows = {total:,} rows, chunks of {args.chunk:,}",
        flush=True,
    )
    best = {setting: min(measure(setting, args, source, warmup)) for setting in ("local", "1", "2")}
    print()
    print(f"{'executor':<26}{'seconds':>10}{'rows/s':>12}{'vs 1 worker':>14}")
    labels = {"local": "local (in process)", "1": "Dask, 1 worker", "2": "Dask, 2 workers"}
    for setting, seconds in best.items():
        ratio = best["1"] / seconds
        print(f"{labels[setting]:<26}{seconds:>10.1f}{total / seconds:>12,.0f}{ratio:>13.2f}x")
    print(f"\nspeed-up, 2 workers vs 1: {best['1'] / best['2']:.2f}x on {os.cpu_count()} cores", end="")
    print(f" (load average {os.getloadavg()[0]:.1f}: what other work on the machine took)")


if __name__ == "__main__":
    main()
