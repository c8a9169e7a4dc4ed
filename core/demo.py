"""The demo workspace: realistic, slightly dirty CRM contacts, shop orders and loyalty members.

Generated deterministically (a fixed seed, no downloads) into the workspace
folder, with a connection and three dataflows that are run once, so the
dashboard and the CLI show real data, and unified profiles, on first start.

The three sources describe overlapping people, as real systems do: orders
carry the CRM id and the contact's email (guest orders only an email); the
loyalty file knows most members by the CRM contact's email or phone, written
with case, whitespace and phone-format noise, plus people the CRM never saw
and a few placeholder values (``test@test.com``, ``0000000000``) that must
not merge anyone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.profiles.namespaces import REGION_SETTING
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
#: Placeholder emails some loyalty members typed; blocked values, they link no one.
PLACEHOLDER_EMAILS = ["test@test.com", " TEST@test.com", "test@test.com "]
PLACEHOLDER_PHONES = ["0000000000", "00 00 00 00 00"]

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
                "updatedAt": "to_timestamp(updated_at)",
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
                "updatedAt": "to_timestamp(placed_at)",
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
        "loyalty_members": {
            "description": "Loyalty programme members, weekly export",
            "source": {
                "connection": "demo_files",
                "stream": "loyalty/members.csv",
                "format": {"type": "csv"},
            },
            "sync": {"mode": "full_refresh", "primary_key": ["loyalty_id"]},
            "mapping": {
                "loyaltyId": "trim(loyalty_id)",
                # emails and phones kept as typed: the identity graph normalises them
                "personalEmail.address": "trim(email)",
                "mobilePhone.number": "trim(phone)",
                "loyalty.points": "to_int(points)",
                "loyalty.tier": "lower(trim(tier))",
                "loyalty.joinedAt": "to_date(joined)",
                "updatedAt": "to_timestamp(updated_at)",
            },
            "identities": {
                "loyalty_id": "loyaltyId",
                "email": "personalEmail.address",
                "phone": "mobilePhone.number",
            },
            "quality": [
                {"expect_column_values_to_not_be_null": {"column": "loyaltyId"}},
                {
                    "expect_column_values_to_be_in_set": {
                        "column": "loyalty.tier",
                        "value_set": ["bronze", "silver", "gold", "platinum"],
                    }
                },
                {"expect_column_values_to_be_between": {"column": "loyalty.points", "min_value": 0}},
            ],
            "schedule": {"every": "week", "start": "2026-12-06T04:00:00", "timezone": "Europe/Paris"},
        },
    },
}


def write_contacts(path: Path, rows: int = 1000, seed: int = 7) -> pd.DataFrame:
    """Writes a contacts CSV with realistic dirt (about 2.5% of rows fail checks)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    first = np.array(FIRST)[rng.integers(0, len(FIRST), rows)]
    last = np.array(LAST)[rng.integers(0, len(LAST), rows)]
    email = contact_emails(pd.Series(first), pd.Series(ids)).to_numpy(dtype=object)
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


def contact_emails(first_names: pd.Series, ids: pd.Series, domain: str = "example.com") -> pd.Series:
    """The address a person uses everywhere: ``first.<id>@domain``, accents dropped."""
    return _ascii(first_names).str.lower() + "." + ids.astype(str).to_numpy() + "@" + domain


