"""Generated multi-source customer data with known true persons, for identity-graph tests and benchmarks.

Three sources describe the same people, each with its own identities:

- ``crm``: contacts with a CRM id and an email;
- ``orders``: shop orders with an email and a phone;
- ``loyalty``: loyalty cards with a card number and a phone.

The noise a real graph meets: emails in any case with stray spaces, phones
written ``+33 6 12 34 56 78``, ``0612345678``, ``06.12.34.56.78`` or
``+33612345678`` (read in region FR), placeholders shared by many unrelated
people (``test@test.com``, ``noemail@…``, ``0000000000``, ``1234567890``),
guest orders with nothing but placeholders, and people with a second CRM
record under another CRM id and the same email (a duplicate account: the
``crm_id`` limit keeps it apart, so its true profile is its own).

:func:`generate` is deterministic for a seed; ``truth`` maps each record
``(dataflow, source_key)`` to the profile it must end up in, and
:func:`partition` turns either side into comparable sets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REGION = "FR"
EMAIL_PLACEHOLDERS = ("test@test.com", " TEST@test.com", "noemail@shop.fr", "n/a")
PHONE_PLACEHOLDERS = ("0000000000", "1234567890", "00 00 00 00 00", "unknown")

#: The dataflow specs reading the generated files (``source.connection`` filled in by :func:`specs`).
SPECS: dict[str, dict[str, Any]] = {
    "crm": {
        "stream": "crm*.csv",
        "key": ["customer_id"],
        "mapping": {"crmId": "crm_id", "personalEmail.address": "email", "person.firstName": "first_name"},
        "identities": {"crm_id": "crmId", "email": "personalEmail.address"},
    },
    "orders": {
        "stream": "orders*.csv",
        "key": ["order_id"],
        "mapping": {"order.id": "order_id", "personalEmail.address": "email", "mobilePhone.number": "phone"},
        "identities": {"email": "personalEmail.address", "phone": "mobilePhone.number"},
    },
    "loyalty": {
        "stream": "loyalty*.csv",
        "key": ["card_id"],
        "mapping": {
            "loyaltyId": "card_id",
            "mobilePhone.number": "phone",
            "loyalty.points": "to_int(points)",
        },
        "identities": {"loyalty_id": "loyaltyId", "phone": "mobilePhone.number"},
    },
}


@dataclass(frozen=True)
class Generated:
    """The three sources' rows and the true profile of every record."""

    crm: pd.DataFrame
    orders: pd.DataFrame
    loyalty: pd.DataFrame
    #: (dataflow, source_key) -> true profile label
    truth: dict[tuple[str, str], str]

    def frames(self) -> dict[str, pd.DataFrame]:
        """The sources by dataflow name."""
        return {"crm": self.crm, "orders": self.orders, "loyalty": self.loyalty}

    def write(self, folder: Path, parts: int = 1) -> None:
        """Writes each source as CSV (all text), split into ``parts`` files."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in self.frames().items():
            bounds = np.linspace(0, len(frame), parts + 1).astype(int)
            for index in range(parts):
                part = frame.iloc[bounds[index] : bounds[index + 1]]
                part.to_csv(folder / f"{name}{index:03d}.csv", index=False)


def generate(persons: int = 200, seed: int = 0, duplicates: int = 3, guests: int = 20) -> Generated:
    """People across three sources, with noise and shared placeholders; deterministic for a seed.

    Args:
        persons: true people (each with at least one record).
        seed: the random seed.
        duplicates: people who also have a second CRM record (another CRM id, the same email).
        guests: anonymous orders made only of placeholders (each its own profile).
    """
    rng = np.random.default_rng(seed)
    crm, orders, loyalty, truth = [], [], [], {}
    for p in range(persons):
        email = f"person.{p}@mail{p % 7}.example.org"
        national = str(612_345_601 + p * 7)  # 06 12… to 06 38…: mobile ranges libphonenumber knows
        has_crm = rng.random() < 0.9
        n_orders = int(rng.integers(0, 4)) if has_crm else int(rng.integers(1, 4))
        if has_crm:
            crm.append((f"c{p:06d}", f" CRM-{p:06d}", _email_noise(rng, email), f"Name{p}"))
            truth[("crm", f"c{p:06d}")] = f"person{p}"
        for j in range(n_orders):
            key = f"o{p:06d}-{j}"
            mail, phone = _email_noise(rng, email), _phone_noise(rng, national)
            if j > 0 and rng.random() < 0.3:  # a later order with one placeholder: still linked by the other
                if rng.random() < 0.5:
                    mail = EMAIL_PLACEHOLDERS[int(rng.integers(len(EMAIL_PLACEHOLDERS)))]
                else:
                    phone = PHONE_PLACEHOLDERS[int(rng.integers(len(PHONE_PLACEHOLDERS)))]
            orders.append((key, mail, phone))
            truth[("orders", key)] = f"person{p}"
        if n_orders and rng.random() < 0.6:  # a card linked through the phone of the first (clean) order
            card = f"L{p:06d}"
            loyalty.append((card, _phone_noise(rng, national), int(rng.integers(0, 5000))))
            truth[("loyalty", card)] = f"person{p}"
    with_crm = [p for p in range(persons) if ("crm", f"c{p:06d}") in truth]
    for p in with_crm[:duplicates]:
        key = f"c{p:06d}x"  # sorts after the person's first record, which keeps the email's link
        crm.append(
            (key, f"CRM-{p:06d}-OLD", _email_noise(rng, f"person.{p}@mail{p % 7}.example.org"), f"Name{p}")
        )
        truth[("crm", key)] = f"duplicate{p}"
    for g in range(guests):
        key = f"g{g:06d}"
        orders.append((key, EMAIL_PLACEHOLDERS[g % 4], PHONE_PLACEHOLDERS[g % 4]))
        truth[("orders", key)] = f"guest{g}"
    return Generated(
        crm=pd.DataFrame(crm, columns=["customer_id", "crm_id", "email", "first_name"]),
        orders=pd.DataFrame(orders, columns=["order_id", "email", "phone"]),
        loyalty=pd.DataFrame(loyalty, columns=["card_id", "phone", "points"]),
        truth=truth,
    )


def _email_noise(rng: np.random.Generator, email: str) -> str:
    shape = int(rng.integers(4))
    if shape == 1:
        return email.upper()
    if shape == 2:
        return f"  {email.capitalize()} "
    if shape == 3:
        return email.replace("person", "Person")
    return email


def _phone_noise(rng: np.random.Generator, national: str) -> str:
    pairs = " ".join(national[i : i + 2] for i in range(1, 9, 2))
    forms = (
        f"+33 {national[0]} {pairs}",
        f"0{national}",
        f"+33{national}",
        f"0{national[0]}.{pairs.replace(' ', '.')}",
    )
    return forms[int(rng.integers(len(forms)))]


def specs(
    connection: str, mode: str = "full_refresh", chunk_size: int | None = None
) -> dict[str, dict[str, Any]]:
    """The three dataflows' specs, reading CSV files from ``connection``."""
    out = {}
    for name, spec in SPECS.items():
        sync: dict[str, Any] = {"mode": mode, "primary_key": spec["key"]}
        if chunk_size is not None:
            sync["chunk_size"] = chunk_size
        out[name] = {
            "source": {"connection": connection, "stream": spec["stream"], "format": {"type": "csv"}},
            "sync": sync,
            "mapping": spec["mapping"],
            "identities": spec["identities"],
        }
    return out


