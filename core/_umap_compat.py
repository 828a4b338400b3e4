"""Every use of umap-learn's private internals, behind a version guard.

EmbedLens relies on a few things umap-learn does not promise to keep:

- its numba dispatchers' ``_cache`` / ``enable_caching`` (turned on by :func:`import_umap` so a
  restarted server loads compiled code from disk instead of compiling again);
- ``umap.layouts._optimize_layout_aligned_euclidean_single_epoch``, ``UMAP._a`` / ``UMAP._b``
  and the helpers of ``umap.aligned_umap`` (``expand_relations``,
  ``build_neighborhood_similarities``, ``procrustes_align``), ``umap.spectral.spectral_layout``
  and ``umap.umap_.make_epochs_per_sample``, which :func:`aligned_umap_layout` calls to run
  AlignedUMAP on the shared kNN graphs.

This code was checked against the umap-learn versions in :data:`CHECKED` (pyproject.toml pins
the same range). Outside it, :func:`check_version` logs a warning through :mod:`logging`. A
speed-up hook that fails (the numba disk cache) logs a warning and the map is computed anyway;
a private function the aligned layout needs that is missing raises an ``ImportError`` naming
the installed and checked versions. Nothing here swallows an error silently.

umap-learn and numba are imported inside the functions: importing :mod:`core` stays fast.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np

__all__ = ["CHECKED", "installed_version", "check_version", "import_umap", "private", "aligned_umap_layout"]

_log = logging.getLogger(__name__)

CHECKED = ("0.5.7", "0.5.12")
"""The oldest and newest umap-learn this module's use of private internals was checked against."""

_LOCK = threading.Lock()
_READY = False
_ALIGNED_EPOCH = None


def _release(text: str) -> tuple[int, ...]:
    """``"0.5.12rc1"`` -> ``(0, 5, 12)``: the numeric release of a version string."""
    return tuple(int(x) for x in re.findall(r"\d+", text.split("+")[0])[:3])


def installed_version() -> str | None:
    """umap-learn's installed version (package metadata), or None when it is not installed.

    Returns
    -------
    str or None

    Raises
    ------
    Nothing
        A missing distribution gives None.
    """
    try:
        return version("umap-learn")
    except PackageNotFoundError:
        return None


def check_version(found: str | None = None) -> bool:
    """Whether umap-learn ``found`` (default: the installed one) lies within :data:`CHECKED`.

    Logs a warning (logger ``core._umap_compat``) when it does not: EmbedLens still runs, but
    its use of umap-learn's private functions was not checked against that version.

    Parameters
    ----------
    found : str, optional
        A version string; default :func:`installed_version`.

    Returns
    -------
    bool
        True inside ``CHECKED[0] <= version <= CHECKED[1]`` (release numbers compared).

    Raises
    ------
    Nothing
        An unparsable or absent version counts as unchecked (logged).

    Examples
    --------
    >>> check_version("0.5.9")
    True
    """
    found = installed_version() if found is None else found
    low, high = _release(CHECKED[0]), _release(CHECKED[1])
    ok = found is not None and bool(_release(found)) and low <= _release(found) <= high
    if not ok:
        _log.warning(
            "umap-learn %s is outside the versions EmbedLens was checked against (%s to %s): UMAP maps "
            "still run, but aligned UMAP and the numba disk cache use umap-learn's private functions, "
            "which may have changed; install umap-learn>=%s,<=%s if they fail",
            found, CHECKED[0], CHECKED[1], CHECKED[0], CHECKED[1],
        )
    return ok


def private(module: str, name: str):
    """``module.name`` from umap-learn's internals, or an ImportError that says which version lacks it.

    Parameters
    ----------
    module : str
        A umap-learn module, e.g. ``"umap.layouts"``.
    name : str
        The attribute wanted.

    Returns
    -------
    object
        The attribute.

    Raises
    ------
    ImportError
        The module or the attribute is missing (a umap-learn outside :data:`CHECKED`); the
        message names the installed and the checked versions.
    """
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            f"umap-learn {installed_version()} has no {module}.{name}, which EmbedLens's aligned UMAP "
            f"needs ({exc}); it was checked against umap-learn {CHECKED[0]} to {CHECKED[1]}: install "
            f"a version in that range"
        ) from exc


