"""A deterministic, realistic CRM export CSV for the ingest benchmarks, written in bounded chunks.

Run from the repository root::

    python -m bench.crm_export OUT.csv [--rows 1000000] [--seed 7] [--chunk 100000]

Writes ``--rows`` customers with 13 columns — ``customer_id``, ``first_name``,
``last_name``, ``email``, ``phone``, ``country``, ``city``, ``postal_code``,
``birth_date``, ``loyalty_points``, ``tier``, ``signup_at``, ``updated_at`` —
the way CRM exports look: names with accents and apostrophes, phones in
national and international formats, country codes in mixed case, empty
optional values. About 2 % of the rows carry one dirty value, each kind at a
fixed rate (:data:`DIRTY_RATES`): a malformed email, an unparseable birth
date, an empty customer id, stray whitespace (around names, emails and
countries; a trimming mapping repairs it). Customer ids are unique (``C`` and
nine digits), so every non-empty id is one record.

The file is the same bytes for the same ``--rows``, ``--seed`` and ``--chunk`` (each chunk
draws from its own generator, seeded by ``(seed, chunk number)``), and memory
stays flat: one chunk of ``--chunk`` rows at a time, written to ``OUT.csv.part``
then renamed. About 150 bytes a row: 1 M rows ≈ 150 MB, 10 M ≈ 1.5 GB.
Prints the rows, bytes, dirty counts and time taken.
"""

from __future__ import annotations

import argparse
import os
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "city",
    "postal_code",
    "birth_date",
    "loyalty_points",
    "tier",
    "signup_at",
    "updated_at",
)
#: The share of rows given each kind of dirty value (a row gets at most one).
DIRTY_RATES = {"bad_email": 0.006, "bad_birth_date": 0.005, "empty_id": 0.003, "whitespace": 0.006}

FIRST_NAMES = (  # noqa: SIM905 (words read better than a list of quoted names)
    "Ann Ben Chloé David Elena Farid Greta Hugo Inès Jakub Katarzyna Léa Marco Nadia Oskar Paula "
    "Quentin Rosa Sébastien Tomasz Ulla Victor Wiebke Xavier Yara Zoë Émile Björn Sinéad Đorđe "
    "Agnieszka Lucas Emma Noah Mia Louis Sofia Mateo Julia Liam Hannah Leon Clara Jonas Alice "
    "Pierre Maria Jan Anna Paul"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Müller Martin García Rossi Nowak Jansen O'Brien Silva Schmidt Bernard López Bianchi "
    "Kowalski Dubois Fernández Romano Wiśniewski Bakker Murphy Santos Fischer Petit Martínez "
    "Ricci Wójcik Visser Kelly Costa Weber Moreau Sánchez Colombo Kamiński DeVries Byrne Pereira "
    "Meyer Laurent Gómez Greco Lewandowski Smit Walsh Oliveira Wagner Lefèvre Díaz Marino "
    "Zieliński Dijkstra"
).split()
DOMAINS = ["gmail.com", "yahoo.fr", "web.de", "outlook.com", "orange.fr", "libero.it", "example.org"]
#: country code as typed (mixed case), cities, the postal code's digits and the phone prefix.
COUNTRIES = [
    ("DE", ["Berlin", "Hamburg", "München", "Köln"], 5, "+49"),
    ("FR", ["Paris", "Lyon", "Marseille", "Lille"], 5, "+33"),
    ("ES", ["Madrid", "Barcelona", "Sevilla", "València"], 5, "+34"),
    ("IT", ["Roma", "Milano", "Napoli", "Torino"], 5, "+39"),
    ("PL", ["Warszawa", "Kraków", "Łódź", "Wrocław"], 5, "+48"),
    ("NL", ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag"], 4, "+31"),
    ("GB", ["London", "Manchester", "Leeds", "Bristol"], 4, "+44"),
    ("fr", ["Nantes", "Bordeaux"], 5, "+33"),
    ("de", ["Dresden", "Leipzig"], 5, "+49"),
]
COUNTRY_WEIGHTS = np.array([0.2, 0.2, 0.12, 0.12, 0.1, 0.08, 0.1, 0.04, 0.04])
TIERS = ["bronze", "silver", "gold", "platinum", "Gold"]
TIER_WEIGHTS = np.array([0.55, 0.25, 0.12, 0.05, 0.03])
BAD_EMAILS = ["n/a", "unknown", "john.doe@", "@example.com", "jane doe@mail.com", "x@y"]
BAD_DATES = ["31/02/1985", "1985-13-45", "not a date", "19xx-01-01", "00/00/0000"]
_CITIES = [city for _, cities, _, _ in COUNTRIES for city in cities]
_CITY_OFFSETS = np.cumsum([0] + [len(cities) for _, cities, _, _ in COUNTRIES[:-1]])


def _ascii_lower(name: str) -> str:
    """A name as people type it in an address: lower case, accents dropped."""
    folded = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalpha())


