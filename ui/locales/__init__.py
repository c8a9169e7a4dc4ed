"""Translation catalogues: English text -> its translation, one dict per language."""

from __future__ import annotations

from ui.locales.fr import FR
from ui.locales.fr_fields import FR_FIELDS

CATALOGUES: dict[str, dict[str, str]] = {"fr": {**FR_FIELDS, **FR}}
