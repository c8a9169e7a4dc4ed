"""The connector registry: the explicit list of connector classes, by name."""

from __future__ import annotations

from connectors.adobe_analytics import AdobeAnalyticsConnector
from connectors.adobe_audience_manager import AudienceManagerConnector
from connectors.adobe_campaign import AdobeCampaignConnector
from connectors.adobe_commerce import AdobeCommerceConnector
from connectors.base import Connector
from connectors.dynamics import DynamicsConnector
from connectors.files import AzureBlobConnector, FilesConnector, GcsConnector, S3Connector, SftpConnector
from connectors.marketing_cloud import MarketingCloudConnector
from connectors.rest import RestConnector
from connectors.salesforce import SalesforceConnector
from connectors.sql import (
    BigQueryConnector,
    MySqlConnector,
    PostgresConnector,
    RedshiftConnector,
    SqliteConnector,
    SqlServerConnector,
)

REGISTRY: dict[str, type[Connector]] = {
    cls.name: cls
    for cls in (
        FilesConnector,
        S3Connector,
        AzureBlobConnector,
        GcsConnector,
        SftpConnector,
        PostgresConnector,
        MySqlConnector,
        SqlServerConnector,
        RedshiftConnector,
        SqliteConnector,
        BigQueryConnector,
        RestConnector,
        AdobeCommerceConnector,
        AdobeCampaignConnector,
        AudienceManagerConnector,
        AdobeAnalyticsConnector,
        SalesforceConnector,
        DynamicsConnector,
        MarketingCloudConnector,
    )
}

#: The catalog the dashboard shows: every source family, available or planned.
CATALOG: dict[str, list[tuple[str, str]]] = {
    "Adobe applications": [
        ("adobe_analytics", "Adobe Analytics"),
        ("adobe_audience_manager", "Adobe Audience Manager"),
        ("adobe_campaign", "Adobe Campaign"),
        ("adobe_commerce", "Adobe Commerce"),
    ],
    "Cloud storage": [
        ("files", "Local files"),
        ("s3", "Amazon S3"),
        ("azure_blob", "Azure Blob Storage"),
        ("gcs", "Google Cloud Storage"),
        ("sftp", "SFTP"),
    ],
    "Databases": [
        ("postgres", "PostgreSQL"),
        ("mysql", "MySQL / MariaDB"),
        ("sqlserver", "Microsoft SQL Server"),
        ("redshift", "Amazon Redshift"),
        ("bigquery", "Google BigQuery"),
        ("sqlite", "SQLite"),
    ],
    "CRM and marketing automation": [
        ("salesforce", "Salesforce"),
        ("dynamics", "Microsoft Dynamics 365"),
        ("marketing_cloud", "Salesforce Marketing Cloud"),
    ],
    "Web APIs": [
        ("rest", "REST / JSON API"),
    ],
}


def connector_class(name: str) -> type[Connector]:
    """The connector class registered as ``name``; KeyError lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown connector {name!r}; available: {', '.join(sorted(REGISTRY))}") from None
