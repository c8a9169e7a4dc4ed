"""How Salesforce's standard customer objects map onto the profile: the suggestions discover() makes.

Fields are the objects' API names, attribute paths those of
``core/mapping/profile_schema.yaml``. A Contact's home is its mailing
address; a Lead's and an Account's the address they carry (Account: the
billing address). ``MailingCountry`` holds a country as people type it (the
mapping studio checks and converts it against the values). Person accounts
add ``PersonEmail``/``PersonMobilePhone`` to Account; the studio skips the
fields a sample does not have, so one mapping serves both kinds of account.
An account's main ``Phone`` is the company's, not a person's: it is no
identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SUGGESTED_IDENTITIES, SUGGESTED_MAPPING

_AUDIT = {"createdAt": "CreatedDate", "updatedAt": "LastModifiedDate"}


def _address(prefix: str, street: str = "Street") -> dict[str, str]:
    return {
        "homeAddress.street1": f"{prefix}{street}",
        "homeAddress.city": f"{prefix}City",
        "homeAddress.postalCode": f"{prefix}PostalCode",
        "homeAddress.region": f"{prefix}State",
        "homeAddress.countryCode": f"{prefix}Country",
    }


#: Object -> attribute path -> field.
STANDARD_OBJECTS: Mapping[str, Mapping[str, str]] = {
    "Contact": {
        "crmId": "Id",
        "person.firstName": "FirstName",
        "person.lastName": "LastName",
        "person.fullName": "Name",
        "person.birthDate": "Birthdate",
        "personalEmail.address": "Email",
        "mobilePhone.number": "MobilePhone",
        "homePhone.number": "HomePhone",
        **_address("Mailing"),
        **_AUDIT,
    },
    "Lead": {
        "crmId": "Id",
        "person.firstName": "FirstName",
        "person.lastName": "LastName",
        "person.fullName": "Name",
        "personalEmail.address": "Email",
        "mobilePhone.number": "MobilePhone",
        **_address(""),
        **_AUDIT,
    },
    "Account": {
        "crmId": "Id",
        "person.fullName": "Name",
        "personalEmail.address": "PersonEmail",
        "mobilePhone.number": "PersonMobilePhone",
        "person.birthDate": "PersonBirthdate",
        **_address("Billing"),
        **_AUDIT,
    },
}
#: Identity namespace -> attribute path.
IDENTITIES = {"crm_id": "crmId", "email": "personalEmail.address", "phone": "mobilePhone.number"}


def suggestions(object_name: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metadata suggesting a standard object's mapping and identities; empty for other objects.

    Args:
        object_name: the object's API name.
        fields: the object's described fields, when known: suggestions keep
            only those. Without them (a cheap discover), every standard field is
            suggested and the studio skips those the sample lacks.
    """
    standard = STANDARD_OBJECTS.get(object_name)
    if standard is None:
        return {}
    mapping = {path: name for path, name in standard.items() if fields is None or name in fields}
    used = set(mapping)
    return {
        SUGGESTED_MAPPING: mapping,
        SUGGESTED_IDENTITIES: {space: path for space, path in IDENTITIES.items() if path in used},
    }
