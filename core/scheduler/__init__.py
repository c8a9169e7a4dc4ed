"""The scheduler: saved dataflows run on their schedules, from one or many processes.

``python -m core.scheduler`` runs it (see docs/scheduler.md). The pieces:
``timetable`` (when slots are due, across time zones and DST), ``state``
(schedule_state: claims, catch-up, retries), ``runner`` (the process),
``runs`` (one run: scheduled, "run now" or backfill) and ``health``
(heartbeats, and starting a scheduler when none is alive).
"""

from __future__ import annotations

from core.scheduler.health import SchedulerStatus, ensure_scheduler, scheduler_status
from core.scheduler.runner import Scheduler
from core.scheduler.runs import backfill, run_now
from core.scheduler.settings import SchedulerSettings
from core.scheduler.timetable import first_due, next_due, upcoming, validate_schedule

__all__ = [
    "Scheduler",
    "SchedulerSettings",
    "SchedulerStatus",
    "backfill",
    "ensure_scheduler",
    "first_due",
    "next_due",
    "run_now",
    "scheduler_status",
    "upcoming",
    "validate_schedule",
]
