"""Engine errors shown as messages on the page: a TributaryError never becomes a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from core.errors import TributaryError

T = TypeVar("T")


@contextmanager
def reported_errors() -> Iterator[None]:
    """Runs the block; a TributaryError stops it and shows its ``user_message`` with st.error.

    Code after the failing call inside the block (a success message, say) is skipped.
    """
    try:
        yield
    except TributaryError as error:
        st.error(error.user_message, icon=":material/error:")


def attempt(action: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Calls ``action``; on a TributaryError shows its message and returns None."""
    try:
        return action(*args, **kwargs)
    except TributaryError as error:
        st.error(error.user_message, icon=":material/error:")
        return None


def required(action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Calls ``action``; on a TributaryError shows its message and stops the page there."""
    try:
        return action(*args, **kwargs)
    except TributaryError as error:
        st.error(error.user_message, icon=":material/error:")
        st.stop()
        raise  # unreachable: st.stop() raises; keeps type checkers honest
