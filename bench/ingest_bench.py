"""Ingest throughput and memory of Tributary against its peers, side by side on one machine.

Run from the repository root, in a venv with ``requirements-bench.txt`` (dlt)::

    python -m bench.ingest_bench [--rows 1000000] [--repeat 3] [--contenders all]
        [--stores sqlite,postgresql] [--memory-rows 10000000] [--preview] [--peers-python PATH]

Writes (or reuses) a CRM export of ``--rows`` rows with ``bench.crm_export``
(13 columns, ~2 % dirty values) under ``--data`` (default: the temporary
folder's ``tributary-bench/``), then loads it with each contender, each in
its own process, ``--repeat`` times, the contenders' order rotated every
round so that a noisy neighbour hurts them all alike; every load starts from
an empty store (a fresh temporary folder; a fresh PostgreSQL database on
127.0.0.1:5432, trust auth, dropped after). Contenders:

* ``tributary`` — ``python -m core apply`` of a YAML (a files connection, one
  incremental dataflow: primary key ``customer_id``, 12 mapped fields of which
  3 calculated, 2 identities, 6 expectations), then ``python -m core run
  --json``; timed: the run (process start to exit), into SQLite and into
  PostgreSQL. Then the same run again, unchanged (the incremental rerun).
* ``dlt`` — a ``dlt`` pipeline over the file read with pandas in 50,000-row
  chunks, ``write_disposition="merge"`` on ``customer_id``, into SQLite
  (dlt's sqlalchemy destination) and DuckDB. No validation.
* ``pandas`` — a hand-written chunked ``pandas.read_csv`` + ``sqlite3``
  upsert (``INSERT … ON CONFLICT DO UPDATE``, ``executemany``, one
  transaction per 50,000-row chunk). No validation, text columns.
* ``copy`` — PostgreSQL with psycopg: each 50,000 lines COPied into a temporary
  table then ``INSERT … ON CONFLICT DO UPDATE``, one transaction per chunk;
  and ``copy-only``, one plain COPY of the file into a table without a key
  (the floor). No validation, text columns.

Wall time is the contender's process, from start to exit (imports included);
CPU time is that process's user + system time (a busy neighbour distorts it
least; the PostgreSQL server's work is not in it); peak memory is its
maximum resident set (``os.wait4``'s ``ru_maxrss``; the PostgreSQL server's
own memory is not counted for anyone). Figures are
medians over the repeats. ``--memory-rows`` also runs Tributary alone on a
bigger export (SQLite) to compare its peak memory with the ``--rows`` one.
``--preview`` times the dashboard's preview (a 1,000-row sample with column
profiles, ``Workspace.preview``, in-process after the workspace is open) of
a ~1 GB CSV object and of a 10 M-row PostgreSQL table. Prints one table and
the issue's targets with pass/fail.

Profile a Tributary run with ``--profile OUT.svg`` (py-spy, a flame graph of
one run on the first of ``--stores``); ``--profile OUT.txt`` writes py-spy's
raw collapsed stacks and prints the time per stage (read, map, validate,
write, identity graph, commits, imports).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.crm_export import ensure_export

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
CHUNK = 50_000
PROFILE_RATE = 50  # py-spy samples a second
COLUMNS = (  # noqa: SIM905
    "customer_id first_name last_name email phone country city postal_code birth_date "
    "loyalty_points tier signup_at updated_at"
).split()

#: The Tributary dataflow: 12 mapped fields (3 calculated), 2 identities, 6 expectations.
TRIBUTARY_YAML = """\
connections:
  bench_files:
    connector: files
    config: {{url: "{folder}"}}
