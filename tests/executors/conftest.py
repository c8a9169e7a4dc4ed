"""A Dask cluster of two worker processes on the test's PostgreSQL store, and a source of files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.executors import EXECUTOR_ENV
from core.secrets import KEY_ENV
from core.services import Workspace
from tests.executors.databases import fresh_database

__all__ = ["fresh_database", "save_dataflow", "write_files"]


def write_files(folder: Path, files: range, rows: int, *, bad_every: int = 0, emails: int = 0) -> int:
    """CSV files ``f<i>.csv`` of ``rows`` customers each; returns how many rows are bad.

    Every ``bad_every``-th customer has points that are not a number (quarantined);
    with ``emails``, customers share ``emails`` addresses (their profiles merge across files).
    """
    folder.mkdir(exist_ok=True)
    bad = 0
    for index in files:
        lines = ["id,email,points"]
        for customer in range(index * rows, (index + 1) * rows):
            email = f"u{customer % emails if emails else customer}@example.com"
            wrong = bad_every and customer % bad_every == 0
            bad += bool(wrong)
            lines.append(f"{customer},{email},{'lots' if wrong else customer % 100}")
        (folder / f"f{index:02d}.csv").write_text("\n".join(lines) + "\n")
    return bad


def save_dataflow(workspace: Workspace, folder: Path, *, chunk_size: int, identities: bool = False) -> None:
    """Dataflow ``customers``: incremental over ``*.csv`` of ``folder``, keyed by id."""
    workspace.save_connection("drop", "files", {"url": str(folder)})
    spec = {
        "source": {"connection": "drop", "stream": "*.csv"},
        "sync": {"mode": "incremental", "primary_key": ["id"], "chunk_size": chunk_size},
        "mapping": {"crmId": "id", "personalEmail.address": "email", "loyalty.points": "to_int(points)"},
        "error_threshold": 0.2,
    }
    if identities:
        spec["identities"] = {"email": "personalEmail.address", "crm_id": "crmId"}
    workspace.save_dataflow("customers", spec)


@pytest.fixture
def pg_workspace(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An empty workspace on PostgreSQL whose vault key is in the environment, as workers need it."""
    if not store_url.startswith("postgresql"):
        pytest.skip("the Dask executor needs PostgreSQL")
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    return Workspace.open()


@pytest.fixture
def cluster(pg_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A LocalCluster of two worker processes; TRIBUTARY_EXECUTOR points at its scheduler.

    Yields a client of its own (for the test to find and kill workers).
    """
    from distributed import Client, LocalCluster

    from core.executors.cluster import close_clients

    env = {name: os.environ[name] for name in ("TRIBUTARY_DATABASE_URL", KEY_ENV)}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env=env
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        monkeypatch.setenv(EXECUTOR_ENV, "dask://" + local.scheduler_address.removeprefix("tcp://"))
        try:
            yield client
        finally:
            close_clients()
