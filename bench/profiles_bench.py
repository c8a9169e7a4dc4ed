"""How long the identity graph takes per chunk, through real runs of three dataflows.

Run from the repository root::

    python -m bench.profiles_bench [--records 100000] [--chunk 50000] [--database URL]

Generates people across a CRM, shop orders and loyalty cards (the tests'
generator: noisy emails and phones, shared placeholders, duplicate CRM
accounts), writes them as CSV, and runs the three dataflows into a fresh
workspace (SQLite in a temporary folder, or the PostgreSQL ``--database``
given; its tables are created there, so give an empty database). Each chunk's
graph work is timed in two steps: writing the identities (normalise, block,
diff against the stored links) and maintaining the profiles (the affected
components, re-clustered and written). Then a second full refresh of the
orders (nothing changed: the graph work is only the diff) and a full
rebuild. Prints one line per dataflow and the figures; checks the result
against the generated truth.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core import profiles
from core.store import tables as t
from tests.profiles import datasets

os.environ.setdefault("TRIBUTARY_SCHEDULER", "0")


class _Timer:
    """Wraps the graph's entry points and records each call's duration."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {"write_identities": [], "maintain": []}
        self._originals: dict[str, Callable[..., Any]] = {}

    def __enter__(self) -> _Timer:
        for name in self.calls:
            original = getattr(profiles, name)
            self._originals[name] = original
            setattr(profiles, name, self._timed(name, original))
        return self

    def __exit__(self, *_: object) -> None:
        for name, original in self._originals.items():
            setattr(profiles, name, original)

    def _timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.calls[name].append(time.perf_counter() - started)

        return timed

    def reset(self) -> None:
        for values in self.calls.values():
            values.clear()

    def line(self) -> str:
        write, maintain = self.calls["write_identities"], self.calls["maintain"]
        per_chunk = [a + b for a, b in zip(write, maintain, strict=True)]
        if not per_chunk:
            return "no chunks"
        return (
            f"{len(per_chunk)} chunks; graph per chunk: median {statistics.median(per_chunk):.2f} s, "
            f"max {max(per_chunk):.2f} s (identities {statistics.median(write):.2f} s + "
            f"profiles {statistics.median(maintain):.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records over the three dataflows")
    parser.add_argument("--chunk", type=int, default=50_000, help="the dataflows' chunk size")
    parser.add_argument("--database", help="an empty PostgreSQL database URL (default: SQLite)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="profiles_bench_"))
    os.environ["TRIBUTARY_WORKSPACE"] = str(folder / "workspace")
    os.environ["TRIBUTARY_DATABASE_URL"] = (
        args.database or f"sqlite:///{folder / 'workspace' / 'tributary.db'}"
    )
    from core.services import Workspace

    started = time.perf_counter()
    generated = datasets.generate(
        persons=max(args.records // 3, 1), seed=args.seed, duplicates=50, guests=500
    )
    generated.write(folder / "source")
    total = sum(len(frame) for frame in generated.frames().values())
    print(
        f"generated {total:,} records in {time.perf_counter() - started:.1f} s; store {_kind(args.database)}"
    )

    workspace = Workspace.open()
    datasets.setup(workspace, folder / "source", chunk_size=args.chunk)
    with _Timer() as timer:
        for name in ("crm", "orders", "loyalty"):
            timer.reset()
            summary = workspace.run(name)
            print(f"{name:8} {summary.ingested:>9,} records in {summary.duration_s:6.1f} s; {timer.line()}")
        timer.reset()
        summary = workspace.run("orders")
        print(f"orders again (unchanged) in {summary.duration_s:.1f} s; {timer.line()}")
    started = time.perf_counter()
    profiles.rebuild(workspace.engine)
    print(f"rebuild of the whole graph: {time.perf_counter() - started:.1f} s")
    _check(workspace, generated)


def _check(workspace: Any, generated: datasets.Generated) -> None:
    with workspace.engine.connect() as conn:
        names = dict(conn.execute(select(t.dataflows.c.id, t.dataflows.c.name)).all())
        members = t.profile_members.c
        rows = [
            (names[d], k, p)
            for d, k, p in conn.execute(select(members.dataflow_id, members.source_key, members.profile_id))
        ]
    false, missed = datasets.merge_errors(datasets.partition(rows), datasets.partition(generated.truth))
    print(
        f"{len({p for *_, p in rows}):,} profiles from {len(rows):,} records; "
        f"false merges {len(false)}, missed merges {len(missed)}"
    )


def _kind(url: str | None) -> str:
    return "PostgreSQL" if url else "SQLite"


if __name__ == "__main__":
    main()
