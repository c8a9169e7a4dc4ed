"""The exception tree. Every error has a ``user_message`` that never holds a secret.

::

    TributaryError
    ├── ConfigurationError      the user's settings are wrong; fix them, no retry
    │   └── NotFoundError       a named connection, dataflow or run does not exist
    ├── SourceUnavailableError  the source failed or is unreachable; may retry
    ├── DataQualityError        too many rows failed; the run stopped
    └── RunFailedError          a run could not complete (lease lost, ...)
        └── LeaseLostError      another process holds the dataflow's lease
"""

from __future__ import annotations


class TributaryError(Exception):
    """Root of Tributary's errors.

    Attributes:
        user_message: what a person can act on; safe to show anywhere.
        code: a short stable code for run history and alerts.
    """

    code = "error"
    retriable = False

    def __init__(self, user_message: str, *, code: str | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        if code:
            self.code = code


class ConfigurationError(TributaryError):
    """Settings are invalid: a person must change them."""

    code = "configuration"


class NotFoundError(ConfigurationError):
    """A named object does not exist."""

    code = "not_found"


class SourceUnavailableError(TributaryError):
    """The source could not be read; trying later may work."""

    code = "source_unavailable"
    retriable = True


class DataQualityError(TributaryError):
    """More rows failed than the dataflow's error threshold allows."""

    code = "error_threshold"


class RunFailedError(TributaryError):
    """A run could not complete."""

    code = "run_failed"


class LeaseLostError(RunFailedError):
    """Another process holds, or took over, the dataflow's lease."""

    code = "lease_lost"


class PermissionDeniedError(TributaryError):
    """The signed-in user's role does not allow the action (the message says which role does)."""

    code = "forbidden"


class AuthenticationFailedError(TributaryError):
    """A sign-in was refused: wrong name or password, a locked or disabled account."""

    code = "sign_in_failed"
