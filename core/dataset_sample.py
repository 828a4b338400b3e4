"""The in-memory sample of an out-of-core dataset: what the pages show of a view too large for memory.

Apart from :mod:`core.outofcore` because it assembles a :class:`~core.Dataset` the way the readers
do (:mod:`core.readers.folder`, which itself opens shard folders through :mod:`core.outofcore`).
"""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral
from pathlib import Path

import numpy as np

from ._validation import EmbedLensInputError, Interval, NonFiniteRowsError, StrOptions, check_param, nonfinite_phrase
from .outofcore import SAMPLE_ROWS, _draw, read_rows
from .readers.contents import _Matrix
from .readers.folder import _assemble
from .readers.manifest import _ViewSpec
from .types import Dataset, DatasetSample

__all__ = ["sample_dataset"]


def sample_dataset(ds: Dataset, /, *, size: int = SAMPLE_ROWS, seed: int = 0, nonfinite: str = "error") -> Dataset:
    """A seeded uniform sample of an out-of-core dataset's items, in memory: what the pages show of it.

    Every view gives the same rows (:func:`read_rows`), with the matching metadata; the result's
    :attr:`~core.Dataset.sample` keeps the row numbers, the seed and the full (lazy) dataset, from
    which exact sum-over-items metrics are computed. Without an id column the sample gets one,
    ``row``: each item's row number in the full dataset.

    Parameters
    ----------
    ds : Dataset
        With lazy views (:func:`core.load` of a folder whose views are folders of shards).
    size : int, default=SAMPLE_ROWS
        Items to draw (all of them when the dataset has no more).
    seed : int, default=0
    nonfinite : {"error", "drop"}, default="error"
        Sampled rows holding NaN / inf: refuse (naming their rows in the full dataset) or leave them out.

    Returns
    -------
    Dataset
        ``min(size, n)`` items (fewer by the rows left out), views in memory (float32, read-only),
        ``sample`` set.

    Raises
    ------
    EmbedLensInputError
        ``ds`` not out of core; ``size`` not a positive integer; ``nonfinite`` not one of the above.
    NonFiniteRowsError
        Sampled rows holding NaN / inf with ``nonfinite="error"`` (``rows``: positions in the sample).
    """
    check_param("size", size, Interval(Integral, 1, None, closed="left"))
    check_param("seed", seed, Interval(Integral, 0, 2**32 - 1, closed="both"))
    check_param("nonfinite", nonfinite, StrOptions({"error", "drop"}))
    if not ds.lazy:
        raise EmbedLensInputError("is in memory; sample_dataset draws from out-of-core datasets", source=ds.name)
    drawn = _draw(ds.n, int(size), int(seed), None)
    rows = np.asarray(drawn.rows, dtype=np.int64)
    meta = ds.metadata.iloc[rows].reset_index(drop=True)
    id_column = ds.id_column
    if id_column is None:
        id_column = next(c for c in ("row", "row_in_full", "embedlens_row") if c not in meta.columns)
        meta.insert(0, id_column, rows)
    entries = [(_Matrix(name=v.name, data=read_rows(v.X, rows), source=v.source, source_dtype=v.source_dtype),
                _ViewSpec(file=v.source, name=v.name, run=v.run, layer=v.layer, step=v.step, modality=v.modality,
                          extra=dict(v.extra)))
               for v in ds.views]
    method = "seeded uniform sample without replacement" if len(rows) < ds.n else "all rows"
    try:
        sub = _assemble(ds.name, entries, meta, id_column=id_column, meta_rel=ds.name, nonfinite=nonfinite,
                        description=ds.description, path=Path(ds.path),
                        notes=list(ds.notes) + [f"The pages show {len(rows):,} of {ds.n:,} items ({method}, "
                                                f"seed {seed})."])
    except EmbedLensInputError as exc:
        if getattr(exc, "rows", None) is None:
            raise
        bad = np.asarray(exc.rows, dtype=np.int64)
        raise NonFiniteRowsError(
            nonfinite_phrase(rows[bad], len(rows), of="sampled rows") + " (row numbers of the full dataset); "
            "EmbedLens can leave them out of the sample for this session (exact metrics over every item refuse "
            "such rows until the shards are fixed)", source=ds.name, rows=bad) from None
    kept = np.delete(rows, sub.dropped_rows) if len(sub.dropped_rows) else rows
    kept.flags.writeable = False
    return replace(sub, sample=DatasetSample(rows=kept, n_total=ds.n, seed=int(seed), method=method, full=ds))
