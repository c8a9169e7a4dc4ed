"""What listing a folder finds: the matched files, with their sizes, modified times and version tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fsspec import AbstractFileSystem


@dataclass(frozen=True)
class ListedFile:
    """One matched file: full path, path relative to the folder, size, modified time, version tag."""

    path: str
    rel: str
    size: int
    modified: str
    tag: str

    @property
    def version(self) -> str:
        """The storage's content tag, else ``size:modified``."""
        return self.tag or f"{self.size}:{self.modified}"


def info_or_none(fs: AbstractFileSystem, path: str) -> dict[str, Any] | None:
    """``fs.info(path)``, or None when there is nothing at ``path``."""
    try:
        return dict(fs.info(path))
    except FileNotFoundError:
        return None


def find_or_empty(fs: AbstractFileSystem, path: str) -> dict[str, Any]:
    """``fs.find(path, detail=True)``, or {} when there is nothing at ``path``."""
    try:
        return dict(fs.find(path, detail=True))
    except FileNotFoundError:
        return {}


def modified_time(info: Mapping[str, Any]) -> str:
    """The modified time of a file as ISO 8601 UTC, whatever key its storage uses."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "mtime_ns"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            stamp = datetime.fromtimestamp(value / 1e9 if key == "mtime_ns" else value, UTC)
        elif isinstance(value, datetime):
            stamp = value
        else:
            try:
                stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                continue
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return ""


def version_tag(info: Mapping[str, Any]) -> str:
    """A content version tag when the storage gives one (ETag, MD5, generation), unquoted."""
    for key in ("ETag", "etag", "md5Hash", "content_md5", "generation"):
        if info.get(key):
            return str(info[key]).strip('"')
    return ""
