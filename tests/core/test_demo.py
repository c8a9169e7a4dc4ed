"""The demo's data: three overlapping sources of the same people, dirty the way real exports are."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from core import demo
from core.store import tables as t


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("demo")
    contacts = demo.write_contacts(folder / "contacts.csv")
    loyalty = demo.write_loyalty(folder / "loyalty" / "members.csv", contacts)
    guests = loyalty.loc[loyalty["crm_id"].isna(), "email"].dropna().str.strip().str.lower()
    guests = guests[~guests.str.startswith("test@")]
    orders = demo.write_orders(folder / "orders", contacts=contacts, guests=guests)
    return {
        "contacts": contacts,
        "loyalty": loyalty,
        "orders": orders,
        "file": pd.read_csv(folder / "loyalty" / "members.csv", dtype=str, keep_default_na=False),
    }


def test_loyalty_members_are_mostly_crm_contacts_found_by_email_or_phone(written):
    contacts, loyalty = written["contacts"], written["loyalty"]
    known = loyalty[loyalty["crm_id"].notna()].merge(
        contacts, left_on="crm_id", right_on="customer_id", suffixes=("", "_crm")
    )
    assert len(known) == 480 and len(loyalty) == 600 and loyalty["loyalty_id"].is_unique
    email = known["email"].str.strip().str.lower()
    same_email = email == demo.contact_emails(known["first_name"], known["customer_id"])
    digits = known["phone"].str.replace(r"\D", "", regex=True).str[-9:]
    same_phone = digits == known["phone_crm"].str.replace(r"\D", "", regex=True).str[-9:]
    assert (same_email.fillna(False) | same_phone.fillna(False)).all()  # each is findable
    assert "crm_id" not in written["file"].columns  # the truth stays out of the file


def test_the_loyalty_file_has_case_whitespace_format_noise_and_placeholders(written):
    file = written["file"]
    emails = file["email"][file["email"] != ""]
    assert (emails != emails.str.strip()).sum() > 50
    assert (emails.str.strip() != emails.str.strip().str.lower()).sum() > 50
    phones = file["phone"][file["phone"] != ""]
    styles = {r"^\+33 \d ", r"^\+33\d{9}$", r"^0033 ", r"^0\d \d\d ", r"^0\d\.\d\d\."}
    assert all(phones.str.contains(style).sum() > 20 for style in styles)
    placeholders = file[file["email"].str.strip().str.lower() == "test@test.com"]
    assert len(placeholders) == 3 and (placeholders["phone"] == "").all()
    assert set(file["phone"]) >= {"0000000000", "00 00 00 00 00"}


def test_orders_carry_the_contacts_email_and_guests_only_an_email(written):
    contacts, orders = written["contacts"], written["orders"]
    members = orders[orders["customer_id"].notna()].merge(contacts, on="customer_id", suffixes=("", "_crm"))
    assert (members["email"] == demo.contact_emails(members["first_name"], members["customer_id"])).all()
    guests = orders[orders["customer_id"].isna()]
    assert len(guests) == 80 and guests["email"].str.endswith("@mail.example.net").all()


def test_the_demo_data_is_the_same_every_time(tmp_path: Path, written):
    contacts = demo.write_contacts(tmp_path / "contacts.csv")
    pd.testing.assert_frame_equal(contacts, written["contacts"])
    pd.testing.assert_frame_equal(demo.write_loyalty(tmp_path / "m.csv", contacts), written["loyalty"])


def test_the_installed_demo_links_each_person_across_sources_and_never_two_people(workspace, tmp_path):
    demo.install(workspace)
    runs = workspace.runs()
    assert set(runs["dataflow"]) == {"crm_contacts", "shop_orders", "loyalty_members"}
    assert runs.set_index("dataflow").at["loyalty_members", "status"] == "succeeded"

    # who each record really is: a CRM customer id, or a stranger's email (or loyalty id)
    contacts = demo.write_contacts(tmp_path / "contacts.csv")
    loyalty = demo.write_loyalty(tmp_path / "members.csv", contacts)
    guests = loyalty.loc[loyalty["crm_id"].isna(), "email"].dropna().str.strip().str.lower()
    orders = demo.write_orders(
        tmp_path / "orders", contacts=contacts, guests=guests[~guests.str.startswith("test@")]
    )
    typed = loyalty["email"].str.strip().str.lower()
    placeholder = typed == "test@test.com"  # three different people typed it
    stranger = typed.where(~placeholder, None).fillna(loyalty["loyalty_id"])
    truth = pd.concat(
        [
            pd.DataFrame(
                {
                    "dataflow": "crm_contacts",
                    "key": contacts["customer_id"],
                    "person": contacts["customer_id"],
                }
            ),
            pd.DataFrame(
                {
                    "dataflow": "shop_orders",
                    "key": orders["order_id"],
                    "person": orders["customer_id"].fillna(orders["email"]),
                }
            ),
            pd.DataFrame(
                {
                    "dataflow": "loyalty_members",
                    "key": loyalty["loyalty_id"],
                    "person": loyalty["crm_id"].fillna(stranger),
                }
            ),
        ]
    )
    with workspace.engine.connect() as c:
        members = pd.DataFrame(
            c.execute(
                select(
                    t.dataflows.c.name, t.profile_members.c.source_key, t.profile_members.c.profile_id
                ).join(t.dataflows, t.dataflows.c.id == t.profile_members.c.dataflow_id)
            ).all(),
            columns=["dataflow", "key", "profile_id"],
        )
    linked = members.merge(truth, on=["dataflow", "key"], validate="one_to_one")
    assert len(linked) == len(members)
    # no false merge, placeholders included
    assert (linked.groupby("profile_id")["person"].nunique() == 1).all()
    typed_it = linked["key"].isin(loyalty.loc[placeholder, "loyalty_id"])
    assert linked.loc[typed_it, "profile_id"].nunique() == 3
    profiles_per_person = linked.groupby("person")["profile_id"].nunique()
    # a few stay apart: their only shared value is a phone the CRM holds in an invalid form, or a CRM row
    # that was quarantined; every other person is one profile across the three sources
    assert (profiles_per_person > 1).sum() <= 20
    members_of = {name: linked[linked["dataflow"] == name] for name in ("crm_contacts", "loyalty_members")}
    together = members_of["loyalty_members"].merge(members_of["crm_contacts"], on=["person", "profile_id"])
    assert len(together) > 400  # most of the 480 members who are CRM contacts share their profile
