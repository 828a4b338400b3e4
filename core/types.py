"""The data model: items with metadata, and one or more views (embedding matrices) of them.

A :class:`Dataset` holds ``n`` items (ids + a metadata table) and one or more
:class:`View` s, each an ``n x d`` float32 matrix row-aligned with the items and labelled
with ``run`` / ``layer`` / ``step`` / ``modality``. Both are frozen; their arrays are
read-only, so a cached dataset shared by every session cannot be edited by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from ._validation import EmbedLensInputError

__all__ = ["View", "Dataset", "DatasetSample"]


@dataclass(frozen=True, eq=False)
class View:
    """One embedding matrix over a dataset's items.

    Attributes
    ----------
    name : str
        Unique within its dataset; used in share links.
    X : ndarray of shape (n, d), float32, read-only
        Row ``i`` embeds item ``i`` of the dataset.
    run, layer : str
        Labels ("" when not given), e.g. ``run="seed0"``, ``layer="hidden1"``.
    step : int or None
        Training step / epoch / checkpoint number.
    modality : str
        E.g. ``"image"`` or ``"text"`` for paired embeddings ("" when not given).
    source : str
        The file the matrix came from, relative to the dataset's folder.
    source_dtype : str
        The dtype stored in the file (the matrix itself is always float32).
    fingerprint : str
        Content hash of the float32 matrix (shape and bytes), independent of file format.
    extra : Mapping[str, float | str]
        Free-form numbers or labels for the view from the manifest (e.g. test accuracy).
    """

    name: str
    X: np.ndarray
    fingerprint: str
    run: str = ""
    layer: str = ""
    step: int | None = None
    modality: str = ""
    source: str = ""
    source_dtype: str = "float32"
    extra: Mapping[str, float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def lazy(self) -> bool:
        """Whether ``X`` is a lazy ``dask.array.Array`` (an out-of-core view, :func:`core.open_sharded`)."""
        return type(self.X).__module__.startswith("dask.")

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def label(self) -> str:
        """A short human label: ``"seed0 · hidden1 · step 30"``, or the name."""
        parts = [p for p in (self.run, self.layer) if p]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.modality:
            parts.append(self.modality)
        return " · ".join(parts) if parts else self.name


@dataclass(frozen=True, eq=False)
class DatasetSample:
    """How a :class:`Dataset` was drawn from a larger, out-of-core one (:func:`core.sample_dataset`).

    Attributes
    ----------
    rows : ndarray of int64
        Ascending row numbers, in the full dataset, of the sampled items (row ``i`` of the
        sample is row ``rows[i]`` of ``full``).
    n_total : int
        Items in the full dataset.
    seed : int
    method : str
        How the rows were drawn, e.g. ``"seeded uniform sample without replacement"``.
    full : Dataset
        The full dataset, its views lazy ``dask`` arrays: what exact (sum-over-items) metrics read.
    """

    rows: np.ndarray
    n_total: int
    seed: int
    method: str
    full: "Dataset"

    @property
    def label(self) -> str:
        """``"a seeded sample of 50,000 of 10,000,000 items (seed 0)"``."""
        return f"a seeded sample of {len(self.rows):,} of {self.n_total:,} items (seed {self.seed})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Items (ids + metadata) and their views.

    Attributes
    ----------
    name : str
        The dataset's name in its catalog (folder or file name).
    metadata : DataFrame
        One row per item, in the views' row order; includes the id column when the data
        had one.
    ids : ndarray of shape (n,)
        Stable item ids: the id column's values, else the row numbers.
    id_column : str or None
        Which metadata column holds the ids (None: row numbers).
    views : tuple of View
        At least one; all with ``n`` rows.
    fingerprint : str
        Hash of the metadata and every view's fingerprint and labels.
    description : str
        From the manifest, if any.
    dropped_rows : ndarray
        Row numbers (in the files) dropped because they held NaN / inf, when the caller
        asked for that; empty otherwise.
    path : str
        Where it was loaded from.
    notes : tuple of str
        How files were read where a choice was made, one sentence each, starting with the
        file: an encoding other than UTF-8, a header guessed (or not) by convention, words
        such as ``NA`` read as missing in a column of numbers, a pandas index column left
        out or kept as metadata. The Data page shows them.
    sample : DatasetSample or None
        Set when this dataset is a seeded sample of an out-of-core one (its views then hold
        the sampled rows in memory; ``sample.full`` holds the lazy views of every item).
    """

    name: str
    metadata: pd.DataFrame
    ids: np.ndarray
    views: tuple[View, ...]
    fingerprint: str
    id_column: str | None = None
    description: str = ""
    dropped_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    path: str = ""
    notes: tuple[str, ...] = ()
    sample: DatasetSample | None = None

    def __post_init__(self) -> None:
        if not self.views:
            raise EmbedLensInputError("a dataset needs at least one view", source=self.name)
        names = [v.name for v in self.views]
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise EmbedLensInputError(f"view names must be unique; repeated: {dup}", source=self.name)

    @property
    def n(self) -> int:
        return self.views[0].n

    @property
    def lazy(self) -> bool:
        """Whether the views are out-of-core (lazy dask arrays): pages show :attr:`sample`-d copies."""
        return self.views[0].lazy

    @property
    def view_names(self) -> list[str]:
        return [v.name for v in self.views]

    def view(self, name: str) -> View:
        """The view called ``name``; a clear error listing the names otherwise."""
        for v in self.views:
            if v.name == name:
                return v
        raise EmbedLensInputError(
            f"has no view {name!r}; its views are {self.view_names[:10]}"
            + (" ..." if len(self.views) > 10 else ""),
            source=self.name,
        )

    def views_table(self) -> pd.DataFrame:
        """One row per view: name, n, d, stored dtype, run / layer / step / modality, fingerprint."""
        rows = []
        for v in self.views:
            row = {
                "view": v.name,
                "n": v.n,
                "d": v.d,
                "dtype": v.source_dtype,
                "run": v.run,
                "layer": v.layer,
                "step": v.step,
                "modality": v.modality,
                **v.extra,
                "fingerprint": v.fingerprint[:12],
                "file": v.source,
            }
            rows.append(row)
        table = pd.DataFrame(rows)
        table["step"] = table["step"].astype("Int64")
        return table

    @property
    def has_axes(self) -> bool:
        """Whether views carry run / layer / step labels (training trajectories)."""
        return any(v.run or v.layer or v.step is not None for v in self.views)

    @property
    def modalities(self) -> list[str]:
        return sorted({v.modality for v in self.views if v.modality})
