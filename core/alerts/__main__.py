"""``python -m core.alerts [--once] [--every SECONDS]``: detect and deliver alerts.

The scheduler dispatches alerts on every tick. Run this as well (as its own
service) to hear that the scheduler itself is down: a dead scheduler cannot
say so. Several copies may run at once; each alert is still sent once.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from core.alerts.center import AlertCenter
from core.errors import TributaryError


def main(argv: list[str] | None = None) -> int:
    """Dispatches once, or every ``--every`` seconds until stopped; 2 on a configuration error."""
    parser = argparse.ArgumentParser(prog="python -m core.alerts", description="Detect and deliver alerts.")
    parser.add_argument("--once", action="store_true", help="dispatch once and exit")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between dispatches (default 60)")
    parser.add_argument("--database-url", help="store URL (default: TRIBUTARY_DATABASE_URL or ./workspace)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from core.services import Workspace  # the façade opens (and migrates) the store

    try:
        center = AlertCenter(Workspace.open(args.database_url))
        while True:
            report = center.dispatch()
            print(f"alerts: {report}", flush=True)
            if args.once:
                return 0
            time.sleep(max(args.every, 1.0))
    except TributaryError as error:
        print(f"error: {error.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