def _dispatchers() -> dict:
    """umap-learn's module-level numba dispatchers, grouped by the Python function they compile."""
    from numba.core.registry import CPUDispatcher

    import umap.aligned_umap
    import umap.layouts
    import umap.spectral
    import umap.umap_
    import umap.utils

    found: dict[object, list] = {}
    for mod in (umap.umap_, umap.layouts, umap.spectral, umap.utils, umap.aligned_umap):
        for obj in vars(mod).values():
            if isinstance(obj, CPUDispatcher):
                found.setdefault(obj.py_func, []).append(obj)
    return found


def _enable_disk_cache() -> int:
    """Turn numba's on-disk cache on for umap-learn's dispatchers; returns how many.

    Dispatchers sharing one Python function (umap-learn's serial and parallel epoch
    functions) are left alone: their cache files would collide.
    """
    enabled = 0
    for dispatchers in _dispatchers().values():
        unique = {id(d): d for d in dispatchers}
        if len(unique) == 1:
            d = dispatchers[0]
            if type(d._cache).__name__ == "NullCache":
                d.enable_caching()
                enabled += 1
    return enabled


def import_umap():
    """Import umap-learn once, check its version, and let numba keep its compiled code on disk.

    umap-learn compiles most of its numba functions without ``cache=True``, so every new
    process pays the compilation again (several seconds for the first map). Turning the
    on-disk cache on for its module-level dispatchers makes a restarted server load them
    instead. That is only a speed-up: if it fails (a private attribute renamed, no writable
    cache folder) a warning is logged and the import succeeds.

    Returns
    -------
    module
        ``umap``.

    Raises
    ------
    ImportError
        umap-learn is not installed.
    """
    global _READY
    import umap

    with _LOCK:
        if _READY:
            return umap
        check_version()
        try:
            _enable_disk_cache()
        except (ImportError, AttributeError, TypeError, RuntimeError, OSError) as exc:
            _log.warning(
                "numba disk cache for umap-learn %s not enabled (%s: %s); maps are computed as usual, "
                "each new process compiles umap-learn again. Checked versions: %s to %s",
                installed_version(), type(exc).__name__, exc, CHECKED[0], CHECKED[1],
            )
        _READY = True
    return umap


