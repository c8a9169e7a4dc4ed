"""The scheduler process: each tick claims the due slots and hands their runs to an executor.

A tick (driven by the ``schedule`` library) beats the heartbeat, abandons
runs stuck past their timeout, re-reads the dataflows and their state, and
for each due dataflow that this process is not already running, claims the
slot in the store and submits the run. Runs go to a thread pool (any
``concurrent.futures.Executor`` will do), so a long run never delays another
dataflow's slot; ``workers`` bounds how many run at once, and a process with
no free worker claims nothing, leaving the slot to another scheduler.

Several schedulers, on one machine or many, may serve one store: the claim
makes each slot start once, and the run's lease makes each dataflow run once
at a time (a run that finds the lease held is skipped: the holder runs it).

A thread cannot be killed. A run stuck past ``run_timeout_s`` is given up:
its lease is revoked (its token moves on, so none of its later commits can
land), its run row is marked ``abandoned`` with code ``timeout``, and the slot
is retried. The stuck thread keeps a worker until it returns.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import schedule as ticks
from sqlalchemy import ColumnElement, Connection, update

from core.scheduler import health, runs, state
from core.scheduler.settings import SchedulerSettings
from core.store import leases
from core.store import tables as t
from core.store.repository import utcnow

if TYPE_CHECKING:
    from core.services import Workspace

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_FENCED_WAIT_S = 5.0  # on stop, how long a fenced-off run may take to notice


@dataclass
class _Job:
    """A run this process submitted, and what became of it."""

    claim: state.Claim
    future: Future[state.Outcome] | None = None
    started: float | None = None  # time.monotonic() when a worker began it
    given_up: tuple[str, str] | None = None  # (code, message) once abandoned
    done: threading.Event = field(default_factory=threading.Event)


class Scheduler:
    """Runs saved dataflows on their schedules, from one process.

    Args:
        workspace: the store (and vault) to serve.
        settings: workers, tick, timeouts, retries; default from the environment.
        clock: the time schedules are computed against (tests freeze it); UTC.
        executor: where runs go; default a thread pool of ``settings.workers``.
    """

    def __init__(
        self,
        workspace: Workspace,
        settings: SchedulerSettings | None = None,
        *,
        clock: Clock = utcnow,
        executor: Executor | None = None,
    ) -> None:
        self.workspace = workspace
        self.engine = workspace.engine
        self.settings = settings or SchedulerSettings.from_environment()
        self.clock = clock
        self.owner = f"{leases.process_owner_prefix()}{uuid.uuid4().hex[:8]}"
        self._executor = executor or ThreadPoolExecutor(self.settings.workers, thread_name_prefix="run")
        self._jobs: dict[str, _Job] = {}  # dataflow name -> its job in flight
        self._stuck: list[_Job] = []  # abandoned jobs whose thread has not returned
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._registered = False

    # -- the tick --------------------------------------------------------------
    def tick(self) -> list[state.Claim]:
        """One pass: heartbeat, timeouts, then claim and submit what is due. Returns the claims."""
        self._register()
        self.abandon_overdue()
        if self._stopping.is_set():
            return []
        now = self.clock()
        claimed = []
        for entry in self._due(now):
            if self._free_workers() <= 0:
                break
            claim = state.claim(self.engine, entry, now)
            if claim is None:
                continue  # another scheduler took it
            log.info(
                "claimed %s %s slot %s attempt %s",
                claim.name,
                claim.trigger,
                claim.slot.isoformat() if claim.slot else "-",
                claim.attempt,
            )
            self._submit(claim)
            claimed.append(claim)
        self.beat()
        return claimed

    def _due(self, now: datetime) -> list[state.Scheduled]:
        entries = state.refresh(self.engine, now, self.settings.min_interval_minutes)
        with self._lock:
            busy = set(self._jobs)
        due = [e for e in entries if e.state.due(now) and e.name not in busy]
        return sorted(due, key=lambda e: (e.state.due_at() or now, e.name))

    def _free_workers(self) -> int:
        with self._lock:
            self._stuck = [job for job in self._stuck if not job.done.is_set()]
            return self.settings.workers - len(self._jobs) - len(self._stuck)

    def _submit(self, claim: state.Claim) -> None:
        job = _Job(claim)
        with self._lock:
            self._jobs[claim.name] = job
        job.future = self._executor.submit(self._work, job)

    def _work(self, job: _Job) -> state.Outcome:
        """Runs in a worker: the run, then its outcome into the store."""
        job.started = time.monotonic()
        try:
            outcome = runs.run_claimed(self.workspace, job.claim)
            with self._lock:
                given_up = job.given_up
            if given_up is not None:
                # fenced off, the run failed on its lost lease; it stays what it was: abandoned
                if outcome.run_id is not None and outcome.error_code == "lease_lost":
                    with self.engine.begin() as c:
                        _mark_abandoned(c, t.runs.c.id == outcome.run_id, *given_up)
                return outcome  # its retry was recorded when it was given up
            try:
                runs.record_scheduled(self.workspace, job.claim, outcome, self.clock(), self.settings)
            except Exception:
                log.exception("could not record the outcome of %s", job.claim.name)
            log.info("%s: %s (run %s)", job.claim.name, outcome.status, outcome.run_id)
            return outcome
        finally:
            with self._lock:
                if self._jobs.get(job.claim.name) is job:
                    del self._jobs[job.claim.name]
            job.done.set()

    # -- stuck runs -------------------------------------------------------------
    def abandon_overdue(self) -> list[str]:
        """Gives up on runs going for longer than ``run_timeout_s``; returns their dataflows."""
        limit = self.settings.run_timeout_s
        with self._lock:
            overdue = [
                job
                for job in self._jobs.values()
                if job.started is not None and time.monotonic() - job.started > limit
            ]
        for job in overdue:
            self._abandon(job, "timeout", f"The run took longer than {limit:g} seconds and was given up.")
            runs.record_scheduled(
                self.workspace,
                job.claim,
                state.Outcome("failed", error_code="timeout", retriable=True),
                self.clock(),
                self.settings,
            )
        return [job.claim.name for job in overdue]

    def abandoned(self) -> list[str]:
        """The dataflows of runs given up on whose threads have not returned yet."""
        with self._lock:
            return sorted(job.claim.name for job in self._stuck if not job.done.is_set())

    def _abandon(self, job: _Job, code: str, message: str) -> None:
        """Fences off a run of this process and marks its run row abandoned."""
        with self._lock:
            job.given_up = (code, message)
            if self._jobs.get(job.claim.name) is job:
                del self._jobs[job.claim.name]
            if not job.done.is_set():
                self._stuck.append(job)
        dataflow_id = job.claim.dataflow_id
        with self.engine.begin() as c:
            if leases.revoke(c, dataflow_id, leases.process_owner_prefix()):
                running = (t.runs.c.dataflow_id == dataflow_id) & (t.runs.c.status == "running")
                _mark_abandoned(c, running, code, message)
        log.warning("%s: %s", job.claim.name, message)

    # -- heartbeat ----------------------------------------------------------------
    def _register(self) -> None:
        if not self._registered:
            health.register(self.engine, self.owner)
            self._registered = True

    def beat(self) -> None:
        """Says this process is alive, and which dataflows it is running."""
        self._register()
        health.beat(self.engine, self.owner, self.running())

    def running(self) -> list[str]:
        """The dataflows this process is running now."""
        with self._lock:
            return sorted(self._jobs)

    # -- the loop and stopping ------------------------------------------------------
    def serve(self, stop: threading.Event, also: Sequence[tuple[float, Callable[[], object]]] = ()) -> None:
        """Ticks every ``tick_seconds`` (and beats in between) until ``stop`` is set.

        Args:
            stop: set it (a signal handler does) to return.
            also: more ``(seconds, action)`` jobs, e.g. dispatching alerts. Each runs
                in a thread of its own, so a slow one (a mail server that does not
                answer) never delays a tick; one still running when it is due again
                is not started twice. A failing one is logged and tried next time.
        """
        jobs = ticks.Scheduler()
        # `schedule` types intervals as int, but takes fractional seconds (tests tick fast)
        jobs.every(self.settings.tick_seconds).seconds.do(self._safely, self.tick)  # type: ignore[arg-type]
        jobs.every(self.settings.beat_every).seconds.do(self._safely, self.beat)  # type: ignore[arg-type]
        for seconds, action in also:
            jobs.every(seconds).seconds.do(_Background(self._safely, action))  # type: ignore[arg-type]
        self._safely(self.tick)
        while not stop.is_set():
            idle = jobs.idle_seconds
            stop.wait(min(max(idle if idle is not None else 0.0, 0.01), self.settings.tick_seconds))
            if not stop.is_set():
                jobs.run_pending()

    def _safely(self, action: Callable[[], object]) -> None:
        """Runs a tick or a beat; a failure (the store down, say) waits for the next one."""
        try:
            action()
        except Exception:
            log.exception("scheduler %s failed; trying again next time", getattr(action, "__name__", action))

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the runs in flight; True when none is left."""
        with self._lock:
            futures = [job.future for job in self._jobs.values() if job.future is not None]
        _, pending = wait(futures, timeout=timeout)
        return not pending

    def shutdown(self, grace_s: float | None = None) -> list[str]:
        """Stops claiming, lets runs finish for ``grace_s``, then gives up on the rest.

        A run still going after the grace period is fenced off and marked
        abandoned, and its slot is made due again, so the next scheduler
        (another one, or this one restarted) runs it at once. Returns the
        dataflows given up on; the caller may then exit without waiting for
        their threads.
        """
        self._stopping.set()
        grace = self.settings.grace_s if grace_s is None else grace_s
        left = []
        if not self.wait(timeout=grace):
            with self._lock:
                jobs = list(self._jobs.values())
            for job in jobs:
                self._abandon(job, "interrupted", "The scheduler stopped before the run finished.")
                state.retry_soon(self.engine, job.claim.dataflow_id, self.clock())
                left.append(job.claim.name)
            # fenced off, most runs fail at their next commit: let them, so their rows end abandoned
            wait([job.future for job in jobs if job.future is not None], timeout=_FENCED_WAIT_S)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._registered:
            health.mark_stopped(self.engine, self.owner)
        return left


class _Background:
    """Starts an action in a daemon thread, unless its previous start is still running."""

    def __init__(self, runner: Callable[[Callable[[], object]], None], action: Callable[[], object]) -> None:
        self.runner, self.action = runner, action
        self.thread: threading.Thread | None = None

    def __call__(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        name = getattr(self.action, "__name__", "job")
        self.thread = threading.Thread(target=self.runner, args=(self.action,), name=name, daemon=True)
        self.thread.start()


def _mark_abandoned(conn: Connection, which: ColumnElement[bool], code: str, message: str) -> None:
    """Marks run rows abandoned, with why."""
    conn.execute(
        update(t.runs)
        .where(which)
        .values(status="abandoned", finished_at=utcnow(), error_code=code, error_message=message)
    )


def warped_clock(origin: datetime, factor: float) -> Clock:
    """A clock running ``factor`` times faster than real time from ``origin``: for tests only.

    Processes given the same origin and factor agree on the time, so a race
    of real scheduler processes can go through many slots of a one-minute
    schedule in seconds.
    """

    def now() -> datetime:
        return origin + (utcnow() - origin) * factor

    return now
