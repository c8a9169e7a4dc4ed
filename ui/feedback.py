"""Engine errors shown as messages on the page: a TributaryError never becomes a traceback.

A refusal for lack of rights (:class:`~core.errors.PermissionDeniedError`)
reads as such, with a lock: the pages hide or disable what a role may not do,
and the engine checks every action anyway, so this is the message of a page
that missed one (or of a role changed while the page was open).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from core.errors import AuthenticationFailedError, PermissionDeniedError, TributaryError

T = TypeVar("T")


def show_error(error: TributaryError) -> None:
    """Shows an engine error's ``user_message`` (never a traceback, never a secret)."""
    message = error.user_message
    if isinstance(error, PermissionDeniedError):
        st.error(f"Not allowed: {message}", icon=":material/lock:")
    elif isinstance(error, AuthenticationFailedError):
        st.error(f"{message[:1].upper()}{message[1:]}.", icon=":material/no_accounts:")
    else:
        st.error(message, icon=":material/error:")


@contextmanager
def reported_errors() -> Iterator[None]:
    """Runs the block; a TributaryError stops it and shows its ``user_message`` with st.error.

    Code after the failing call inside the block (a success message, say) is skipped.
    """
    try:
        yield
    except TributaryError as error:
        show_error(error)


def attempt(action: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Calls ``action``; on a TributaryError shows its message and returns None."""
    try:
        return action(*args, **kwargs)
    except TributaryError as error:
        show_error(error)
        return None


def required(action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Calls ``action``; on a TributaryError shows its message and stops the page there."""
    try:
        return action(*args, **kwargs)
    except TributaryError as error:
        show_error(error)
        st.stop()
        raise  # unreachable: st.stop() raises; keeps type checkers honest
