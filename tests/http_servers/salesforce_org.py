"""The objects of the fake Salesforce org: describes of standard objects and generated records.

Field types are the describe ``type`` values of the REST API ("Get Field and
Other Metadata for an Object", developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
api_rest/dome_sobject_describe.htm, with the types of the SOAP API's "Field Types"
page): id, reference, string, textarea, picklist, phone, email, boolean, int,
double, currency, date, datetime, address, base64. Compound ``address`` fields
exist next to their components, as in a real org.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

AUDIT = (("CreatedDate", "datetime"), ("LastModifiedDate", "datetime"), ("SystemModstamp", "datetime"))
CONTACT_FIELDS = (
    ("Id", "id"), ("IsDeleted", "boolean"), ("AccountId", "reference"), ("LastName", "string"),
    ("FirstName", "string"), ("Name", "string"), ("MailingStreet", "textarea"), ("MailingCity", "string"),
    ("MailingState", "string"), ("MailingPostalCode", "string"), ("MailingCountry", "string"),
    ("MailingAddress", "address"), ("Phone", "phone"), ("MobilePhone", "phone"), ("HomePhone", "phone"),
    ("Email", "email"), ("Birthdate", "date"), ("HasOptedOutOfEmail", "boolean"),
    ("Description", "textarea"), ("Loyalty_Points__c", "double"), ("Loyalty_Tier__c", "picklist"), *AUDIT,
)  # fmt: skip
LEAD_FIELDS = (
    ("Id", "id"), ("IsDeleted", "boolean"), ("FirstName", "string"), ("LastName", "string"),
    ("Company", "string"), ("Email", "email"), ("Phone", "phone"), ("MobilePhone", "phone"),
    ("Street", "textarea"), ("City", "string"), ("State", "string"), ("PostalCode", "string"),
    ("Country", "string"), ("Address", "address"), ("Status", "picklist"),
    ("HasOptedOutOfEmail", "boolean"), ("IsConverted", "boolean"), *AUDIT,
)  # fmt: skip
ACCOUNT_FIELDS = (
    ("Id", "id"), ("IsDeleted", "boolean"), ("Name", "string"), ("Type", "picklist"), ("Phone", "phone"),
    ("BillingStreet", "textarea"), ("BillingCity", "string"), ("BillingState", "string"),
    ("BillingPostalCode", "string"), ("BillingCountry", "string"), ("BillingAddress", "address"),
    ("NumberOfEmployees", "int"), ("AnnualRevenue", "currency"), *AUDIT,
)  # fmt: skip
ATTACHMENT_FIELDS = (("Id", "id"), ("IsDeleted", "boolean"), ("Name", "string"), ("Body", "base64"), *AUDIT)
#: Compound address fields and the prefix of their components.
ADDRESS_PREFIX = {"MailingAddress": "Mailing", "Address": "", "BillingAddress": "Billing"}
#: The first moment records are stamped with.
EPOCH = datetime(2026, 11, 2, 9, 0, 0, 123_000, tzinfo=UTC)


@dataclass
class SObject:
    """One object of the org: its describe and its records (typed Python values, deleted ones kept)."""

    name: str
    fields: tuple[tuple[str, str], ...]
    label: str = ""
    key_prefix: str = "a00"
    queryable: bool = True
    custom: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def types(self) -> dict[str, str]:
        """Field name -> describe type."""
        return dict(self.fields)

    def describe(self) -> dict[str, Any]:
        """The describe body (the parts a client reads)."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "custom": self.custom,
            "queryable": self.queryable,
            "keyPrefix": self.key_prefix,
            "fields": [
                {
                    "name": name,
                    "type": kind,
                    "label": name.removesuffix("__c").replace("_", " "),
                    "nillable": name not in ("Id", "IsDeleted"),
                    "custom": name.endswith("__c"),
                }
                for name, kind in self.fields
            ],
        }

    def summary(self) -> dict[str, Any]:
        """The object's entry in the sobjects list."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "labelPlural": (self.label or self.name) + "s",
            "custom": self.custom,
            "keyPrefix": self.key_prefix,
            "queryable": self.queryable,
            "retrieveable": self.queryable,
            "deprecatedAndHidden": False,
            "urls": {"describe": f"/services/data/vXX.X/sobjects/{self.name}/describe"},
        }

    def value(self, record: Mapping[str, Any], name: str) -> Any:
        """A field's value; a compound address is built from its components."""
        if self.types.get(name) == "address":
            prefix = ADDRESS_PREFIX.get(name, "")
            parts = {
                "street": record.get(f"{prefix}Street"),
                "city": record.get(f"{prefix}City"),
                "state": record.get(f"{prefix}State"),
                "postalCode": record.get(f"{prefix}PostalCode"),
                "country": record.get(f"{prefix}Country"),
            }
            return parts if any(v is not None for v in parts.values()) else None
        return record.get(name)


def standard_objects() -> list[SObject]:
    """Contact, Lead, Account, Attachment, and an object that cannot be queried (a change event)."""
    return [
        SObject("Account", ACCOUNT_FIELDS, "Account", "001"),
        SObject("Attachment", ATTACHMENT_FIELDS, "Attachment", "00P"),
        SObject("Contact", CONTACT_FIELDS, "Contact", "003"),
        SObject("ContactChangeEvent", (("Id", "id"),), "Contact Change Event", "1CE", queryable=False),
        SObject("Lead", LEAD_FIELDS, "Lead", "00Q"),
    ]


def record_id(prefix: str, number: int) -> str:
    """An 18-character id of the object's key prefix; ids sort as their numbers do."""
    return f"{prefix}{number:012d}AAA"


def contact_records(count: int, *, first: int = 1, per_stamp: int = 1, start: datetime = EPOCH) -> list[dict]:
    """Contacts numbered from ``first``; ``per_stamp`` of them share each SystemModstamp (ties)."""
    records = []
    for number in range(first, first + count):
        stamp = start + timedelta(seconds=(number - first) // per_stamp)
        records.append(
            {
                "Id": record_id("003", number),
                "IsDeleted": False,
                "AccountId": record_id("001", 1 + number % 3),
                "FirstName": f"Ana{number}",
                "LastName": f"Lima{number}",
                "Name": f"Ana{number} Lima{number}",
                "MailingStreet": f"{number} Rue de Rivoli\nBâtiment B",
                "MailingCity": "Paris",
                "MailingState": None,
                "MailingPostalCode": f"750{number % 20:02d}",
                "MailingCountry": "France",
                "Phone": None,
                "MobilePhone": f"+3361234{number:04d}",
                "HomePhone": None,
                "Email": f"Ana.Lima{number}@Example.com",
                "Birthdate": date(1980 + number % 20, 1 + number % 12, 1 + number % 28),
                "HasOptedOutOfEmail": number % 4 == 0,
                "Description": 'Met at the "Salon", 2026' if number % 5 == 0 else None,
                "Loyalty_Points__c": float(number * 10) if number % 3 else None,
                "Loyalty_Tier__c": ("Gold", "Silver", "Bronze")[number % 3],
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
            }
        )
    return records


def with_defaults(obj: SObject, records: Iterable[Mapping[str, Any]], now: datetime) -> list[dict]:
    """Records with every field (None when absent), not deleted, stamped ``now`` when unstamped."""
    filled = []
    for record in records:
        row: dict[str, Any] = {name: None for name, kind in obj.fields if kind != "address"}
        row.update({"IsDeleted": False} if "IsDeleted" in row else {})
        row.update(record)
        for stamp in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
            if stamp in row and row[stamp] is None:
                row[stamp] = now
        filled.append(row)
    return filled
