"""Several maps of the same items in one coordinate frame: Procrustes and aligned maps.

- :func:`procrustes_align` rotates / reflects (and scales) one map onto another
  (orthogonal Procrustes).
- :func:`align_projections` maps several views of the same items (runs, checkpoints,
  layers): a joint AlignedUMAP optimisation for UMAP (umap-learn's steps on the shared kNN
  graphs, :func:`core._umap_compat.aligned_umap_layout`), each view mapped by
  :func:`core.projection.project` and rotated onto a reference view by Procrustes otherwise.
  Every map is scored by :func:`core.quality.map_quality`, like a single map.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from numbers import Integral

import numpy as np

from ._umap_compat import aligned_umap_layout
from ._validation import EmbedLensInputError, Interval, check_embeddings, check_param
from .projection import (
    GraphSource,
    Progress,
    Projection,
    _get_graph,
    _library_versions,
    _resolve_params,
    graph_k,
    project,
)
from .quality import map_quality

__all__ = ["procrustes_align", "align_projections"]


def procrustes_align(Y, reference, /, *, scale: bool = True) -> tuple[np.ndarray, dict]:
    """Rotate / reflect (and scale) map ``Y`` onto ``reference`` (same items, same order).

    .. math::

        R^* = \\arg\\min_{R^T R = I} \\| (Y - \\bar Y) s R - (Z - \\bar Z) \\|_F, \\quad
        s = \\operatorname{tr}(\\Sigma) / \\| Y - \\bar Y \\|_F^2

    with :math:`U \\Sigma V^T` the SVD of :math:`(Y - \\bar Y)^T (Z - \\bar Z)` (Schoenemann
    1966; scipy's ``orthogonal_procrustes``). The result is centred on the reference's mean.

    Parameters
    ----------
    Y : array-like of shape (n, c)
        The map to move.
    reference : array-like of shape (n, c)
        The map to move it onto (same items, same order).
    scale : bool, default=True
        Also fit the scale ``s`` (else ``s = 1``; a zero-spread ``Y`` keeps ``s = 1``).

    Returns
    -------
    aligned : ndarray of shape (n, c), float32
    info : dict
        ``rotation`` (c x c), ``scale``, ``rms`` (root-mean-square distance between aligned
        and reference points) and ``reference_rms`` (the reference's own spread).

    Raises
    ------
    EmbedLensInputError
        Non-finite or non-numeric input (``check_embeddings``), or ``Y`` and ``reference``
        differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.random.default_rng(0).standard_normal((30, 2))
    >>> R = np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> aligned, info = procrustes_align(3.0 * Z @ R + 5.0, Z)
    >>> bool(np.allclose(aligned, Z, atol=1e-5)), round(info["scale"], 4)
    (True, 0.3333)
    """
    from scipy.linalg import orthogonal_procrustes

    Y = check_embeddings(Y, name="Y", dtype=np.float64)
    Z = check_embeddings(reference, name="reference", dtype=np.float64)
    if Y.shape != Z.shape:
        raise EmbedLensInputError(
            f"map shape {Y.shape} differs from the reference's {Z.shape}; align maps of the same items"
        )
    ym, zm = Y.mean(axis=0), Z.mean(axis=0)
    A, B = Y - ym, Z - zm
    R, sv_sum = orthogonal_procrustes(A, B)
    norm = float((A**2).sum())
    s = float(sv_sum / norm) if scale and norm > 0 else 1.0
    aligned = s * A @ R + zm
    rms = float(np.sqrt(((aligned - Z) ** 2).sum(axis=1).mean()))
    spread = float(np.sqrt((B**2).sum(axis=1).mean()))
    info = {"rotation": R.tolist(), "scale": s, "rms": rms, "reference_rms": spread}
    return aligned.astype(np.float32), info


def align_projections(
    Xs: Sequence,
    /,
    *,
    method: str = "pca",
    n_components: int = 2,
    seed: int = 0,
    graphs: Sequence[GraphSource] | None = None,
    reference: int = 0,
    progress: Progress | None = None,
    **params,
) -> list[Projection]:
    """Maps of several views of the same items, in one coordinate frame.

    UMAP: one AlignedUMAP optimisation (Dadu et al.; umap-learn's ``AlignedUMAP`` steps on the
    shared graphs), where a regulariser pulls each item towards its place in the neighbouring
    views. PCA and t-SNE: each view mapped on its own (so the reference map is exactly its
    single-view map), then :func:`procrustes_align` onto the ``reference`` view.

    Parameters
    ----------
    Xs : sequence of arrays of shape (n, d_i)
        Row-aligned views (any dimensions).
    graphs : sequence of NeighborGraph / callables / None, optional
        One per view, as for :func:`project`.
    reference : int, default=0
        The view the others are rotated onto (PCA / t-SNE).
    Other parameters are those of :func:`project`.

    Returns
    -------
    list of Projection
        ``params["alignment"]`` records how each map was aligned.

    Raises
    ------
    EmbedLensInputError
        No views, views of different row counts, ``reference`` out of range, a graph list of
        the wrong length, ``parallel=True`` or ``n_components`` not 2 / 3 for aligned UMAP, and
        everything :func:`core.projection.project` raises.
    ImportError
        Aligned UMAP on a umap-learn that lacks the private functions it uses
        (:func:`core._umap_compat.private`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((100, 5)) * [5, 3, 1, 1, 1]
    >>> Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))
    >>> a, b = align_projections([X, X @ Q], method="pca")
    >>> bool(np.allclose(a.coords, b.coords, atol=1e-4)), b.params["alignment"]["method"]
    (True, 'procrustes')
    """
    Xs = [check_embeddings(X, name=f"Xs[{i}]", min_rows=3) for i, X in enumerate(Xs)]
    if len(Xs) < 1:
        raise EmbedLensInputError("align_projections needs at least one view")
    n = Xs[0].shape[0]
    bad = [i for i, X in enumerate(Xs) if X.shape[0] != n]
    if bad:
        raise EmbedLensInputError(
            f"views {bad} do not have {n} rows like view 0; "
            "aligned maps need the same items in the same order"
        )
    if not 0 <= reference < len(Xs):
        raise EmbedLensInputError(f"reference={reference} must index one of the {len(Xs)} views")
    graphs = list(graphs) if graphs is not None else [None] * len(Xs)
    if len(graphs) != len(Xs):
        raise EmbedLensInputError(
            f"got {len(graphs)} graphs for {len(Xs)} views; pass one per view (or None)"
        )
    if method == "umap" and len(Xs) > 1:
        if params.get("n_epochs") is None:
            params = {**params, "n_epochs": 200}  # AlignedUMAP's default (its epochs cost more)
        p = _resolve_params(method, n, params)
        if p["parallel"]:
            raise EmbedLensInputError("parallel=True is not available for aligned UMAP maps (their joint "
                                      "layout is seeded and single-threaded); leave parallel unset")
        n_components = check_param("n_components", n_components, Interval(Integral, 2, 3, closed="both"),
                                   hint="maps have 2 or 3 dimensions")
        start = time.perf_counter()
        k = graph_k(method, n, **params)
        gs = [_get_graph(X, g, k, p["metric"], seed) for X, g in zip(Xs, graphs, strict=True)]
        coords = aligned_umap_layout(Xs, gs, n_components, int(seed), p, progress)
        seconds = time.perf_counter() - start
        out = []
        for i, (X, g, Y) in enumerate(zip(Xs, gs, coords, strict=True)):
            Y = np.ascontiguousarray(Y, dtype=np.float32)
            trust, pres, pk = map_quality(X, Y, metric=p["metric"], graph=g, seed=seed)
            params_used = {**p, "library": "umap-learn", "versions": dict(_library_versions()),
                           "graph": {"k": g.k, "metric": g.metric, "method": g.method},
                           "alignment": {"method": "AlignedUMAP", "views": len(Xs), "index": i,
                                         "regularisation": 1.0e-2, "window": 3}}
            out.append(Projection(coords=Y, method="umap", n_components=n_components, seed=int(seed),
                                  params=params_used, seconds=seconds, trust=trust,
                                  preservation=pres, preservation_k=pk))
        if progress:
            progress(1.0, "done")
        return out
    maps = []
    for i, (X, g) in enumerate(zip(Xs, graphs, strict=True)):
        sub = None
        if progress:
            def sub(f, msg, i=i):
                progress((i + f) / len(Xs), f"view {i + 1}/{len(Xs)}: {msg}")
        maps.append(project(X, method=method, n_components=n_components, seed=seed, graph=g, progress=sub,
                            **params))
    ref = maps[reference].coords
    out = []
    for i, m in enumerate(maps):
        if i == reference:
            info = {"method": "procrustes", "reference": reference, "index": i, "scale": 1.0, "rms": 0.0}
            out.append(replace(m, params={**m.params, "alignment": info}))
            continue
        aligned, info = procrustes_align(m.coords, ref)
        info = {"method": "procrustes", "reference": reference, "index": i, "scale": info["scale"],
                "rms": info["rms"], "reference_rms": info["reference_rms"]}
        out.append(replace(m, coords=aligned, params={**m.params, "alignment": info}))
    return out
