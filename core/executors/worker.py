"""What a Dask worker runs for one partition: open the store, rebuild the dataflow, read, commit.

A worker needs Tributary installed, ``TRIBUTARY_DATABASE_URL`` naming the
coordinator's PostgreSQL store and ``TRIBUTARY_SECRET_KEY`` the vault's key:
the task it receives holds the dataflow's name, the partition and the lease's
fencing token, never a credential. The store is opened once per worker
process (without migrating it: the coordinator did) and reused by its tasks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from cryptography.fernet import Fernet
from sqlalchemy import select

from core.errors import ConfigurationError
from core.executors.partition import PartitionResult, PartitionTask, read_partition, report_of
from core.secrets import KEY_ENV, Vault
from core.services import Workspace
from core.store import db
from core.store import tables as t

_workspaces: dict[tuple[str, str], Workspace] = {}
_lock = threading.Lock()


def read_partition_task(task: PartitionTask) -> PartitionResult:
    """Reads one partition of a run under the coordinator's lease; never raises (errors are reported)."""
    redact: Callable[[str], str] = lambda text: text  # noqa: E731 - replaced by the connection's once known
    try:
        workspace = worker_workspace()
        _check_same_store(workspace, task)
        run = workspace.dataflow_run(task.dataflow)
        redact = run.redact
        if int(run.row["version"]) != task.spec_version:
            raise ConfigurationError(
                f"Dataflow {task.dataflow!r} was saved as version {run.row['version']} while run "
                f"{task.run_id} read version {task.spec_version}; the run stopped. Run it again."
            )
        return read_partition(run, task, task.lease)
    except Exception as error:  # reported to the coordinator, which records it on the run
        return PartitionResult(task.partition.name, error=report_of(error, redact))


def worker_workspace() -> Workspace:
    """The store this worker process writes to, opened once from its environment."""
    url = os.environ.get("TRIBUTARY_DATABASE_URL", "").strip()
    if not url.startswith("postgresql"):
        shown = "unset" if not url else f"a {url.split(':', 1)[0]} URL"
        raise ConfigurationError(
            f"This Dask worker's TRIBUTARY_DATABASE_URL is {shown}: set it, on every worker, to the "
            "PostgreSQL store the scheduler uses, and TRIBUTARY_SECRET_KEY to that store's vault key."
        )
    key = (url, os.environ.get(KEY_ENV, ""))
    with _lock:
        workspace = _workspaces.get(key)
        if workspace is None:
            workspace = Workspace(db.create_store_engine(url), _vault())
            _workspaces[key] = workspace
        return workspace


def _vault() -> Vault:
    """The vault key from the environment (or the workspace folder); never a key file made here.

    Without one, a throwaway key stands in: connections without secrets still
    read, and one with secrets fails with the vault's message naming the key.
    """
    folder = db.workspace_dir()
    if os.environ.get(KEY_ENV, "").strip() or (folder / "secret.key").exists():
        return Vault.from_environment(folder)
    return Vault([Fernet.generate_key()])


def _check_same_store(workspace: Workspace, task: PartitionTask) -> None:
    """Raises ConfigurationError when this worker's store is not the one the run was started in."""
    with workspace.engine.connect() as conn:
        found = conn.execute(
            select(t.runs.c.id).where(t.runs.c.id == task.run_id, t.runs.c.dataflow_id == task.dataflow_id)
        ).first()
    if found is None:
        raise ConfigurationError(
            f"This Dask worker's store has no run {task.run_id} of dataflow {task.dataflow!r}: its "
            "TRIBUTARY_DATABASE_URL must name the same PostgreSQL database as the scheduler's."
        )
