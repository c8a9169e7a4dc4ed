"""Column profiles of a sample: inferred type, null %, distinct count, examples."""

from __future__ import annotations

import pandas as pd

from connectors.base import infer_field_type


def profile_columns(frame: pd.DataFrame, examples: int = 3) -> pd.DataFrame:
    """One row per column: name, type, null %, distinct values and a few examples."""
    rows = []
    total = max(len(frame), 1)
    for name, series in frame.items():
        as_text = series.astype("string")
        blank = series.isna() | as_text.str.strip().eq("").fillna(False)
        present = as_text[~blank]
        rows.append(
            {
                "column": str(name),
                "type": infer_field_type(series.where(~blank)),
                "null_pct": round(100.0 * blank.sum() / total, 1),
                "distinct": int(present.nunique()),
                "examples": ", ".join(present.drop_duplicates().head(examples).str.slice(0, 40).tolist()),
            }
        )
    return pd.DataFrame(rows, columns=["column", "type", "null_pct", "distinct", "examples"])
