"""The settings of the Adobe Analytics connector, and the identities it suggests mapping.

The storage settings are the files connector's (:class:`AnyStorageConfig`);
the feed adds which report suite to read, which lookups to join, whether to
keep the hits Adobe's reports leave out, and the identities: by default the
Experience Cloud ID (``mcvisid``, namespace ``ecid``) and the Analytics
visitor ID, which Adobe's reports count visitors by (``post_visid_high`` and
``post_visid_low`` together, namespace ``cookie_id``). A site that stores its
CRM id in an eVar adds ``crm_id: post_evar5``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import Field, field_validator

from connectors._any_storage import AnyStorageConfig
from connectors._datafeed_columns import LOOKUP_JOINS
from connectors.base import SUGGESTED_IDENTITIES, SUGGESTED_MAPPING

#: The profile attribute each identity namespace goes to (core/mapping/profile_schema.yaml).
IDENTITY_ATTRIBUTES = {
    "ecid": "ecid",
    "cookie_id": "analyticsVisitorId",
    "crm_id": "crmId",
    "email": "personalEmail.address",
    "loyalty_id": "loyaltyId",
    "phone": "mobilePhone.number",
}
#: The Experience Cloud ID, and the Analytics visitor ID as Adobe's reports count visitors.
DEFAULT_IDENTITIES = {"ecid": "mcvisid", "cookie_id": "concat(post_visid_high, '_', post_visid_low)"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AdobeAnalyticsConfig(AnyStorageConfig):
    """Where the data feed is delivered, and how its hits are read."""

    report_suite: str | None = Field(
        None, description="The report suite id (rsid) to read; empty: every report suite delivered there."
    )
    join_lookups: bool | list[str] = Field(
        True,
        description="Add names from the lookup files (browser_name, os_name, country_name...): true for "
        "all, false for none, or a list of the columns to add.",
    )
    reported_hits_only: bool = Field(
        True,
        description="Leave out the hits Adobe's reports do not count: exclude_hit > 0 (bots, excluded "
        "IPs...) and hit_source 5, 7, 8, 9 (Data Sources uploads).",
    )
    identities: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_IDENTITIES),
        description="Identity namespace -> the column (or mapping expression) holding it, suggested when "
        "mapping: ecid (mcvisid), cookie_id (the Analytics visitor id), crm_id (an eVar)...",
    )

    @field_validator("join_lookups")
    @classmethod
    def _known_lookups(cls, value: bool | list[str]) -> bool | list[str]:
        known = [join.column for join in LOOKUP_JOINS]
        unknown = [name for name in value if name not in known] if isinstance(value, list) else []
        if unknown:
            raise ValueError(
                f"unknown lookup column(s) {', '.join(unknown)}; choose among {', '.join(known)}"
            )
        return value

    @field_validator("identities")
    @classmethod
    def _known_namespaces(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(IDENTITY_ATTRIBUTES))
        if unknown:
            raise ValueError(
                f"unknown identity namespace(s) {', '.join(unknown)}; use {', '.join(IDENTITY_ATTRIBUTES)}"
            )
        return {space: source.strip() for space, source in value.items() if source.strip()}


def identity_suggestions(identities: Mapping[str, str], columns: Collection[str]) -> dict[str, Any]:
    """``StreamInfo.metadata`` entries proposing each identity whose source columns the feed has."""
    present = set(columns)
    mapping = {
        IDENTITY_ATTRIBUTES[space]: source
        for space, source in identities.items()
        if _columns_of(source) <= present
    }
    return {
        SUGGESTED_MAPPING: mapping,
        SUGGESTED_IDENTITIES: {
            space: IDENTITY_ATTRIBUTES[space] for space in identities if IDENTITY_ATTRIBUTES[space] in mapping
        },
    }


def _columns_of(source: str) -> set[str]:
    """The column names a mapping source uses: itself, or the names in an expression (not functions)."""
    unquoted = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "", source)
    return {m.group() for m in _NAME.finditer(unquoted) if not unquoted[m.end() :].lstrip().startswith("(")}
