"""Bulk API 2.0 query jobs: create one, wait for JobComplete, read its CSV result sets in bounded chunks.

The Bulk API 2.0 and Bulk API Developer Guide: "Create a Query Job"
(``POST /jobs/query``, query_create_job.htm), "Get Information About a Query
Job" (``GET /jobs/query/<id>``, query_get_one_job.htm: UploadComplete,
InProgress, JobComplete, Failed, Aborted), "Get Results for a Query Job"
(``GET /jobs/query/<id>/results?maxRecords=&locator=``,
query_get_job_results.htm: CSV sets, each with its header row;
``Sforce-Locator`` names the next set and reads ``null`` after the last),
"Abort a Query Job" (``PATCH`` with ``{"state": "Aborted"}``).

The job is polled with a growing pause (1 s, doubling, at most 15 s) for at
most four hours. Each result set holds at most the read's chunk size, and is
parsed by pyarrow's CSV reader as text (an empty field is null: Salesforce has
no empty strings); the connector then types the columns.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors._http import HttpClient
from connectors._http_errors import where
from connectors._sql_types import STRING
from connectors.base import ConnectorError, FormatError, SourceUnreachableError

POLL_FIRST_S = 1.0
POLL_MAX_S = 15.0
#: How long a job may take before the read gives up on it (and aborts it).
MAX_WAIT_S = 4 * 3600.0

Operation = Literal["query", "queryAll"]


def bulk_query(
    client: HttpClient,
    data_path: str,
    *,
    object_name: str,
    soql: str,
    operation: Operation,
    columns: Sequence[str],
    max_records: int,
    sleep: Callable[[float], None],
) -> Iterator[pd.DataFrame]:
    """Runs ``soql`` as a query job and yields its result sets (text columns, at most ``max_records`` rows).

    Raises:
        SourceUnreachableError: the job failed in Salesforce, or did not finish in time.
        ConnectorError: the job was aborted in Salesforce, or refused (its message says why).
        FormatError: an answer was not the job or the CSV it should be.
    """
    body = {
        "operation": operation,
        "query": soql,
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
    }
    created = client.request("POST", f"{data_path}/jobs/query", object_name=object_name, json_body=body)
    job = _job_of(created.content, object_name, where("POST", created.url, None))
    url = f"{data_path}/jobs/query/{job['id']}"
    _wait(client, url, str(job["id"]), object_name, sleep)
    locator, number = "", 1
    while True:
        params: dict[str, Any] = {"maxRecords": max_records, **({"locator": locator} if locator else {})}
        response = client.request(
            "GET", f"{url}/results", object_name=object_name, params=params, headers={"Accept": "text/csv"},
            page=number,
        )  # fmt: skip
        yield _result_set(response.content, columns, object_name, where("GET", response.url, number))
        locator = response.headers.get("Sforce-Locator") or "null"
        if locator == "null":
            return
        number += 1


def _wait(
    client: HttpClient, url: str, job_id: str, object_name: str, sleep: Callable[[float], None]
) -> None:
    """Polls the job until JobComplete; raises for Failed, Aborted, or no end in sight."""
    waited, pause = 0.0, POLL_FIRST_S
    while True:
        info = client.get_json(url, object_name=object_name) or {}
        state = info.get("state")
        if state == "JobComplete":
            return
        if state == "Failed":
            reason = info.get("errorMessage") or "no reason given"
            raise SourceUnreachableError(
                client.redact(
                    f"{object_name}: the Bulk API 2.0 query job {job_id} failed in Salesforce: {reason}"
                )
            )
        if state == "Aborted":
            raise ConnectorError(
                f"{object_name}: the Bulk API 2.0 query job {job_id} was aborted in Salesforce "
                "(Setup > Bulk Data Load Jobs); the next run starts a new one."
            )
        if waited >= MAX_WAIT_S:
            with contextlib.suppress(ConnectorError):
                client.request("PATCH", url, object_name=object_name, json_body={"state": "Aborted"})
            raise SourceUnreachableError(
                f"{object_name}: the Bulk API 2.0 query job {job_id} was still {state} after "
                f"{MAX_WAIT_S / 3600:.0f} hours; it was aborted."
            )
        sleep(pause)
        waited += pause
        pause = min(pause * 2, POLL_MAX_S)


def _job_of(content: bytes, object_name: str, location: str) -> dict[str, Any]:
    try:
        job = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        job = None
    if not isinstance(job, dict) or not job.get("id"):
        raise FormatError(f"{object_name}: {location} did not answer a Bulk API 2.0 job.")
    return job


def _result_set(content: bytes, columns: Sequence[str], object_name: str, location: str) -> pd.DataFrame:
    """One CSV result set as text columns, parsed by pyarrow (quoted line breaks kept)."""
    if not content.strip():
        return pd.DataFrame({name: pd.Series(dtype=STRING) for name in columns})
    try:
        table = pacsv.read_csv(
            io.BytesIO(content),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                include_columns=list(columns),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise FormatError(
            f"{object_name}: {location} answered a result set that is not the CSV asked for ({error})."
        ) from None
    return table.to_pandas(types_mapper={pa.string(): STRING}.get)
