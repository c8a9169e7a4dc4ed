"""Overview: headline figures, the dataflows table, the latest runs."""

from __future__ import annotations

from core.services import Workspace
from tests.pages.apptest import open_page


def test_metrics_match_the_workspace_figures() -> None:
    at = open_page("pages/overview.py")
    assert not at.exception
    figures = Workspace.open().overview()
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Connections"] == f"{figures['connections']:,}"
    assert shown["Dataflows"] == f"{figures['dataflows']:,}"
    assert shown["Records ingested"] == f"{figures['records_ingested']:,}"
    assert shown["Rows quarantined"] == f"{figures['rows_failed']:,}"
    assert figures["records_ingested"] > 0  # the demo ran


def test_dataflows_table_and_latest_runs() -> None:
    at = open_page("pages/overview.py")
    flows, runs = at.dataframe[0].value, at.dataframe[1].value
    assert {"crm_contacts", "shop_orders"} <= set(flows["name"])
    assert flows.set_index("name").loc["crm_contacts", "last_status"] in {"succeeded", "partial"}
    assert 2 <= len(runs) <= 10
    assert list(runs["id"]) == sorted(runs["id"], reverse=True)  # newest first
