"""Where the partitions of a run are read: in the run's own process, or on a Dask cluster.

``TRIBUTARY_EXECUTOR`` chooses, for every run of the process (the scheduler,
"Run now", the command line):

- unset or ``local``: the run reads its partitions one after the other, itself;
- ``dask://HOST:PORT``: the partitions go to the workers of that Dask
  distributed cluster, read in parallel (see docs/dask.md);
- ``local-cluster:N``: the same on a Dask ``LocalCluster`` of N worker
  processes started by this process (one machine, several cores).

Whatever the executor, the run itself — its lease and heartbeat, its plan,
the drift check, the final watermark and status — stays in the process that
started it (the coordinator). Only a partitioned source (an incremental
dataflow over files or objects) is split; other runs read in the coordinator.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from core.errors import ConfigurationError
from core.executors.local import LocalExecutor

if TYPE_CHECKING:
    from core.executors.partition import PartitionJob

EXECUTOR_ENV = "TRIBUTARY_EXECUTOR"

__all__ = ["EXECUTOR_ENV", "Executor", "LocalExecutor", "from_environment", "from_setting"]


class Executor(Protocol):
    """Reads the partitions of a run; the run keeps its lease and writes its outcome."""

    name: str

    def check_store(self, engine: Engine) -> None:
        """Raises ConfigurationError when this executor cannot work with the store."""

    def run_partitions(self, job: PartitionJob) -> None:
        """Reads every partition, keeping the job's summary current; raises what stopped the run.

        When it raises, no partition commits anything more.
        """


def from_setting(value: str | None) -> Executor:
    """The executor a ``TRIBUTARY_EXECUTOR`` value names.

    Raises:
        ConfigurationError: the value is none of the forms above.
    """
    text = (value or "").strip()
    if text in ("", "local"):
        return LocalExecutor()
    if text.startswith("dask://") or text.startswith("local-cluster:"):
        from core.executors.cluster import DaskExecutor

        return DaskExecutor.from_setting(text)
    raise ConfigurationError(
        f"{EXECUTOR_ENV}={text!r} is not an executor: use 'local' (the default), "
        "'dask://HOST:PORT' for a Dask cluster's scheduler, or 'local-cluster:N' for N local workers."
    )


def from_environment() -> Executor:
    """The executor ``TRIBUTARY_EXECUTOR`` names (local when unset)."""
    return from_setting(os.environ.get(EXECUTOR_ENV))
