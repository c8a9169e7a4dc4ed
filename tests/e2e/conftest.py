"""A real Streamlit server and a real Chromium for the end-to-end stories.

The server runs ``streamlit run app.py`` on a free loopback port with a fresh
workspace (SQLite store, key, demo data) for the whole session, and stops
after. Without playwright or Chromium the stories skip, naming what is
missing; with ``TRIBUTARY_REQUIRE_SERVICES=1`` (CI) they fail instead. A
failed story leaves a screenshot under ``test-results/e2e/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.storage_servers import s3_server as s3_server

ROOT = Path(__file__).resolve().parents[2]
#: Where a failed story's screenshot goes.
OUTPUT = Path(os.environ.get("TRIBUTARY_E2E_OUTPUT", ROOT / "test-results" / "e2e"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ADMIN = ("admin", "e2e-admin-password-1")


def chromium_path() -> str | None:
    """Debian's Chromium (or ``TRIBUTARY_CHROMIUM``), if installed."""
    candidate = os.environ.get("TRIBUTARY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if Path(candidate).exists() else None


def require_browser() -> None:
    """Skips the calling module (or, in CI, fails it) when playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed")
    if chromium_path() is None:
        _missing("Chromium is not installed")


def _missing(what: str) -> None:
    message = f"{what}: the end-to-end stories need it (apt-get install chromium; pip install playwright)"
    if os.environ.get("TRIBUTARY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and TRIBUTARY_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(message, allow_module_level=True)


@dataclass(frozen=True)
class Dashboard:
    """The running dashboard: its address and its workspace folder."""

    url: str
    workspace: Path
    database_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``streamlit run app.py`` on a free port, with a fresh workspace, for the session."""
    folder = tmp_path_factory.mktemp("e2e") / "workspace"
    database_url = f"sqlite:///{folder / 'tributary.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "TRIBUTARY_WORKSPACE": str(folder),
        "TRIBUTARY_DATABASE_URL": database_url,
        "TRIBUTARY_SCHEDULER": "0",
        "TRIBUTARY_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    env.pop("TRIBUTARY_SECRET_KEY", None)
    log = (folder.parent / "streamlit.log").open("w")
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1"]
    command += ["--server.port", str(port), "--server.headless", "true"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.2)
        yield Dashboard(url, folder, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="package")  # Playwright runs an event loop in this thread: stop it after tests/e2e
def browser() -> Iterator[Any]:
    """Chromium driven by playwright, for the session."""
    require_browser()
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keeps each phase's report on the test, so the page fixture knows whether the story failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Any, dashboard: Dashboard, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser session (a new Streamlit session too); a screenshot is kept if the story fails."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            OUTPUT.mkdir(parents=True, exist_ok=True)
            shot = OUTPUT / f"{request.node.name}.png"
            opened.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        context.close()
