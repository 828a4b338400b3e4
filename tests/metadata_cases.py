"""Metadata edge cases shared by the tests: a missing value in every dtype, and 200 classes of 15 items."""

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


def write_many_classes(folder, *, classes: int = 200, per_class: int = 15, d: int = 16, noise: float = 0.40,
                       seed: int = 0):
    """A dataset folder of ``classes`` named classes x ``per_class`` items (x.npy + metadata.parquet);
    returns (X, labels). Class centres are random unit vectors; items are centre + Gaussian noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    codes = np.repeat(np.arange(classes), per_class)
    X = (centres[codes] + noise * rng.standard_normal((len(codes), d)) / np.sqrt(d)).astype(np.float32)
    labels = np.array([f"class_{c:03d}" for c in codes], dtype=object)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "x.npy", X)
    pd.DataFrame({"id": [f"item-{i}" for i in range(len(codes))], "label": labels}).to_parquet(
        folder / "metadata.parquet", index=False)
    return X, labels