def write_orders(
    folder: Path,
    rows: int = 2000,
    seed: int = 11,
    contacts: pd.DataFrame | None = None,
    guests: pd.Series | None = None,
) -> pd.DataFrame:
    """Writes two months of orders as JSON lines, one file per month.

    An order carries its customer's CRM id and the contact's email (from
    ``contacts`` when given); about 4% are guest orders with no CRM id, placed
    with one of the ``guests``' emails.
    """
    rng = np.random.default_rng(seed)
    customer = rng.integers(1, 1001, rows)
    placed = pd.Timestamp("2026-09-01T00:00:00Z") + pd.to_timedelta(
        rng.integers(0, 61 * 86400, rows), unit="s"
    )
    if contacts is None:
        email = contact_emails(pd.Series(np.array(FIRST)[customer % len(FIRST)]), pd.Series(customer))
    else:
        by_id = contact_emails(contacts["first_name"], contacts["customer_id"])
        by_id.index = contacts["customer_id"].astype(int).to_numpy()
        email = pd.Series(by_id.reindex(customer).to_numpy())
    frame = pd.DataFrame(
        {
            "order_id": [f"O-{i:06d}" for i in range(1, rows + 1)],
            "customer_id": pd.Series(customer.astype(str), dtype=object),
            "email": email.to_numpy(dtype=object),
            "total": np.round(rng.gamma(2.0, 40.0, rows), 2),
            "currency": np.array(["EUR", "eur", "GBP", "PLN"])[rng.integers(0, 4, rows)],
            "placed_at": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": np.array(["paid", "shipped", "returned"])[rng.integers(0, 3, rows)],
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "total"] = -1.0
    if guests is not None and len(guests):
        guest = rng.choice(rows, rows // 25, replace=False)
        frame.loc[guest, "customer_id"] = None
        frame.loc[guest, "email"] = guests.to_numpy(dtype=object)[rng.integers(0, len(guests), len(guest))]
    folder.mkdir(parents=True, exist_ok=True)
    month = placed.strftime("%Y-%m")
    for value in sorted(set(month)):
        part = frame[month == value]
        (folder / f"orders-{value}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in part.to_dict("records")) + "\n", encoding="utf-8"
        )
    return frame


def write_loyalty(
    path: Path, contacts: pd.DataFrame, members: int = 600, known: int = 480, seed: int = 13
) -> pd.DataFrame:
    """Writes the loyalty programme's members: mostly CRM contacts, found by email or phone.

    ``known`` members are CRM contacts, written with the contact's email (80%)
    and/or phone (60%), in varied case, whitespace and phone formats; the rest
    are people the CRM never saw, three of whom typed ``test@test.com`` and
    two ``0000000000``. Returns the rows written, with a ``crm_id`` column
    (the contact a member really is, None for strangers) that the file leaves out.
    """
    rng = np.random.default_rng(seed)
    known = min(known, len(contacts), members)
    chosen = contacts.iloc[np.sort(rng.choice(len(contacts), known, replace=False))]
    strangers = members - known
    first = pd.Series(np.array(FIRST)[rng.integers(0, len(FIRST), strangers)])
    last = pd.Series(np.array(LAST)[rng.integers(0, len(LAST), strangers)])
    stranger_email = (
        _ascii(first).str.lower()
        + "."
        + _ascii(last).str.lower().str.replace("'", "", regex=False)
        + "."
        + pd.Series(np.arange(1, strangers + 1)).astype(str)
        + "@mail.example.net"
    )
    digits = pd.concat(
        [
            chosen["phone"].str.replace(r"\D", "", regex=True).str[-9:],
            pd.Series(rng.integers(600000000, 699999999, strangers)).astype(str),
        ],
        ignore_index=True,
    )
    email = pd.concat(
        [contact_emails(chosen["first_name"], chosen["customer_id"]), stranger_email], ignore_index=True
    ).astype(object)
    upper = rng.random(members) < 0.25
    email[upper] = email[upper].str.upper()
    padded = rng.random(members) < 0.2
    email[padded] = " " + email[padded] + "  "
    phone = _phone_formats(digits, rng.integers(0, 5, members)).astype(object)
    has_email = rng.random(members) < 0.8
    has_phone = (rng.random(members) < 0.6) | ~has_email
    email[~has_email] = None
    phone[~has_phone] = None
    # placeholders on strangers only: if they linked, different people would merge
    blocked = known + np.arange(len(PLACEHOLDER_EMAILS) + len(PLACEHOLDER_PHONES))
    email[blocked[: len(PLACEHOLDER_EMAILS)]] = PLACEHOLDER_EMAILS
    phone[blocked[: len(PLACEHOLDER_EMAILS)]] = None
    email[blocked[len(PLACEHOLDER_EMAILS) :]] = None
    phone[blocked[len(PLACEHOLDER_EMAILS) :]] = PLACEHOLDER_PHONES
    updated = pd.Timestamp("2026-11-10T06:00:00Z") + pd.to_timedelta(
        rng.integers(0, 17 * 86400, members), unit="s"
    )
    frame = pd.DataFrame(
        {
            "loyalty_id": [f"L-{i:06d}" for i in rng.permutation(np.arange(100001, 100001 + members))],
            "email": email,
            "phone": phone,
            "points": rng.integers(0, 25000, members),
            "tier": np.array(["Bronze", "SILVER", "gold", "Platinum "])[rng.integers(0, 4, members)],
            "joined": (
                pd.Timestamp("2020-03-01") + pd.to_timedelta(rng.integers(0, 2000, members), unit="D")
            ).strftime("%Y-%m-%d"),
            "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    crm_id = pd.concat([chosen["customer_id"], pd.Series([None] * strangers)], ignore_index=True)
    shuffled = rng.permutation(members)  # an export in no useful order
    frame = frame.iloc[shuffled].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame.assign(crm_id=crm_id.astype(object).to_numpy()[shuffled])


def _ascii(names: pd.Series) -> pd.Series:
    return names.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")


def _phone_formats(digits: pd.Series, style: np.ndarray) -> pd.Series:
    """French mobile numbers (9 national digits) as people write them, one of five styles per row."""
    pairs = digits.str[1:3] + " " + digits.str[3:5] + " " + digits.str[5:7] + " " + digits.str[7:9]
    styles = [
        "+33 " + digits.str[0] + " " + pairs,  # +33 6 12 34 56 78
        "+33" + digits,  # +33612345678
        "0033 " + digits.str[0] + " " + pairs,  # 0033 6 12 34 56 78
        "0" + digits.str[0] + " " + pairs,  # 06 12 34 56 78 (read in the workspace's region, FR)
        ("0" + digits.str[0] + " " + pairs).str.replace(" ", ".", regex=False),  # 06.12.34.56.78
    ]
    return pd.Series(np.choose(style, [s.to_numpy(dtype=object) for s in styles]), index=digits.index)


def install(workspace: Any, folder: Path | None = None, run: bool = True) -> None:
    """Writes the demo data, saves its connection and dataflows, and runs them once."""
    folder = folder or db.workspace_dir() / "demo" / "data"
    contacts = write_contacts(folder / "contacts.csv")
    loyalty = write_loyalty(folder / "loyalty" / "members.csv", contacts)
    strangers = loyalty.loc[loyalty["crm_id"].isna(), "email"].dropna().str.strip().str.lower()
    write_orders(folder / "orders", contacts=contacts, guests=strangers[~strangers.str.startswith("test@")])
    # the demo's customers are French: phones written 06 12 34 56 78 are read as +33
    workspace.save_setting(REGION_SETTING, "FR")
    workspace.save_connection(
        "demo_files", "files", {"url": str(folder)}, "Demo CRM, shop and loyalty exports on local disk"
    )
    for name, spec in DEMO_SPEC["dataflows"].items():
        workspace.save_dataflow(name, spec)
    # the second merge policy: the CRM is the system of record, then the loyalty programme, then the shop
    workspace.profiles.save_policy(
        "crm_first", {"kind": "precedence", "order": ["crm_contacts", "loyalty_members", "shop_orders"]}
    )
    if run:
        for name in DEMO_SPEC["dataflows"]:
            workspace.run(name, trigger="demo")
