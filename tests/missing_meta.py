"""A metadata table with a missing value in every dtype pandas offers (shared by the missing-value tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("obj", "text", "score", "flag", "nflag", "kind", "count", "when")


def missing_meta() -> pd.DataFrame:
    """4 rows; row 1 is missing in every column (None / NaN / pd.NA / NaT by dtype)."""
    return pd.DataFrame({
        "obj": pd.Series(["a", None, "b", "a"], dtype=object),
        "text": pd.Series(["x", None, "y", "x"], dtype="string"),
        "score": [0.5, np.nan, 1.5, 2.0],
        "flag": pd.Series([True, None, False, True], dtype=object),
        "nflag": pd.array([True, None, False, True], dtype="boolean"),
        "kind": pd.Categorical(["u", None, "v", "u"]),
        "count": pd.array([1, None, 3, 1], dtype="Int64"),
        "when": pd.to_datetime(["2020-01-02", None, "2021-03-04", "2020-01-02"]),
    })


# the literal cells of rows 0 and 1 as a person reads them
ROW0 = {"obj": "a", "text": "x", "score": "0.5", "flag": "True", "nflag": "True", "kind": "u", "count": "1",
        "when": "2020-01-02"}
