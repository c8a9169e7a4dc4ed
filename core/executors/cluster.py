"""The Dask executor: a run's partitions are read on the workers of a Dask distributed cluster.

The coordinator (the process that started the run) keeps the run: its lease,
renewed by its heartbeat; its plan; and its end (watermark, status). It
sends one task per partition, holding only names, versions and the lease's
fencing token (:class:`~core.executors.partition.PartitionTask`): each worker
opens the store from its own ``TRIBUTARY_DATABASE_URL``, rebuilds the
connector from the saved connection and decrypts its secrets with its own
``TRIBUTARY_SECRET_KEY``, so no credential travels through Dask.

While the tasks run, the coordinator reads the run's committed counters for
the progress callback. The first partition that fails stops the run: the
coordinator moves its lease's token on (no worker can commit after that),
cancels what has not started, and the run fails with that partition's error.
A worker that dies is replaced by Dask, which gives its task to another
worker; the task resumes after the chunks its partition committed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from core.errors import ConfigurationError, LeaseLostError, RunFailedError
from core.executors.partition import ErrorReport, PartitionResult, report_of
from core.quality import ValidationSummary

if TYPE_CHECKING:
    from distributed import Client, Future

    from core.executors.partition import PartitionJob, PartitionTask
    from core.ingest import DataflowRun
    from core.store.leases import Lease

log = logging.getLogger(__name__)

_POLL_S = (
    1.0  # how often the coordinator reads the run's counters (and checks its lease) while partitions run
)
#: Dask settings of the workers of a local cluster: no statistical profiler (it samples every thread's
#: stack 100 times a second, about 5% of a worker's time on Tributary's chunks).
LOCAL_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
_CONNECT_TIMEOUT_S = 30.0
_WORKERS_TIMEOUT_S = 60.0  # how long a run waits for a cluster without workers to get one

_clients: dict[str, Client] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class DaskExecutor:
    """Sends partitions to a Dask cluster: an existing scheduler, or a LocalCluster of this process.

    Attributes:
        address: the scheduler's address (``tcp://HOST:PORT``), or None for a local cluster.
        local_workers: the worker processes of the local cluster.
    """

    address: str | None = None
    local_workers: int = 0
    name = "dask"

    @classmethod
    def from_setting(cls, text: str) -> DaskExecutor:
        """``dask://HOST:PORT`` or ``local-cluster:N``."""
        if text.startswith("dask://"):
            where = text.removeprefix("dask://").strip("/")
            host, _, port = where.rpartition(":")
            if not host or not port.isdigit():
                raise ConfigurationError(
                    f"TRIBUTARY_EXECUTOR={text!r}: give the Dask scheduler as dask://HOST:PORT "
                    "(its port is 8786 unless it was started with another)."
                )
            return cls(address=f"tcp://{where}")
        count = text.removeprefix("local-cluster:").strip()
        if not count.isdigit() or int(count) < 1:
            raise ConfigurationError(
                f"TRIBUTARY_EXECUTOR={text!r}: give the number of local worker processes, "
                "e.g. local-cluster:2."
            )
        return cls(local_workers=int(count))

    def check_store(self, engine: Engine) -> None:
        """Refuses any store but PostgreSQL: workers on several machines commit at once."""
        if engine.dialect.name != "postgresql":
            raise ConfigurationError(
                f"Runs on a Dask cluster need a PostgreSQL store, and this one is {engine.dialect.name}: "
                "SQLite lets one process write at a time, and workers on other machines cannot reach its "
                "file. Set TRIBUTARY_DATABASE_URL to a PostgreSQL database (for the coordinator and every "
                "worker), or unset TRIBUTARY_EXECUTOR to run in this process."
            )

    # -- the run -------------------------------------------------------------------
    def run_partitions(self, job: PartitionJob) -> None:
        """Reads the partitions on the cluster, biggest first; raises what stopped the run."""
        from core.executors.worker import read_partition_task

        run, summary, tasks = job.run, job.summary, job.tasks
        client = self.client(run.store.engine)
        order = sorted(range(len(tasks)), key=lambda i: -(tasks[i].partition.size or 0))
        futures: dict[Future, PartitionTask] = {}
        finished = threading.Event()  # set by Dask when any task ends
        for rank, index in enumerate(order):
            task = tasks[index]
            key = f"tributary-{task.dataflow}-run{task.run_id}-part{index}"
            future = client.submit(read_partition_task, task, key=key, pure=False, priority=-rank)
            future.add_done_callback(lambda _: finished.set())
            futures[future] = task
        pending = set(futures)
        results: list[PartitionResult] = []
        seen = (summary.received, summary.chunks)
        try:
            while pending:
                finished.wait(_POLL_S)
                finished.clear()
                for future in [f for f in pending if f.done()]:
                    pending.discard(future)
                    result = _outcome(future, futures[future], run)
                    if result.error is not None:
                        raise result.error.to_error()
                    results.append(result)
                with run.store.engine.begin() as conn:
                    # a run whose lease was revoked (given up by a scheduler) stops now, not when its
                    # workers next commit: a long read may not commit for a while
                    job.lease.fence().check(conn)
                    run.refresh_counters(summary, conn)
                if run.progress and (summary.received, summary.chunks) != seen:
                    seen = (summary.received, summary.chunks)
                    run.progress(summary)
        except BaseException:
            _stop(client, job.lease, pending)
            run.refresh_counters(summary)  # fenced off: these are the run's final counts
            run.validation = _merged(run.validation, results)
            raise
        finally:
            futures.clear()
        run.validation = _merged(run.validation, results)

    # -- the cluster ---------------------------------------------------------------
    def client(self, engine: Engine) -> Client:
        """This process's client of the cluster (made once, reused by every run)."""
        import dask
        from distributed import Client, LocalCluster

        if self.address is not None:
            key = self.address
        else:
            url = engine.url.render_as_string(hide_password=False)
            key = f"local-cluster:{self.local_workers}:{url}"
        with _clients_lock:
            client = _clients.get(key)
            if client is not None and client.status == "running":
                return client
            try:
                if self.address is not None:
                    client = Client(self.address, timeout=_CONNECT_TIMEOUT_S, set_as_default=False)
                else:
                    with dask.config.set(LOCAL_WORKER_CONFIG):  # the nannies hand it to their workers
                        cluster = LocalCluster(
                            n_workers=self.local_workers,
                            threads_per_worker=1,
                            processes=True,
                            dashboard_address=None,
                            # the workers open the coordinator's store and inherit the rest of its environment
                            env={"TRIBUTARY_DATABASE_URL": url},
                        )
                    client = Client(cluster, set_as_default=False)
                client.wait_for_workers(1, timeout=_WORKERS_TIMEOUT_S)
            except (OSError, TimeoutError) as error:
                where = self.address or f"a local cluster of {self.local_workers} workers"
                raise RunFailedError(
                    f"The Dask cluster ({where}) is not available: {type(error).__name__}. "
                    "Check that its scheduler runs and has workers, or unset TRIBUTARY_EXECUTOR.",
                    code="executor_unavailable",
                ) from None
            _clients[key] = client
            return client


