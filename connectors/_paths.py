"""Paths a files source is given stay inside its folder: stream patterns, object names, archive members.

A stream pattern or partition name is typed by an editor (or read back from a
run); an archive member's name is written by whoever made the archive. None
may reach outside the connection's folder: no ``..``, no absolute path, no
``~`` (a home folder), no URL of another storage (``file://`` in an S3
connection), no NUL or other control character. On a local folder, a file
found through a symbolic link must also resolve inside the folder.

Archives are never extracted: their members are streamed by name, so a
zip-slip name could not write anywhere, but it is refused all the same, as
it says the archive was made to attack whoever unpacks it.
"""

from __future__ import annotations

import os
import re

from connectors.base import FormatError, StreamNotFoundError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:(//|/|\\)|://")
_DRIVE = re.compile(r"^[A-Za-z]:[/\\]")


def escape_reason(path: str) -> str | None:
    """Why ``path`` would leave the folder it is relative to, or None when it stays inside."""
    if _CONTROL.search(path):
        return "holds a control character (such as NUL)"
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        return "is an absolute path"
    if _SCHEME.search(path):
        return "names another storage with a URL scheme (such as file://)"
    segments = re.split(r"[/\\]", path)
    if segments[0].startswith("~"):
        return "starts with ~ (a home folder)"
    if ".." in segments:
        return "goes up with '..'"
    return None


def checked_pattern(pattern: str, where: str, what: str = "Stream") -> str:
    """A stream pattern or object name relative to the folder ``where``, trailing slashes dropped.

    Raises:
        StreamNotFoundError: the pattern is empty or would leave the folder; the message says how.
    """
    cleaned = pattern.strip().rstrip("/")
    if not cleaned:
        raise StreamNotFoundError(f"{what} {pattern!r} must be a file name or glob pattern inside {where}.")
    reason = escape_reason(cleaned)
    if reason:
        raise StreamNotFoundError(
            f"{what} {pattern!r} {reason}: give a file name or glob pattern relative to {where}, "
            "such as contacts/*.csv."
        )
    return cleaned


def checked_member(name: str, archive: str) -> str:
    """An archive member's name, when it stays inside the archive's folder.

    Raises:
        FormatError: the name is absolute, goes up with ``..`` or holds a control character.
    """
    if (reason := escape_reason(name)) is None:
        return name
    raise FormatError(
        f"{archive} holds a member named {name!r} that {reason}: it is not read. Re-create the "
        "archive with relative member names (zip -r or tar -C from inside the folder)."
    )


def resolves_inside(path: str, root: str) -> bool:
    """Whether a local ``path``, symbolic links followed, stays inside the local folder ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)
