"""What the Adobe connector tests share: fast retries, failure scenarios, leak checks, the docs' examples."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors._http import HttpSettings
from connectors.base import Connector
from tests.http_servers import FakeApi, Fault, Recorded, Reply
from tests.http_servers.echo import echo

#: Retries without waiting, and a Retry-After cut to 0.3 s: a test sees it honoured in a third of a second.
FAST = HttpSettings(backoff_initial_s=0.001, backoff_max_s=0.01, max_retry_after_s=0.3)
#: How a secret could leak: wrong credentials, a vendor echoing them in a 401 or a 503, a malformed page.
CANARY_SCENARIOS = ("wrong_secret", "refused_token", "failing_service", "malformed_page")
DOC = Path(__file__).resolve().parents[2] / "docs" / "adobe.md"


def read_all(source: Connector, stream: str, **read: Any) -> pd.DataFrame:
    """Every chunk of a read, as one frame."""
    return pd.concat(list(source.read(stream, **read)), ignore_index=True)


def waited_for_retry_after(sent: Sequence[Recorded], retried: int) -> bool:
    """Whether request ``retried`` waited out the previous answer's ``Retry-After: 1``, cut to 0.3 s."""
    return 0.3 <= sent[retried].at - sent[retried - 1].at < 1.0


# -- a run killed mid-paging ---------------------------------------------------------------------------------
def fail_after_the_first_chunk(
    api: FakeApi, path: Any, failure: Reply
) -> tuple[Callable[[Any], None], list[Fault]]:
    """A run's progress callback that makes every later request to ``path`` fail once a chunk is committed."""
    outage: list[Fault] = []

    def progress(summary: Any) -> None:
        if summary.chunks == 1 and not outage:
            outage.append(api.inject(failure, path=path, times=None))

    return progress, outage


# -- canaries ------------------------------------------------------------------------------------------------
def break_for_canary(
    scenario: str, api: FakeApi, path: Any, error_body: Callable[[str], Any], secret: str, malformed: bytes
) -> None:
    """The scenario's failures on ``api``: a vendor echoing the credentials after the check's probe, or page 3
    malformed (``wrong_secret`` needs none: the connection has the wrong secret)."""
    if scenario in ("refused_token", "failing_service"):
        status = 401 if scenario == "refused_token" else 503
        api.inject(echo(status, error_body, secret), path=path, times=None, after=1)
    elif scenario == "malformed_page":
        api.inject(Reply(200, malformed), path=path, after=2)


def assert_nothing_leaks(
    scenario: str, check_message: str, caught: pytest.ExceptionInfo[Exception], caplog: Any, issued: list[str]
) -> None:
    """No ``CANARY`` in the check's message, the error, its traceback or any log line; echoes masked."""
    error = caught.value
    texts = [check_message, getattr(error, "user_message", ""), "".join(traceback.format_exception(error))]
    texts += [record.getMessage() for record in caplog.records]
    assert [text for text in texts if "CANARY" in text] == []
    if scenario in ("refused_token", "failing_service"):
        assert issued and getattr(error, "user_message", "").count("***") == 2  # echoed, then masked


# -- the docs' examples --------------------------------------------------------------------------------------
def documented_example(section: str, replacements: dict[str, str]) -> str:
    """The YAML example of a section of docs/adobe.md (``Adobe Commerce``), with the fakes' URLs put in.

    Every text to replace must be in the example, so a doc that changes fails the test.
    """
    part = DOC.read_text(encoding="utf-8").split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    example = part.split("### Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    for old, new in replacements.items():
        assert old in example, f"the {section} example no longer says {old!r}"
        example = example.replace(old, new)
    return example


def followed_by(line: str, **settings: str) -> dict[str, str]:
    """A replacement adding ``settings`` to a connection's config after one of its lines."""
    added = "".join(f"\n      {name}: {value}" for name, value in settings.items())
    return {line: line + added}


def apply_example(workspace: Any, folder: Path, text: str) -> dict[str, list[str]]:
    """Applies the example as ``python -m core apply`` would."""
    from core import config

    path = folder / "adobe.yml"
    path.write_text(text, encoding="utf-8")
    return config.apply(workspace, path)
