"""How long mapping suggestions take on a preview-sized sample (1,000 rows x 30 text columns).

Run from the repository root::

    python -m bench.suggest_bench [--rows 1000] [--repeat 50]

The sample mixes what customer files hold, as the files connector delivers it
(every value text): identifiers, names, emails, phones, countries, ISO and
day-first dates, timestamps, flags, numbers, free text, and columns named
col1..colN. Prints the first call (which also indexes the schema's names) and
the median and best of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from core.mapping import ProfileSchema, suggest


def sample_frame(rows: int, seed: int = 3) -> pd.DataFrame:
    """A 30-column customer sample, all text, built without a loop over rows."""
    rng = np.random.default_rng(seed)
    ids = pd.Series(np.arange(1, rows + 1)).astype(str)

    def pick(*values: str) -> pd.Series:
        return pd.Series(np.array(values)[rng.integers(0, len(values), rows)])

    def digits(low: int, high: int) -> pd.Series:
        return pd.Series(rng.integers(low, high, rows)).astype(str)

    days = pd.Series(pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, rows), unit="D"))
    stamps = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 3e7, rows), unit="s"))
    first = pick("Anna", "Ben", "Chloé", "David", "Elena", "Farid")
    columns = {
        "Customer ID": ids,
        "First Name": first,
        "Last Name": pick("Müller", "Martin", "García", "Rossi", "Nowak"),
        "E-mail": first.str.lower() + "." + ids + "@example.com",
        "Mobile": "+33 6" + digits(10000000, 99999999),
        "Home Phone": "01 " + digits(10000000, 99999999),
        "DOB": days.dt.strftime("%d/%m/%Y"),
        "Gender": pick("F", "M", "X"),
        "Street": digits(1, 200) + " rue de la Paix",
        "City": pick("Paris", "Lyon", "Berlin", "Madrid"),
        "Zip": digits(10000, 99999),
        "Country": pick("FR", "DE", "ES", "it"),
        "Language": pick("fr", "de", "en", "es"),
        "Loyalty Number": "L" + digits(100000, 999999),
        "Points": digits(0, 20000),
        "Tier": pick("bronze", "silver", "gold"),
        "Member Since": (days + pd.Timedelta(days=20000)).dt.strftime("%Y-%m-%d"),
        "Email Opt In": pick("yes", "no"),
        "SMS Opt In": pick("true", "false"),
        "Total Spent": pd.Series(np.round(rng.gamma(2.0, 80.0, rows), 2)).astype(str),
        "Orders": digits(0, 60),
        "Last Order": stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Created": stamps.dt.strftime("%d/%m/%Y %H:%M"),
        "Updated At": stamps.dt.strftime("%Y-%m-%d %H:%M:%S"),
        "Notes": pick("called back", "VIP", "prefers email", ""),
        "Source": pick("web", "store", "app"),
        "col1": "user" + ids + "@mail.example.org",
        "col2": "+44 7700 9" + digits(10000, 99999),
        "field_3": days.dt.strftime("%m/%d/%Y"),
        "col4": pick("Germany", "France", "Spain", "United Kingdom"),
    }
    return pd.DataFrame(columns).astype("str")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    frame = sample_frame(args.rows)
    schema = ProfileSchema.default()
    start = time.perf_counter()
    suggestions = suggest(frame, schema)
    first = time.perf_counter() - start
    wall, cpu = [], []
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        suggest(frame, schema)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(f"suggest: {len(frame):,} rows x {frame.shape[1]} columns, {len(suggestions)} columns mapped")
    median_wall, median_cpu = statistics.median(wall) * 1000, statistics.median(cpu) * 1000
    print(f"  first call  {first * 1000:6.1f} ms (also indexes the schema's names)")
    print(f"  median      {median_wall:6.1f} ms wall, {median_cpu:.1f} ms CPU")
    print(f"  best        {min(wall) * 1000:6.1f} ms wall, over {args.repeat} runs")


if __name__ == "__main__":
    main()