def setup(workspace: Any, folder: Path, *, mode: str = "full_refresh", chunk_size: int | None = None) -> None:
    """Saves a files connection on ``folder``, the three dataflows, and region FR for phones."""
    from core.profiles import REGION_SETTING

    workspace.save_setting(REGION_SETTING, REGION)
    workspace.save_connection("generated", "files", {"url": str(folder)})
    for name, spec in specs("generated", mode, chunk_size).items():
        workspace.save_dataflow(name, spec)


def graph_state(conn: Any) -> dict[str, Any]:
    """The stored graph (identities, members, profiles, decisions) without ids and timestamps."""
    from collections import Counter

    from sqlalchemy import select

    from core.store import tables as t

    def rows(table: Any, skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(select(*(c for c in table.c if c.name not in skip))).all()]

    return {
        "identities": set(rows(t.identities)),
        "members": set(rows(t.profile_members, ("updated_at",))),
        "profiles": {
            (p, n, json.dumps(_json(i), sort_keys=True), json.dumps(_json(d)))
            for p, n, i, d in rows(t.profiles, ("created_at", "updated_at"))
        },
        "decisions": Counter(rows(t.profile_decisions, ("id", "created_at"))),
    }


def stored_partition(conn: Any) -> set[frozenset[tuple[str, str]]]:
    """The stored profiles as sets of (dataflow name, source key)."""
    from sqlalchemy import select

    from core.store import tables as t

    names = dict(conn.execute(select(t.dataflows.c.id, t.dataflows.c.name)).all())
    m = t.profile_members.c
    return partition(
        [(names[d], k, p) for d, k, p in conn.execute(select(m.dataflow_id, m.source_key, m.profile_id))]
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def partition(
    labels: Mapping[tuple[str, str], str] | Iterable[tuple[str, str, str]],
) -> set[frozenset[tuple[str, str]]]:
    """Records grouped by label: from ``{record: label}`` or ``(dataflow, key, label)`` rows."""
    items = labels.items() if isinstance(labels, Mapping) else (((d, k), p) for d, k, p in labels)
    groups: dict[str, set[tuple[str, str]]] = {}
    for record, label in items:
        groups.setdefault(label, set()).add(record)
    return {frozenset(group) for group in groups.values()}


def merge_errors(
    found: set[frozenset[tuple[str, str]]], truth: set[frozenset[tuple[str, str]]]
) -> tuple[list[frozenset[tuple[str, str]]], list[frozenset[tuple[str, str]]]]:
    """(false merges, missed merges): found profiles mixing true persons, true persons split apart."""
    true_of = {record: index for index, group in enumerate(truth) for record in group}
    found_of = {record: index for index, group in enumerate(found) for record in group}
    false = [group for group in found if len({true_of.get(r) for r in group}) > 1]
    missed = [group for group in truth if len({found_of.get(r) for r in group}) > 1]
    return false, missed
