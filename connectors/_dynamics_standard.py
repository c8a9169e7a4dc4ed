"""How standard Dataverse tables map onto the profile: what discover() suggests in a stream's metadata.

Columns are the Web API's (logical names; lookups as ``_<name>_value``), and
the attribute paths are those of ``core/mapping/profile_schema.yaml``. On a
contact, ``telephone1`` is the business phone and ``telephone2`` the home
phone; ``address1_country`` holds a country as people type it, which the
mapping studio checks (and converts) against the values. An account's main
phone (``telephone1``) is shared by everyone at the company, so it is not
suggested as a phone identity.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from connectors.base import SUGGESTED_IDENTITIES, SUGGESTED_MAPPING

_ADDRESS = {
    "homeAddress.street1": "address1_line1",
    "homeAddress.street2": "address1_line2",
    "homeAddress.city": "address1_city",
    "homeAddress.postalCode": "address1_postalcode",
    "homeAddress.region": "address1_stateorprovince",
    "homeAddress.countryCode": "address1_country",
}
_TIMES = {"createdAt": "createdon", "updatedAt": "modifiedon"}

#: Table logical name -> attribute path -> column.
STANDARD_MAPPINGS: Mapping[str, Mapping[str, str]] = {
    "contact": {
        "crmId": "contactid",
        "person.firstName": "firstname",
        "person.middleName": "middlename",
        "person.lastName": "lastname",
        "person.fullName": "fullname",
        "person.birthDate": "birthdate",
        "person.gender": "gendercode_formatted",  # the option's label, with formatted values on
        "personalEmail.address": "emailaddress1",
        "mobilePhone.number": "mobilephone",
        "homePhone.number": "telephone2",
        **_ADDRESS,
        **_TIMES,
    },
    "account": {
        "crmId": "accountid",
        "person.fullName": "name",
        "personalEmail.address": "emailaddress1",
        **_ADDRESS,
        **_TIMES,
    },
}
#: Identity namespace -> attribute path, kept for the paths a table's mapping fills.
STANDARD_IDENTITIES = {"crm_id": "crmId", "email": "personalEmail.address", "phone": "mobilePhone.number"}


def standard_metadata(logical_name: str, columns: Collection[str]) -> dict[str, Any]:
    """``StreamInfo.metadata`` entries suggesting a standard table's mapping and identities (else none).

    Only columns the table really offers are suggested (a customised
    environment may lack some, and ``*_formatted`` ones need formatted values).
    """
    standard = STANDARD_MAPPINGS.get(logical_name)
    if standard is None:
        return {}
    mapping = {path: column for path, column in standard.items() if column in columns}
    identities = {space: path for space, path in STANDARD_IDENTITIES.items() if path in mapping}
    return {SUGGESTED_MAPPING: mapping, SUGGESTED_IDENTITIES: identities}
