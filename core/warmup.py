"""Compile umap-learn's, pynndescent's and EmbedLens' numba code once per process, off the
user's path.

:func:`warm_up` runs the real code paths (:func:`core.projection.project`,
:func:`core.alignment.align_projections`, :func:`core.neighbors.knn_graph`,
:func:`core.rashomon.rashomon_set` and :func:`core.rashomon.feature_interactions`) on a tiny
array, so the first map or Rashomon set a user asks for does not pay the compilation. The
umap-learn hooks it relies on (numba disk cache, the aligned epoch function) are in
:mod:`core._umap_compat`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from ._validation import EmbedLensInputError
from .alignment import align_projections
from .neighbors import knn_graph
from .projection import project

__all__ = ["warm_up"]

_WARM_LOCK = threading.Lock()
_WARM: dict[str, float] = {}


STEPS = ("umap", "aligned_umap", "pynndescent", "rashomon")
"""Every warm-up step; the default is the first three (the Map's)."""


def warm_up(*, steps: Sequence[str] = STEPS[:3]) -> dict[str, float]:
    """Compile umap-learn's, pynndescent's and the Rashomon kernels' numba code once per process.

    The first UMAP after a fresh start otherwise pays the just-in-time compilation (tens of
    seconds), the first Rashomon set its kernels' (seconds, or the load of numba's disk cache).
    This runs the same code paths with the same array types as real calls, so the compiled
    code is reused; a server calls it from a background thread at start-up. Steps already
    warmed in this process are skipped.

    Parameters
    ----------
    steps : sequence of {"umap", "aligned_umap", "pynndescent", "rashomon"}
        What to compile ("rashomon": the logistic and MLP kernels of :mod:`core.rashomon`, by a
        set and its FIS on 60 x 3 rows).

    Returns
    -------
    dict
        Seconds each step took (steps skipped as already warm are absent).

    Raises
    ------
    EmbedLensInputError
        An unknown step name.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 8)).astype(np.float32)
    out = {}
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise EmbedLensInputError(f"unknown warm-up step {unknown[0]!r}; the steps are {', '.join(STEPS)}")
    with _WARM_LOCK:
        for step in steps:
            if step in _WARM:
                continue
            start = time.perf_counter()
            if step == "umap":
                project(X, method="umap", n_epochs=20, progress=lambda f, m: None)
            elif step == "aligned_umap":
                align_projections([X, X[:, ::-1]], method="umap", n_epochs=5, progress=lambda f, m: None)
            elif step == "pynndescent":
                knn_graph(X, k=5, method="approximate")
                knn_graph(X, k=5, method="approximate", metric="euclidean")
            else:  # "rashomon"
                _warm_rashomon(rng)
            _WARM[step] = out[step] = time.perf_counter() - start
    return out


def _warm_rashomon(rng) -> None:
    """A Rashomon set and its FIS for a logistic and an MLP reference model (every kernel)."""
    from .rashomon import feature_interactions, fit_reference_model, rashomon_set

    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    for kind in ("logistic", "mlp"):
        rset = rashomon_set(fit_reference_model(X, y, kind=kind), X, y)
        feature_interactions(rset, X, y, n_permutations=(2, 2))
