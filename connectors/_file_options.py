"""The stream options of the files connector: how a stream's files are parsed."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import StreamOptions


class FileFormat(StreamOptions):
    """How to parse a stream's files; ``auto`` and ``None`` values are sniffed per file."""

    type: Literal["auto", "csv", "tsv", "jsonl", "json", "parquet"] = "auto"
    delimiter: str | None = None
    quote_char: str = '"'
    encoding: str | None = None
    header: bool = True
    compression: Literal["auto", "none", "gzip", "bz2", "zip", "zstd"] = "auto"

    @field_validator("delimiter")
    @classmethod
    def _one_delimiter(cls, value: str | None) -> str | None:
        # A form or YAML often spells a tab as "\t" (two characters) or "tab".
        value = {"\\t": "\t", "tab": "\t"}.get(value, value) if value is not None else None
        if value is not None and (len(value) != 1 or value in "\r\n"):
            raise ValueError("must be a single character, such as , ; | or \\t")
        return value

    @field_validator("quote_char")
    @classmethod
    def _one_quote(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError('must be a single character, usually "')
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "auto"):
            return None
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; try utf-8, latin-1, cp1252 or utf-16") from None
        return value

    @model_validator(mode="after")
    def _distinct_quote(self) -> FileFormat:
        if self.delimiter is not None and self.delimiter == self.quote_char:
            raise ValueError("delimiter and quote_char must differ")
        return self


class FileOptions(StreamOptions):
    """Per-stream options of the files connector."""

    format: FileFormat = Field(default_factory=FileFormat)