dataflows:
  crm_export:
    source:
      connection: bench_files
      stream: "{stream}"
      format: {{type: csv}}
    sync:
      mode: incremental
      cursor: updated_at
      primary_key: [customer_id]
      chunk_size: {chunk}
    mapping:
      crmId: customer_id
      person.firstName: trim(first_name)
      person.lastName: last_name
      personalEmail.address: lower(trim(email))
      mobilePhone.number: phone
      homeAddress.countryCode: upper(trim(country))
      homeAddress.city: city
      homeAddress.postalCode: postal_code
      person.birthDate: birth_date
      loyalty.points: loyalty_points
      loyalty.tier: tier
      updatedAt: updated_at
    identities:
      email: personalEmail.address
      crm_id: crmId
    quality:
      - expect_column_values_to_not_be_null: {{column: crmId}}
      - expect_column_values_to_match_regex:
          {{column: personalEmail.address, regex: "^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$"}}
      - expect_column_values_to_be_in_set:
          {{column: loyalty.tier, value_set: [bronze, silver, gold, platinum, Gold]}}
      - expect_column_values_to_be_between: {{column: loyalty.points, min_value: 0}}
      - expect_column_values_to_be_between: {{column: person.birthDate, min_value: "1900-01-01"}}
      - expect_column_value_lengths_to_equal: {{column: homeAddress.countryCode, value: 2}}
    error_threshold: 0.05
"""

#: dlt: the file in pandas chunks, merged on the key (dlt's own validation of types only).
DLT_SCRIPT = """\
import sys, dlt, pandas as pd
path, destination, target = sys.argv[1:4]

@dlt.resource(name="crm_export", primary_key="customer_id", write_disposition="merge")
def crm_export():
    for chunk in pd.read_csv(path, chunksize={chunk}, dtype=str, keep_default_na=False):
        yield chunk[chunk["customer_id"] != ""]

if destination == "duckdb":
    dest = dlt.destinations.duckdb(target)
else:
    dest = dlt.destinations.sqlalchemy(f"sqlite:///{{target}}")
pipeline = dlt.pipeline(pipeline_name="crm_load", destination=dest, dataset_name="crm_data",
                        pipelines_dir=sys.argv[4])
info = pipeline.run(crm_export())
info.raise_on_failed_jobs()
"""

#: The hand-written pandas + sqlite3 upsert, as one would write it without a framework.
PANDAS_SCRIPT = """\
import sqlite3, sys, pandas as pd
path, target = sys.argv[1:3]
columns = {columns!r}
db = sqlite3.connect(target)
db.execute("PRAGMA journal_mode=WAL")
db.execute(f"CREATE TABLE crm ({{', '.join(c + ' TEXT' for c in columns)}}, PRIMARY KEY (customer_id))")
updates = ", ".join(f"{{c}} = excluded.{{c}}" for c in columns[1:])
sql = (f"INSERT INTO crm ({{', '.join(columns)}}) VALUES ({{', '.join('?' * len(columns))}}) "
       f"ON CONFLICT (customer_id) DO UPDATE SET {{updates}}")
for chunk in pd.read_csv(path, chunksize={chunk}, dtype=str, keep_default_na=False):
    chunk = chunk[chunk["customer_id"] != ""]
    with db:
        db.executemany(sql, chunk.itertuples(index=False, name=None))
