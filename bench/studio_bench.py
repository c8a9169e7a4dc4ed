"""Live-preview latency of the mapping studio: one edit re-maps the cached 1,000-row sample.

Run from the repository root::

    python -m bench.studio_bench [--rows 1000] [--repeat 30]

Builds a throwaway workspace with the demo (CRM contacts, nine mapped fields
with expressions and identities), reads the sample once as the studio does,
then times what every edit costs: ``Studio.map_frame`` (compile each field,
map, per-field counts), without and with the quality suite (Great
Expectations). The target for the live preview is under 200 ms; the
suite check runs only when asked. Prints median and best of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def timed(action, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median and best wall time of ``action`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tributary-bench-")) / "workspace"
    os.environ["TRIBUTARY_WORKSPACE"] = str(folder)
    os.environ["TRIBUTARY_DATABASE_URL"] = f"sqlite:///{folder / 'tributary.db'}"

    from core.services import Workspace

    workspace = Workspace.open(demo=True)
    studio = workspace.studio
    spec = workspace.dataflow_spec("crm_contacts")
    start = time.perf_counter()
    sample = studio.sample(spec, args.rows)
    read_ms = (time.perf_counter() - start) * 1000
    studio.map_frame(spec, sample, validate=True)  # warm: imports Great Expectations once

    edited = spec.model_copy(update={"mapping": {**spec.mapping, "loyalty.tier": "upper(tier)"}})
    live = timed(lambda: studio.map_frame(edited, sample, validate=False), args.repeat)
    checked = timed(lambda: studio.map_frame(edited, sample, validate=True), max(args.repeat // 3, 3))
    print(f"sample: {len(sample):,} rows x {len(sample.columns)} columns, read once in {read_ms:.0f} ms")
    print(f"live preview (map + field checks): median {live[0]:.1f} ms, best {live[1]:.1f} ms (target < 200)")
    print(
        f"with the quality suite ({len(spec.quality)} expectations): "
        f"median {checked[0]:.1f} ms, best {checked[1]:.1f} ms"
    )
    print(f"suite check / live preview: {checked[0] / live[0]:.1f}x")


if __name__ == "__main__":
    main()
