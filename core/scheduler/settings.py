"""The scheduler's knobs, from the environment (and the command line's overrides)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any

from core.scheduler.timetable import min_interval_minutes

# environment variable -> setting; every one is optional
ENVIRONMENT = {
    "TRIBUTARY_SCHEDULER_WORKERS": "workers",
    "TRIBUTARY_SCHEDULER_TICK_S": "tick_seconds",
    "TRIBUTARY_SCHEDULER_HEARTBEAT_S": "heartbeat_seconds",
    "TRIBUTARY_RUN_TIMEOUT_S": "run_timeout_s",
    "TRIBUTARY_RETRY_ATTEMPTS": "retry_attempts",
    "TRIBUTARY_RETRY_BACKOFF_S": "retry_backoff_s",
    "TRIBUTARY_RETRY_BACKOFF_MAX_S": "retry_backoff_max_s",
    "TRIBUTARY_SCHEDULER_GRACE_S": "grace_s",
}


@dataclass(frozen=True)
class SchedulerSettings:
    """How the scheduler runs.

    Attributes:
        workers: runs at once in this process (each dataflow at most once).
        tick_seconds: how often due dataflows are looked for.
        heartbeat_seconds: how often the process says it is alive (at least every tick).
        run_timeout_s: a run still going after this long is abandoned and retried.
        retry_attempts: retries of a slot after retriable failures (0: none).
        retry_backoff_s: the first retry's delay; each next one doubles it.
        retry_backoff_max_s: the longest delay between retries.
        grace_s: on stop, how long running runs may take to finish.
        min_interval_minutes: schedules saved more often than this run at this interval.
    """

    workers: int = 4
    tick_seconds: float = 10.0
    heartbeat_seconds: float = 10.0
    run_timeout_s: float = 6 * 3600.0
    retry_attempts: int = 3
    retry_backoff_s: float = 30.0
    retry_backoff_max_s: float = 3600.0
    grace_s: float = 60.0
    min_interval_minutes: int = 5

    @classmethod
    def from_environment(cls, **overrides: Any) -> SchedulerSettings:
        """Defaults, then the ``TRIBUTARY_*`` variables set, then non-None ``overrides``."""
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {"min_interval_minutes": min_interval_minutes()}
        for variable, name in ENVIRONMENT.items():
            raw = os.environ.get(variable, "").strip()
            if raw:
                values[name] = int(raw) if types[name] in ("int", int) else float(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    @property
    def beat_every(self) -> float:
        """Seconds between heartbeats: the heartbeat interval, or the tick when it is shorter."""
        return min(self.tick_seconds, self.heartbeat_seconds)

    def backoff(self, retry: int) -> timedelta:
        """The delay before retry number ``retry`` (1, 2, ...): exponential, capped."""
        seconds = self.retry_backoff_s * 2 ** max(0, retry - 1)
        return timedelta(seconds=min(seconds, self.retry_backoff_max_s))
