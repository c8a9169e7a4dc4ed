"""Whether a scheduler is alive: heartbeats in the store, and starting one when none is.

Each scheduler process keeps one row of scheduler_heartbeats up to date
(every ``heartbeat_seconds``, 10 by default, and on every tick). A scheduler
is alive when its row was beaten within three heartbeat intervals and it has
not said it stopped. The dashboard calls :func:`ensure_scheduler` on start,
so one command runs the whole product.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select, update

from core.scheduler.settings import SchedulerSettings
from core.scheduler.state import as_utc
from core.store import db
from core.store import tables as t
from core.store.repository import utcnow

log = logging.getLogger(__name__)
_beats = t.scheduler_heartbeats
_KEEP_STOPPED = timedelta(days=7)
_STARTUP_S = 60.0  # a scheduler beats well within this after it was started
_spawned: list[subprocess.Popen[bytes]] = []  # children of this process, reaped when asked about


@dataclass(frozen=True)
class SchedulerStatus:
    """What the dashboard shows about the schedulers.

    Attributes:
        alive: at least one scheduler beat recently and has not stopped.
        owners: the live schedulers, as ``host:pid:id``.
        last_beat: the latest heartbeat of any scheduler, alive or not.
        running: the dataflows the live schedulers are running now.
    """

    alive: bool
    owners: tuple[str, ...]
    last_beat: datetime | None
    running: tuple[str, ...]


def register(engine: Engine, owner: str) -> None:
    """Writes this scheduler's heartbeat row, and forgets long-stopped ones."""
    now = utcnow()
    host, _, rest = owner.partition(":")
    with engine.begin() as c:
        c.execute(delete(_beats).where(_beats.c.beat_at < now - _KEEP_STOPPED))
        c.execute(
            insert(_beats).values(
                owner=owner, host=host, pid=int(rest.split(":")[0]), started_at=now, beat_at=now, running=[]
            )
        )


def beat(engine: Engine, owner: str, running: list[str]) -> None:
    """Says this scheduler is alive and what it runs."""
    with engine.begin() as c:
        c.execute(update(_beats).where(_beats.c.owner == owner).values(beat_at=utcnow(), running=running))


def mark_stopped(engine: Engine, owner: str) -> None:
    """Says this scheduler stopped on purpose."""
    now = utcnow()
    with engine.begin() as c:
        c.execute(
            update(_beats).where(_beats.c.owner == owner).values(beat_at=now, stopped_at=now, running=[])
        )


def alive_window(heartbeat_seconds: float | None = None) -> timedelta:
    """How recent a heartbeat must be for its scheduler to count as alive: three intervals."""
    interval = heartbeat_seconds or SchedulerSettings.from_environment().heartbeat_seconds
    return timedelta(seconds=3 * interval)


def scheduler_status(
    engine: Engine, *, now: datetime | None = None, heartbeat_seconds: float | None = None
) -> SchedulerStatus:
    """Whether a scheduler is alive: a beat within three heartbeat intervals, not stopped."""
    now = now or utcnow()
    with engine.connect() as c:
        rows = list(c.execute(select(_beats)).mappings())
    beats = [as_utc(row["beat_at"]) for row in rows]
    fresh = now - alive_window(heartbeat_seconds)
    live = [row for row in rows if row["stopped_at"] is None and (as_utc(row["beat_at"]) or now) >= fresh]
    running = sorted({name for row in live for name in (row["running"] or [])})
    return SchedulerStatus(
        alive=bool(live),
        owners=tuple(sorted(row["owner"] for row in live)),
        last_beat=max((b for b in beats if b is not None), default=None),
        running=tuple(running),
    )


def ensure_scheduler(url: str | None = None, *, log_path: Path | None = None) -> bool:
    """Starts a detached scheduler (``python -m core.scheduler``) unless one is alive or starting.

    The child gets this process's environment (with ``url`` as the store),
    its own session (it outlives the dashboard), and writes its log to
    ``scheduler.log`` in the workspace folder. A pid file there, checked under
    a file lock, keeps two dashboards starting at once from starting two.

    Returns:
        True when it started one, False when one was alive or starting.
    """
    url = url or db.database_url()
    folder = db.workspace_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for child in list(_spawned):
        if child.poll() is not None:
            _spawned.remove(child)
    with (folder / "scheduler.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pid_file = folder / "scheduler.pid"
        if _starting(pid_file) or _alive(url):
            return False
        environment = {**os.environ, "TRIBUTARY_DATABASE_URL": url}
        root = Path(__file__).resolve().parents[2]
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), environment.get("PYTHONPATH")]))
        with (log_path or folder / "scheduler.log").open("ab") as output:
            child = subprocess.Popen(
                [sys.executable, "-m", "core.scheduler"],
                cwd=root,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _spawned.append(child)
        pid_file.write_text(f"{socket.gethostname()}:{child.pid}\n")
        log.info("started a scheduler, pid %s", child.pid)
        return True


def _alive(url: str) -> bool:
    engine = db.create_store_engine(url)
    try:
        return scheduler_status(engine).alive
    finally:
        engine.dispose()


def _starting(pid_file: Path) -> bool:
    """Whether the scheduler this host started moments ago is still running (not beating yet).

    Only a recent pid file counts: after the start-up time the heartbeat
    tells, and an old pid may belong to another process by now.
    """
    try:
        if pid_file.stat().st_mtime < time.time() - _STARTUP_S:
            return False
        host, _, pid_text = pid_file.read_text().strip().partition(":")
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    return False