_EMAIL_FIRST = [_ascii_lower(name) for name in FIRST_NAMES]
_EMAIL_LAST = [_ascii_lower(name) for name in LAST_NAMES]
SIGNUP_START = np.datetime64("2015-01-01T00:00:00", "s")
EXPORT_TIME = np.datetime64("2026-11-01T00:00:00", "s")


@dataclass(frozen=True)
class Written:
    """What :func:`write_export` wrote."""

    path: Path
    rows: int
    bytes: int
    dirty: dict[str, int]
    seconds: float


def _take(values: Sequence[str], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index))


def _pick(
    rng: np.random.Generator, values: Sequence[str], n: int, weights: np.ndarray | None = None
) -> pa.Array:
    return _take(values, rng.choice(len(values), size=n, p=weights))


def _digits(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, padding="0")


def _iso(stamps: np.ndarray) -> pa.Array:
    """UTC timestamps as ISO 8601 text with a Z (arrow's cast, then the T; strftime is 200x slower)."""
    text = pc.cast(pa.array(stamps), pa.string())
    return _join(pc.utf8_slice_codeunits(text, 0, 10), "T", pc.utf8_slice_codeunits(text, 11, 19), "Z")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def chunk_table(start: int, n: int, seed: int) -> tuple[pa.Table, dict[str, int]]:
    """Rows ``start`` .. ``start + n`` of the export and how many of each dirty kind they hold."""
    rng = np.random.default_rng([seed, start])
    numbers = np.arange(start, start + n)
    first_index = rng.integers(0, len(FIRST_NAMES), n)
    last_index = rng.integers(0, len(LAST_NAMES), n)
    first, last = _take(FIRST_NAMES, first_index), _take(LAST_NAMES, last_index)
    email = _join(
        _take(_EMAIL_FIRST, first_index),
        ".",
        _take(_EMAIL_LAST, last_index),
        pc.cast(pa.array(numbers), pa.string()),
        "@",
        _pick(rng, DOMAINS, n),
    )
    typed_case = pa.array(rng.random(n) < 0.05)  # some exports keep the case people typed
    email = pc.if_else(typed_case, pc.utf8_title(email), email)

    country_index = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS)
    city_index = rng.integers(0, 1 << 30, n) % np.array([len(c[1]) for c in COUNTRIES])[country_index]
    city = _take(_CITIES, _CITY_OFFSETS[country_index] + city_index)
    width = np.array([c[2] for c in COUNTRIES])[country_index]
    postal = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**width)), pa.string()), 5, padding="0")
    postal = pc.if_else(pa.array(width == 4), pc.utf8_slice_codeunits(postal, 1), postal)
    subscriber = _digits(rng.integers(0, 10**9, n), 9)
    head, middle, tail = (pc.utf8_slice_codeunits(subscriber, a, b) for a, b in ((0, 1), (1, 5), (5, 9)))
    national = pa.array(rng.random(n) < 0.4)  # "06 1234 5678" against "+33 6 1234 5678"
    phone = pc.if_else(
        national,
        _join("0", head, " ", middle, " ", tail),
        _join(_take([c[3] for c in COUNTRIES], country_index), " ", head, " ", middle, " ", tail),
    )
    empty = pa.scalar("", pa.string())
    phone = pc.if_else(pa.array(rng.random(n) < 0.08), empty, phone)  # optional: 8 % have none

    born = np.datetime64("1940-01-01") + rng.integers(0, 365 * 65, size=n).astype("timedelta64[D]")
    birth_date = pc.if_else(pa.array(rng.random(n) < 0.05), empty, pc.cast(pa.array(born), pa.string()))
    points = pc.cast(pa.array(rng.gamma(1.5, 900, size=n).astype(np.int64)), pa.string())
    points = pc.if_else(pa.array(rng.random(n) < 0.03), empty, points)
    span = int((EXPORT_TIME - SIGNUP_START) / np.timedelta64(1, "s"))
    signup = SIGNUP_START + rng.integers(0, span, size=n).astype("timedelta64[s]")
    updated = signup + (rng.random(n) * (EXPORT_TIME - signup).astype(np.int64)).astype("timedelta64[s]")

    columns = {
        "customer_id": _join("C", _digits(numbers, 9)),
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "country": _take([c[0] for c in COUNTRIES], country_index),
        "city": city,
        "postal_code": postal,
        "birth_date": birth_date,
        "loyalty_points": points,
        "tier": _pick(rng, TIERS, n, TIER_WEIGHTS),
        "signup_at": _iso(signup),
        "updated_at": _iso(updated),
    }
    counts = _dirty(columns, rng, n)
    return pa.table(columns), counts