def _optimize_aligned(embeddings, heads, tails, n_epochs, eps, weights, relations, rng_state, a, b, progress):
    """umap-learn's ``optimize_layout_aligned_euclidean`` loop, single-threaded (hence seeded).

    umap-learn compiles its per-epoch function afresh on every call (about 15 s measured
    here, each time); this keeps one compiled copy per process, which ``core.warmup.warm_up``
    builds.
    """
    global _ALIGNED_EPOCH
    import numba

    if _ALIGNED_EPOCH is None:
        epoch_fn = private("umap.layouts", "_optimize_layout_aligned_euclidean_single_epoch")
        _ALIGNED_EPOCH = numba.njit(epoch_fn, fastmath=True, parallel=False, cache=True)
    f32 = numba.types.float32[::1]
    neg_rate = 5.0
    eps_neg = numba.typed.List.empty_list(f32)
    next_neg = numba.typed.List.empty_list(f32)
    next_pos = numba.typed.List.empty_list(f32)
    for e in eps:
        eps_neg.append(e.astype(np.float32) / neg_rate)
        next_neg.append((e.astype(np.float32) / neg_rate).astype(np.float32))
        next_pos.append(e.astype(np.float32))
    dim = embeddings[0].shape[1]
    alpha = initial_alpha = 1.0
    step = max(1, n_epochs // 50)
    for epoch in range(n_epochs):
        _ALIGNED_EPOCH(embeddings, embeddings, heads, tails, eps, a, b, weights, relations, rng_state, 1.0,
                       1.0e-2, dim, True, alpha, eps_neg, next_neg, next_pos, epoch)
        alpha = initial_alpha * (1.0 - epoch / n_epochs)
        if progress and (epoch % step == 0 or epoch == n_epochs - 1):
            progress(0.15 + 0.85 * (epoch + 1) / n_epochs, f"AlignedUMAP: epoch {epoch + 1}/{n_epochs}")
    return embeddings


def aligned_umap_layout(Xs, graphs, n_components: int, seed: int, p: dict, progress) -> list[np.ndarray]:
    """AlignedUMAP (umap-learn) on the shared kNN graphs: one layout per view, in one frame.

    Written out because ``umap.AlignedUMAP.fit`` cannot take precomputed neighbours and fits
    (then discards) a full UMAP layout per view; this follows its steps with umap-learn's
    own functions, graph-only per-view models, and a single-threaded (so seeded) optimiser.

    Parameters
    ----------
    Xs : list of ndarray of shape (n, d_i)
        Row-aligned views, already validated.
    graphs : list of NeighborGraph
        One per view, with at least ``p["n_neighbors"] - 1`` neighbours.
    n_components : {2, 3}
    seed : int
    p : dict
        Resolved UMAP parameters (``n_neighbors``, ``min_dist``, ``metric``, ``n_epochs``).
    progress : callable ``(fraction, message)`` or None

    Returns
    -------
    list of ndarray of shape (n, n_components), float32

    Raises
    ------
    ImportError
        umap-learn lacks one of the private functions used (see :func:`private`).
    """
    import numba

    umap = import_umap()
    build_neighborhood_similarities = private("umap.aligned_umap", "build_neighborhood_similarities")
    expand_relations = private("umap.aligned_umap", "expand_relations")
    umap_pa = private("umap.aligned_umap", "procrustes_align")
    spectral_layout = private("umap.spectral", "spectral_layout")
    make_epochs_per_sample = private("umap.umap_", "make_epochs_per_sample")

    n = Xs[0].shape[0]
    window = 3
    graphs_ = []
    for i, (X, g) in enumerate(zip(Xs, graphs, strict=True)):
        if progress:
            progress(0.02 + 0.08 * i / len(Xs), f"AlignedUMAP: fuzzy graph of view {i + 1}/{len(Xs)}")
        idx, dist = g.umap_knn(p["n_neighbors"])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
            warnings.filterwarnings("ignore", message=".*knn_search_index.*")
            model = umap.UMAP(n_neighbors=p["n_neighbors"], min_dist=p["min_dist"], metric=p["metric"],
                              n_components=n_components, random_state=seed, precomputed_knn=(idx, dist),
                              force_approximation_algorithm=True, transform_mode="graph").fit(X)
        graphs_.append(model.graph_)
    try:
        a, b = model._a, model._b
    except AttributeError as exc:
        raise ImportError(
            f"umap-learn {installed_version()}'s UMAP has no _a / _b (the curve parameters aligned UMAP "
            f"needs); EmbedLens was checked against umap-learn {CHECKED[0]} to {CHECKED[1]}"
        ) from exc
    n_epochs = p["n_epochs"]
    relations = expand_relations([{i: i for i in range(n)} for _ in range(len(Xs) - 1)], window)
    indptr = numba.typed.List.empty_list(numba.types.int32[::1])
    indices = numba.typed.List.empty_list(numba.types.int32[::1])
    heads = numba.typed.List.empty_list(numba.types.int32[::1])
    tails = numba.typed.List.empty_list(numba.types.int32[::1])
    eps = numba.typed.List.empty_list(numba.types.float64[::1])
    for G in graphs_:
        coo = G.tocoo()
        indptr.append(G.indptr)
        indices.append(G.indices)
        heads.append(coo.row)
        tails.append(coo.col)
        eps.append(make_epochs_per_sample(coo.data, n_epochs))
    rng = np.random.RandomState(seed)
    weights = build_neighborhood_similarities(indptr, indices, relations)
    embeddings = numba.typed.List.empty_list(numba.types.float32[:, ::1])
    if progress:
        progress(0.12, "AlignedUMAP: spectral initialisation")
    for i, X in enumerate(Xs):
        init = spectral_layout(X, graphs_[i], n_components, rng)
        init = (init * (10.0 / np.abs(init).max())).astype(np.float32, order="C")
        if i:
            anchor = relations[i][window - 1]
            init = umap_pa(embeddings[-1], init, np.vstack([anchor[anchor >= 0], np.where(anchor >= 0)[0]]))
        embeddings.append(init)
    seed_triplet = rng.randint(np.iinfo(np.int32).min + 1, np.iinfo(np.int32).max - 1, 3).astype(np.int64)
    out = _optimize_aligned(embeddings, heads, tails, n_epochs, eps, weights, relations, seed_triplet, a, b,
                            progress)
    return [np.asarray(e) for e in out]
