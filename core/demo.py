"""The demo workspace: realistic, slightly dirty CRM contacts and shop orders.

Generated deterministically (a fixed seed, no downloads) into the workspace
folder, with a connection and two dataflows that are run once, so the
dashboard and the CLI show real data on first start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.store import db

FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kasia",
    "Luca",
    "Mona",
    "Nils",
    "Olga",
    "Pablo",
    "Rosa",
    "Sven",
    "Tara",
    "Yusuf",
]
LAST = [
    "Müller",
    "Martin",
    "García",
    "Rossi",
    "Nowak",
    "Jansen",
    "Dubois",
    "Silva",
    "Novák",
    "Olsen",
    "O'Brien",
    "Schmidt",
    "Bernard",
    "López",
    "Bianchi",
    "Kowalski",
]
COUNTRIES = ["DE", "FR", "ES", "IT", "PL", "NL", "GB", "de", " fr"]
TIERS = ["bronze", "silver", "gold", "platinum"]

DEMO_SPEC: dict[str, Any] = {
    "dataflows": {
        "crm_contacts": {
            "description": "CRM contacts export, refreshed hourly",
            "source": {"connection": "demo_files", "stream": "contacts.csv", "format": {"type": "csv"}},
            "sync": {"mode": "incremental", "cursor": "updated_at", "primary_key": ["customer_id"]},
            "mapping": {
                "crmId": "customer_id",
                "person.firstName": "trim(first_name)",
                "person.lastName": "trim(last_name)",
                "personalEmail.address": "lower(trim(email))",
                "mobilePhone.number": "phone",
                "homeAddress.countryCode": "upper(trim(country))",
                "loyalty.points": "to_int(points)",
                "loyalty.tier": "lower(tier)",
                "loyalty.joinedAt": "to_date(signup_date)",
            },
            "identities": {
                "email": "personalEmail.address",
                "crm_id": "crmId",
                "phone": "mobilePhone.number",
            },
            "quality": [
                {"expect_column_values_to_not_be_null": {"column": "crmId"}},
                {
                    "expect_column_values_to_match_regex": {
                        "column": "personalEmail.address",
                        "regex": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                    }
                },
                {
                    "expect_column_values_to_be_in_set": {
                        "column": "loyalty.tier",
                        "value_set": ["bronze", "silver", "gold", "platinum"],
                    }
                },
                {"expect_column_values_to_be_between": {"column": "loyalty.points", "min_value": 0}},
            ],
            "error_threshold": 0.05,
            "schedule": {"every": "1 hour", "start": "2026-12-01T02:00:00", "timezone": "Europe/Paris"},
        },
        "shop_orders": {
            "description": "Web shop orders (JSON lines), full refresh daily",
            "source": {"connection": "demo_files", "stream": "orders/*.jsonl"},
            "sync": {"mode": "full_refresh", "primary_key": ["order_id"]},
            "mapping": {
                "order.id": "order_id",
                "crmId": "customer_id",
                "personalEmail.address": "lower(trim(email))",
                "order.total": "to_float(total)",
                "order.currency": "upper(currency)",
                "order.placedAt": "to_timestamp(placed_at)",
                "order.status": "status",
            },
            "identities": {"email": "personalEmail.address", "crm_id": "crmId"},
            "quality": [
                {"expect_column_values_to_not_be_null": {"column": "order.id"}},
                {"expect_column_values_to_be_between": {"column": "order.total", "min_value": 0}},
                {
                    "expect_column_values_to_be_in_set": {
                        "column": "order.currency",
                        "value_set": ["EUR", "GBP", "PLN"],
                    }
                },
            ],
            "schedule": {"every": "day", "start": "2026-12-01T03:00:00", "timezone": "Europe/Paris"},
        },
    },
}


def write_contacts(path: Path, rows: int = 1000, seed: int = 7) -> pd.DataFrame:
    """Writes a contacts CSV with realistic dirt (about 2.5% of rows fail checks)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    first = np.array(FIRST)[rng.integers(0, len(FIRST), rows)]
    last = np.array(LAST)[rng.integers(0, len(LAST), rows)]
    ascii_first = pd.Series(first).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    email = (ascii_first.str.lower() + "." + pd.Series(ids).astype(str) + "@example.com").to_numpy(
        dtype=object
    )
    shout = rng.random(rows) < 0.1
    email[shout] = "  " + pd.Series(email[shout]).str.upper().to_numpy() + " "  # fixed by lower(trim())
    updated = pd.Timestamp("2026-11-01T08:00:00Z") + pd.to_timedelta(
        rng.integers(0, 27 * 86400, rows), unit="s"
    )
    frame = pd.DataFrame(
        {
            "customer_id": ids.astype(str),
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": pd.Series(rng.integers(600000000, 799999999, rows)).map("+33 {}".format).to_numpy(),
            "country": np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), rows)],
            "points": rng.integers(0, 20000, rows).astype(str),
            "tier": np.array(TIERS)[rng.integers(0, len(TIERS), rows)],
            "signup_date": (
                pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 2500, rows), unit="D")
            ).strftime("%Y-%m-%d"),
            "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    dirty = rng.choice(rows, size=rows // 40, replace=False)
    kinds = np.arange(len(dirty)) % 4
    frame.loc[dirty[kinds == 0], "email"] = "not-an-email"
    frame.loc[dirty[kinds == 1], "points"] = "n/a"
    frame.loc[dirty[kinds == 2], "tier"] = "diamond"
    frame.loc[dirty[kinds == 3], "points"] = "-50"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def write_orders(folder: Path, rows: int = 2000, seed: int = 11) -> pd.DataFrame:
    """Writes two months of orders as JSON lines, one file per month."""
    rng = np.random.default_rng(seed)
    customer = rng.integers(1, 1001, rows)
    placed = pd.Timestamp("2026-09-01T00:00:00Z") + pd.to_timedelta(
        rng.integers(0, 61 * 86400, rows), unit="s"
    )
    frame = pd.DataFrame(
        {
            "order_id": [f"O-{i:06d}" for i in range(1, rows + 1)],
            "customer_id": customer.astype(str),
            "email": pd.Series(np.array(FIRST)[customer % len(FIRST)])
            .str.normalize("NFKD")
            .str.encode("ascii", "ignore")
            .str.decode("ascii")
            .str.lower()
            + "."
            + pd.Series(customer).astype(str)
            + "@example.com",
            "total": np.round(rng.gamma(2.0, 40.0, rows), 2),
            "currency": np.array(["EUR", "eur", "GBP", "PLN"])[rng.integers(0, 4, rows)],
            "placed_at": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": np.array(["paid", "shipped", "returned"])[rng.integers(0, 3, rows)],
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "total"] = -1.0
    folder.mkdir(parents=True, exist_ok=True)
    month = placed.strftime("%Y-%m")
    for value in sorted(set(month)):
        part = frame[month == value]
        (folder / f"orders-{value}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in part.to_dict("records")) + "\n", encoding="utf-8"
        )
    return frame


def install(workspace: Any, folder: Path | None = None, run: bool = True) -> None:
    """Writes the demo data, saves its connection and dataflows, and runs them once."""
    folder = folder or db.workspace_dir() / "demo" / "data"
    write_contacts(folder / "contacts.csv")
    write_orders(folder / "orders")
    workspace.save_connection(
        "demo_files", "files", {"url": str(folder)}, "Demo CRM and shop exports on local disk"
    )
    for name, spec in DEMO_SPEC["dataflows"].items():
        workspace.save_dataflow(name, spec)
    if run:
        for name in DEMO_SPEC["dataflows"]:
            workspace.run(name, trigger="demo")