def _dirty(columns: dict[str, pa.Array], rng: np.random.Generator, n: int) -> dict[str, int]:
    """Gives each dirty kind its share of rows, at most one kind a row (changes ``columns``)."""
    draw = rng.random(n)
    counts: dict[str, int] = {}
    low = 0.0
    for kind, rate in DIRTY_RATES.items():
        rows = (draw >= low) & (draw < low + rate)
        low += rate
        counts[kind] = int(rows.sum())
        mask = pa.array(rows)
        if kind == "bad_email":
            columns["email"] = pc.if_else(mask, _pick(rng, BAD_EMAILS, n), columns["email"])
        elif kind == "bad_birth_date":
            columns["birth_date"] = pc.if_else(mask, _pick(rng, BAD_DATES, n), columns["birth_date"])
        elif kind == "empty_id":
            columns["customer_id"] = pc.if_else(mask, pa.scalar("", pa.string()), columns["customer_id"])
        else:
            for name in ("first_name", "email", "country"):
                columns[name] = pc.if_else(mask, _join("  ", columns[name], " "), columns[name])
    return counts


def write_export(path: Path, rows: int, seed: int = 7, chunk: int = 100_000) -> Written:
    """Writes the export to ``path`` (through ``path.part``, renamed when complete)."""
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    dirty = dict.fromkeys(DIRTY_RATES, 0)
    # unquoted, as most CRM exports are: no generated value holds a comma, a quote or a newline
    options = csv.WriteOptions(include_header=False, quoting_style="none")
    with partial.open("wb") as out:
        out.write((",".join(COLUMNS) + "\n").encode())
        for start in range(0, rows, chunk):
            table, counts = chunk_table(start, min(chunk, rows - start), seed)
            csv.write_csv(table, out, options)
            for kind, count in counts.items():
                dirty[kind] += count
    os.replace(partial, path)
    return Written(path, rows, path.stat().st_size, dirty, time.perf_counter() - started)


def ensure_export(folder: Path, rows: int, seed: int = 7) -> Path:
    """The export of ``rows`` rows in ``folder`` (``crm_<rows>_s<seed>.csv``), written if missing."""
    path = folder / f"crm_{rows}_s{seed}.csv"
    if not path.exists():
        written = write_export(path, rows, seed)
        print(f"wrote {written.path} ({written.bytes / 1e6:,.0f} MB) in {written.seconds:.0f} s", flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=100_000, help="rows generated and written at a time")
    args = parser.parse_args()
    written = write_export(args.path, args.rows, args.seed, args.chunk)
    share = sum(written.dirty.values()) / max(written.rows, 1)
    print(
        f"{written.path}: {written.rows:,} rows, {written.bytes / 1e6:,.1f} MB in {written.seconds:.1f} s; "
        f"dirty {share:.2%}: " + ", ".join(f"{kind} {count:,}" for kind, count in written.dirty.items())
    )


if __name__ == "__main__":
    main()