db.close()
"""

#: PostgreSQL: COPY each chunk of lines into a temporary table, merge with ON CONFLICT.
COPY_SCRIPT = """\
import itertools, sys, psycopg
path, dsn, mode = sys.argv[1:4]
columns = {columns!r}
names = ", ".join(columns)
with psycopg.connect(dsn) as db, open(path, encoding="utf-8") as source:
    next(source)
    key = ", PRIMARY KEY (customer_id)" if mode == "merge" else ""
    db.execute(f"CREATE TABLE crm ({{', '.join(c + ' text' for c in columns)}}{{key}})")
    db.commit()
    if mode == "copy-only":
        with db.cursor().copy(f"COPY crm ({{names}}) FROM STDIN WITH (FORMAT csv)") as copy:
            while block := source.read(1 << 20):
                copy.write(block)
        db.commit()
        sys.exit(0)
    updates = ", ".join(f"{{c}} = excluded.{{c}}" for c in columns[1:])
    while lines := list(itertools.islice(source, {chunk})):
        with db.transaction():
            db.execute(f"CREATE TEMPORARY TABLE stage ({{', '.join(c + ' text' for c in columns)}}) "
                       "ON COMMIT DROP")
            with db.cursor().copy(f"COPY stage ({{names}}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write("".join(lines))
            db.execute(f"INSERT INTO crm SELECT * FROM stage WHERE customer_id <> '' "
                       f"ON CONFLICT (customer_id) DO UPDATE SET {{updates}}")
"""

#: Times Workspace.preview (a sample + column profiles), after the workspace is open.
PREVIEW_SCRIPT = """\
import json, sys, time
from core.services import Workspace
workspace = Workspace.open(sys.argv[1])
times = []
for _ in range(int(sys.argv[4])):
    start = time.perf_counter()
    preview = workspace.preview(sys.argv[2], sys.argv[3], limit=1000)
    times.append(time.perf_counter() - start)
print(json.dumps({"rows": len(preview.frame), "times": times}))
"""


@dataclass
class Measure:
    """One contender's process: wall time, CPU time (user + system), peak memory, what it printed."""

    wall_s: float
    peak_mb: float
    output: str
    cpu_s: float = 0.0


@dataclass
class Contender:
    """A loader and a store; ``load`` runs it once on an empty store and measures it."""

    name: str
    store: str
    load: Callable[[Path], Measure]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} / {self.store}"


