"""``python -m core.scheduler``: run saved dataflows on their schedules until stopped.

Stops gracefully on SIGTERM or SIGINT: no new runs, runs in flight get the
grace period to finish, then the heartbeat says it stopped. ``--once`` runs
one tick and waits for its runs (for cron, and tests).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime

from core.errors import TributaryError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.scheduler", description="Run saved dataflows on their schedules."
    )
    parser.add_argument("--database-url", help="store URL (default: TRIBUTARY_DATABASE_URL or ./workspace)")
    parser.add_argument("--once", action="store_true", help="one tick, wait for its runs, exit")
    parser.add_argument("--workers", type=int, help="runs at once in this process (default 4)")
    parser.add_argument("--tick-seconds", type=float, help="seconds between looks for due dataflows (10)")
    parser.add_argument("--run-timeout", type=float, metavar="SECONDS", help="give up on a run after this")
    parser.add_argument("--grace", type=float, metavar="SECONDS", help="on stop, wait this long for runs")
    parser.add_argument("--log-level", default="INFO", help="Tributary's log level: DEBUG, INFO, WARNING")
    # Tests only: schedule time runs FACTOR times faster from ORIGIN (epoch seconds), shared by processes.
    parser.add_argument("--time-warp", metavar="ORIGIN:FACTOR", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the scheduler; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,  # libraries (Great Expectations, Alembic) are chatty below that
        format="%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("core").setLevel(args.log_level.upper())
    from core.alerts import AlertCenter
    from core.scheduler.runner import Scheduler, warped_clock
    from core.scheduler.settings import SchedulerSettings
    from core.services import Workspace
    from core.store.repository import utcnow

    try:
        workspace = Workspace.open(args.database_url)
    except TributaryError as error:
        print(f"error: {error.user_message}", file=sys.stderr)
        return 2
    settings = SchedulerSettings.from_environment(
        workers=args.workers,
        tick_seconds=args.tick_seconds,
        run_timeout_s=args.run_timeout,
        grace_s=args.grace,
    )
    clock = utcnow
    if args.time_warp:
        origin, _, factor = args.time_warp.partition(":")
        clock = warped_clock(datetime.fromtimestamp(float(origin), UTC), float(factor))
    scheduler = Scheduler(workspace, settings, clock=clock)
    alerts = AlertCenter(workspace)
    log = logging.getLogger("core.scheduler")
    if args.once:
        scheduler.tick()
        scheduler.wait()
        scheduler.shutdown(grace_s=0)
        try:
            alerts.dispatch()
        except Exception:
            log.exception("alert dispatch failed")
        return 0

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "scheduler %s serving %s: %s workers, tick %ss",
        scheduler.owner,
        workspace.engine.url.render_as_string(hide_password=True),
        settings.workers,
        settings.tick_seconds,
    )
    # alerts on every tick, in a thread of their own (a slow mail server never delays a tick)
    scheduler.serve(stop, also=[(settings.tick_seconds, alerts.dispatch)])
    left = scheduler.shutdown()
    log.info("scheduler %s stopped", scheduler.owner)
    if left:
        # their threads cannot be joined: they are fenced off and marked abandoned, so leave now
        log.warning("gave up on %s after the grace period", ", ".join(left))
        logging.shutdown()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