def _outcome(future: Future, task: PartitionTask, run: DataflowRun) -> PartitionResult:
    """A finished task's result; a task that died or could not start becomes an error report."""
    from distributed import KilledWorker

    name = task.partition.name
    try:
        result = future.result()
    except KilledWorker:
        return PartitionResult(
            name,
            error=ErrorReport(
                "RunFailedError",
                "worker_lost",
                f"Dask workers died again and again while reading {name!r} (out of memory?); the run "
                "stopped. Its committed chunks are kept: run it again to resume.",
            ),
        )
    except ModuleNotFoundError as error:
        return PartitionResult(
            name,
            error=ErrorReport(
                "ConfigurationError",
                "configuration",
                f"A Dask worker cannot import {error.name!r}: install Tributary (the same version) and its "
                "requirements on every worker, with TRIBUTARY_DATABASE_URL and TRIBUTARY_SECRET_KEY set.",
            ),
        )
    except Exception as error:  # cancelled, or the task could not be run at all
        return PartitionResult(name, error=report_of(error, run.redact))
    assert isinstance(result, PartitionResult)
    return result


def _stop(client: Client, lease: Lease, pending: set[Any]) -> None:
    """Fences off every worker of the run, then cancels the partitions not read yet."""
    try:
        lease.rotate()  # waits for commits in flight; none can land after it
    except LeaseLostError:
        pass  # already lost: no worker's commit can land either
    except Exception:
        log.exception("could not fence off the workers of dataflow %s", lease.dataflow_id)
    if pending:
        try:
            client.cancel(list(pending))
        except Exception:
            log.warning("could not cancel %d partition task(s); they are fenced off", len(pending))


def _merged(start: ValidationSummary | None, results: list[PartitionResult]) -> ValidationSummary | None:
    """The run's validation summary: those of its partitions, merged."""
    if start is None:
        return None
    merged = start
    for result in results:
        if result.validation is not None:
            merged = merged.merge(ValidationSummary.from_json(result.validation))
    return merged


@atexit.register
def close_clients() -> None:
    """Closes this process's clients of Dask clusters (and the local clusters it started)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        cluster = client.cluster
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