def measure(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Measure:
    """Runs ``command`` to its end; its wall time and maximum resident set (of it and its children)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} … exited {process.returncode}:\n{text[-3000:]}")
    return Measure(wall, usage.ru_maxrss / 1024, text, usage.ru_utime + usage.ru_stime)


def postgres_database() -> tuple[str, Callable[[], None]]:
    """A fresh database on 127.0.0.1:5432 (its libpq DSN) and a function that drops it."""
    import psycopg

    name = f"tributary_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"host=127.0.0.1 port=5432 user=postgres dbname={name}", drop


def sqlalchemy_url(dsn: str) -> str:
    name = dsn.rsplit("dbname=", 1)[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


# -- contenders --------------------------------------------------------------
class Tributary:
    """``python -m core apply`` then ``python -m core run --json`` in a fresh workspace."""

    def __init__(self, python: str, store: str, profile: str | None = None) -> None:
        self.python, self.store, self.profile = python, store, profile
        self.summaries: list[dict[str, object]] = []
        self.reruns: list[Measure] = []

    def __call__(self, source: Path, rerun: bool = False) -> Measure:
        folder = Path(tempfile.mkdtemp(prefix="tributary-bench-ws-"))
        drop = None
        if self.store == "sqlite":
            url = f"sqlite:///{folder / 'tributary.db'}"
        else:
            dsn, drop = postgres_database()
            url = sqlalchemy_url(dsn)
        env = {
            "TRIBUTARY_WORKSPACE": str(folder),
            "TRIBUTARY_DATABASE_URL": url,
            "TRIBUTARY_DEMO": "0",
        }
        config = folder / "tributary.yml"
        config.write_text(
            TRIBUTARY_YAML.format(folder=source.parent, stream=source.name, chunk=CHUNK), encoding="utf-8"
        )
        try:
            measure([self.python, "-m", "core", "apply", str(config)], env)
            command = [self.python, "-m", "core", "run", "crm_export", "--json"]
            if self.profile:
                command = self._profiled(command)
            result = measure(command, env)
            summary = json.loads(next(line for line in result.output.splitlines()[::-1] if line[:1] == "{"))
            if summary["status"] == "failed":
                raise RuntimeError(f"the Tributary run failed: {summary}")
            self.summaries.append(summary)
            if rerun:
                again = measure([self.python, "-m", "core", "run", "crm_export", "--json"], env)
                self.reruns.append(again)
                print(f"  the same run again, unchanged ({self.store}): {again.wall_s:.1f} s", flush=True)
            return result
        finally:
            if drop is not None:
                drop()
            shutil.rmtree(folder, ignore_errors=True)

    def _profiled(self, command: list[str]) -> list[str]:
        assert self.profile is not None
        spy = shutil.which("py-spy", path=str(Path(self.python).parent)) or "py-spy"
        kind = "flamegraph" if self.profile.endswith(".svg") else "raw"
        return [
            spy,
            "record",
            "--rate",
            str(PROFILE_RATE),
            "--format",
            kind,
            "-o",
            self.profile,
            "--",
            *command,
        ]


def dlt_loader(python: str, destination: str) -> Callable[[Path], Measure]:
    def load(source: Path) -> Measure:
        folder = Path(tempfile.mkdtemp(prefix="tributary-bench-dlt-"))
        script = folder / "load.py"
        script.write_text(DLT_SCRIPT.format(chunk=CHUNK), encoding="utf-8")
        target = folder / ("crm.duckdb" if destination == "duckdb" else "crm.db")
        env = {"RUNTIME__LOG_LEVEL": "WARNING", "DLT_DATA_DIR": str(folder / "data")}
        try:
            return measure(
                [python, str(script), str(source), destination, str(target), str(folder / "pipelines")],
                env,
                cwd=folder,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return load


def pandas_loader(python: str) -> Callable[[Path], Measure]:
    def load(source: Path) -> Measure:
        folder = Path(tempfile.mkdtemp(prefix="tributary-bench-pandas-"))
        script = folder / "load.py"
        script.write_text(PANDAS_SCRIPT.format(columns=COLUMNS, chunk=CHUNK), encoding="utf-8")
        try:
            return measure([python, str(script), str(source), str(folder / "bench.db")])
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return load


def copy_loader(python: str, mode: str) -> Callable[[Path], Measure]:
    def load(source: Path) -> Measure:
        folder = Path(tempfile.mkdtemp(prefix="tributary-bench-copy-"))
        script = folder / "load.py"
        script.write_text(COPY_SCRIPT.format(columns=COLUMNS, chunk=CHUNK), encoding="utf-8")
        dsn, drop = postgres_database()
        try:
            return measure([python, str(script), str(source), dsn, mode])
        finally:
            drop()
            shutil.rmtree(folder, ignore_errors=True)

    return load


# -- where a run's time goes -------------------------------------------------
#: (stage, a frame that marks it), the first match from the top wins: a stack in the identity
#: graph's code counts there even when it calls pandas or SQLAlchemy.
STAGES = (
    ("startup: import Great Expectations", "_build_state (core/quality/_gx.py"),
    ("drift check (a sample read first)", "DataflowRun._check_drift"),
    ("identity graph (write + maintain)", "DataflowRun._write_identities"),
    ("quarantine: write rows", "DataflowRun._write_errors"),
    ("write records (upsert)", "DataflowRun._write_records"),
    ("quarantine: rows as received", "_with_rows (core/chunks.py"),
    ("validate (Great Expectations)", "core/quality/"),
    ("map (expressions, types)", "core/mapping/"),
    ("key, watermark, split good/bad", "ChunkProcessor.prepare"),
    ("read + parse CSV", "connectors/"),
    ("commit (one transaction per chunk)", "_GeneratorContextManager.__exit__"),
    ("bookkeeping (lease, counters, cursor state)", "DataflowRun."),
)


MAIN_THREAD = "_run_module_as_main"
OTHER_THREADS = "(other threads: the lease heartbeat)"


def stage_shares(collapsed: Path) -> dict[str, int]:
    """Samples per stage of a py-spy ``--format raw`` profile (collapsed stacks)."""
    shares: dict[str, int] = {}
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack.startswith(MAIN_THREAD):
            # the lease's heartbeat thread, mostly waiting: not the run's time
            shares[OTHER_THREADS] = shares.get(OTHER_THREADS, 0) + int(count)
            continue
        stage = next((name for name, marker in STAGES if marker in stack), "startup: imports, open the store")
        shares[stage] = shares.get(stage, 0) + int(count)
    return shares


def print_stages(collapsed: Path, rate: int) -> None:
    shares = stage_shares(collapsed)
    others = shares.pop(OTHER_THREADS, 0)
    total = sum(shares.values())
    print(f"where the run's time goes ({total / rate:.0f} s of the main thread sampled at {rate} Hz):")
    for stage, samples in sorted(shares.items(), key=lambda item: -item[1]):
        print(f"  {stage:45s} {samples / rate:7.1f} s {samples / total:6.1%}")
    print(f"  {OTHER_THREADS:45s} {others / rate:7.1f} s (not counted)")


# -- the preview -------------------------------------------------------------
def preview_times(python: str, source: Path, repeat: int = 5) -> dict[str, list[float]]:
    """Seconds per 1,000-row preview of a big CSV object and of a 10 M-row PostgreSQL table."""
    folder = Path(tempfile.mkdtemp(prefix="tributary-bench-preview-"))
    script = folder / "preview.py"
    script.write_text(PREVIEW_SCRIPT, encoding="utf-8")
    url = f"sqlite:///{folder / 'tributary.db'}"
    env = {
        "TRIBUTARY_WORKSPACE": str(folder),
        "TRIBUTARY_DATABASE_URL": url,
        "TRIBUTARY_DEMO": "0",
        "PYTHONPATH": str(ROOT),  # the script lives in the temporary folder
    }
    dsn, drop = postgres_database()
    name = dsn.rsplit("dbname=", 1)[1]
    config = folder / "tributary.yml"
    config.write_text(
        textwrap.dedent(f"""\
            connections:
              big_files:
                connector: files
                config: {{url: "{source.parent}"}}
              big_db:
                connector: postgres
                config: {{host: 127.0.0.1, port: 5432, database: {name}, username: postgres}}
            """),
        encoding="utf-8",
    )
    try:
        import psycopg

        with psycopg.connect(dsn) as conn:
            # 10 M rows shaped like the export, made by the server (faster than loading the file)
            conn.execute(
                "CREATE TABLE customers AS SELECT 'C' || lpad(n::text, 9, '0') AS customer_id, "
                "'first' || (n % 50) AS first_name, 'last' || (n % 50) AS last_name, "
                "'user' || n || '@example.com' AS email, (n % 100000)::int AS loyalty_points, "
                "timestamptz '2015-01-01' + n * interval '17 seconds' AS updated_at "
                "FROM generate_series(1, 10000000) AS n"
            )
            conn.execute("ALTER TABLE customers ADD PRIMARY KEY (customer_id)")
            conn.execute("ANALYZE customers")
        measure([python, "-m", "core", "apply", str(config)], env)
        times: dict[str, list[float]] = {}
        for connection, stream, label in (
            ("big_files", source.name, f"CSV object, {source.stat().st_size / 1e9:.1f} GB"),
            ("big_db", "public.customers", "PostgreSQL table, 10 M rows"),
        ):
            result = measure([python, str(script), url, connection, stream, str(repeat)], env)
            payload = json.loads(result.output.strip().splitlines()[-1])
            times[label] = payload["times"]
        return times
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)


# -- the run -----------------------------------------------------------------
def contenders(args: argparse.Namespace) -> tuple[list[Contender], dict[str, Tributary]]:
    python, peers = args.python, args.peers_python
    stores = set(args.stores.split(","))
    wanted = set(args.contenders.split(",")) if args.contenders != "all" else None
    runs: dict[str, Tributary] = {}
    chosen: list[Contender] = []

    def add(name: str, store: str, load: Callable[[Path], Measure]) -> None:
        if (wanted is None or name in wanted) and (store in stores or store == "duckdb"):
            chosen.append(Contender(name, store, load))

    for store in ("sqlite", "postgresql"):
        if store in stores and (wanted is None or "tributary" in wanted):
            runs[store] = Tributary(python, store)
            first = not chosen

            def tributary_load(source: Path, run: Tributary = runs[store], rerun: bool = first) -> Measure:
                return run(source, rerun=rerun and not run.reruns)

            chosen.append(Contender("tributary", store, tributary_load))
    add("dlt", "sqlite", dlt_loader(peers, "sqlalchemy"))
    if "sqlite" in stores:
        add("dlt", "duckdb", dlt_loader(peers, "duckdb"))
    add("pandas", "sqlite", pandas_loader(python))
    add("copy", "postgresql", copy_loader(python, "merge"))
    add("copy-only", "postgresql", copy_loader(python, "copy-only"))
    return chosen, runs


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--contenders",
        default="all",
        help="comma-separated: tributary, dlt, pandas, copy, copy-only (none: only --preview/--memory-rows)",
    )
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--memory-rows", type=int, default=0, help="also run Tributary alone on this many")
    parser.add_argument("--preview", action="store_true", help="time the 1,000-row previews")
    parser.add_argument("--preview-rows", type=int, default=7_000_000, help="rows of the ~1 GB object")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tributary-bench")
    parser.add_argument("--python", default=sys.executable, help="interpreter for Tributary and scripts")
    parser.add_argument("--peers-python", default=sys.executable, help="interpreter that has dlt")
    parser.add_argument(
        "--profile", help="py-spy one Tributary run (on the first of --stores) into this .svg (or raw .txt)"
    )
    args = parser.parse_args()

    source = ensure_export(args.data / "1", args.rows) if args.rows else None
    if args.profile and source is not None:
        run = Tributary(args.python, args.stores.split(",")[0], profile=args.profile)
        result = run(source)
        print(f"wrote the profile of one Tributary run to {args.profile}: {result.wall_s:.0f} s")
        print(run.summaries[0])
        if not args.profile.endswith(".svg"):
            print_stages(Path(args.profile), PROFILE_RATE)
        return
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}: "
        f"{args.rows:,} rows, {args.repeat} rounds, contenders alternated",
        flush=True,
    )
    chosen, runs = contenders(args)
    for round_number in range(args.repeat if source is not None and chosen else 0):
        shift = round_number % len(chosen)
        for contender in chosen[shift:] + chosen[:shift]:
            result = contender.load(source)  # type: ignore[arg-type]
            contender.walls.append(result.wall_s)
            contender.cpus.append(result.cpu_s)
            contender.peaks.append(result.peak_mb)
            print(
                f"  round {round_number + 1}: {contender.label:24s} {result.wall_s:7.1f} s "
                f"(cpu {result.cpu_s:6.1f} s) {result.peak_mb:6.0f} MB",
                flush=True,
            )
    big_peak = None
    if args.memory_rows:
        big = ensure_export(args.data / "memory", args.memory_rows)
        run = Tributary(args.python, "sqlite")
        result = run(big)
        big_peak = result.peak_mb, result.wall_s
        print(
            f"  tributary / sqlite at {args.memory_rows:,} rows: "
            f"{result.wall_s:.0f} s {result.peak_mb:.0f} MB"
        )
    previews = None
    if args.preview:
        try:
            previews = preview_times(args.python, ensure_export(args.data / "preview", args.preview_rows))
        except Exception as error:  # the load figures above are still worth printing
            print(f"the preview benchmark failed: {error}")
    report(args, chosen, runs, big_peak, previews)


def print_table(rows: int, chosen: list[Contender], runs: dict[str, Tributary]) -> None:
    """The contenders' medians, side by side."""
    reference = {c.store: median(c.walls) for c in chosen if c.name == "tributary"}
    print()
    print(
        f"{'contender':12s} {'store':11s} {'rows':>10s} {'wall s':>8s} {'rows/s':>9s} "
        f"{'peak MB':>8s} {'vs Tributary':>13s} {'cpu s':>8s}"
    )
    for c in chosen:
        wall = median(c.walls)
        ref = reference.get(c.store if c.store != "duckdb" else "sqlite")
        ratio = f"{ref / wall:.2f}x" if ref and c.walls else "—"
        print(
            f"{c.name:12s} {c.store:11s} {rows:>10,} {wall:8.1f} {rows / wall:9,.0f} {median(c.peaks):8.0f} "
            f"{ratio:>13s} {median(c.cpus):8.1f}"
        )
    print(
        "(vs Tributary: the contender's speed over Tributary's on the same store, DuckDB against SQLite; "
        "cpu s: the contender process's user + system time, which a busy neighbour distorts least; "
        "the PostgreSQL server's own CPU is not in it)"
    )
    for store, run in runs.items():
        if run.summaries:
            s = run.summaries[-1]
            own = median([float(x["duration_s"]) for x in run.summaries])  # type: ignore[arg-type]
            print(
                f"tributary/{store}: received {s['received']:,}, ingested {s['ingested']:,}, "
                f"quarantined {s['failed']:,}; the run's own duration {own:.1f} s (without process start)"
            )


def report(
    args: argparse.Namespace,
    chosen: list[Contender],
    runs: dict[str, Tributary],
    big_peak: tuple[float, float] | None,
    previews: dict[str, list[float]] | None,
) -> None:
    """Prints the table and the targets."""
    rows = args.rows
    if any(c.walls for c in chosen):
        print_table(rows, chosen, runs)
    print()
    targets: list[tuple[str, bool | None, str]] = []

    def speed(name: str, store: str) -> float | None:
        found = [median(c.walls) for c in chosen if c.name == name and c.store == store and c.walls]
        return rows / found[0] if found else None

    tri_sqlite, tri_pg = speed("tributary", "sqlite"), speed("tributary", "postgresql")
    dlt_sqlite, hand = speed("dlt", "sqlite"), speed("pandas", "sqlite")
    copy_merge = speed("copy", "postgresql")
    if tri_sqlite and dlt_sqlite:
        ratio = tri_sqlite / dlt_sqlite
        targets.append(("SQLite: ≥ 3x dlt's rows/s, validation included", ratio >= 3, f"{ratio:.2f}x"))
    if tri_sqlite and hand:
        ratio = tri_sqlite / hand
        targets.append(("SQLite: faster than the hand-written pandas script", ratio > 1, f"{ratio:.2f}x"))
    if tri_pg and copy_merge:
        ratio = tri_pg / copy_merge
        targets.append(("PostgreSQL: at least as fast as COPY + ON CONFLICT", ratio >= 1, f"{ratio:.2f}x"))
    peaks = [median(c.peaks) for c in chosen if c.name == "tributary" and c.peaks]
    if peaks:
        peak = max(peaks)
        targets.append((f"peak memory < 400 MB at {rows:,} rows", peak < 400, f"{peak:.0f} MB"))
    if big_peak and "sqlite" in runs and runs["sqlite"].summaries:
        small = median(next(c for c in chosen if c.name == "tributary" and c.store == "sqlite").peaks)
        grow = big_peak[0] / small
        targets.append(
            (f"peak memory < 400 MB at {args.memory_rows:,} rows", big_peak[0] < 400, f"{big_peak[0]:.0f} MB")
        )
        targets.append((f"peak {args.memory_rows:,} / {rows:,} < 1.15", grow < 1.15, f"{grow:.2f}"))
    first = next((run for run in runs.values() if run.reruns), None)
    if first is not None:
        full = median(next(c for c in chosen if c.name == "tributary" and c.store == first.store).walls)
        again = first.reruns[0].wall_s
        targets.append(
            (
                "unchanged incremental rerun < 5 % of the full run",
                again / full < 0.05,
                f"{again:.1f} s = {again / full:.1%}",
            )
        )
    for label, times in (previews or {}).items():
        best = median(times)
        targets.append((f"preview of 1,000 rows, {label}: < 1 s", best < 1, f"median {best:.2f} s"))
    for label, passed, figure in targets:
        print(f"{'PASS' if passed else 'FAIL'}  {label}: {figure}")


if __name__ == "__main__":
    main()
