"""Cached core calls of the Spectra page: spectra, diversity, diffusion entropy, rate reduction,
Schur-complement entropy, and metric trajectories over training (background job + disk cache).
"""

from __future__ import annotations

import io

import numpy as np
import streamlit as st

import core
from core import View
from core.cache import DiskCache, cache_key, metric_key
from dashboard.data import metric_jobs
from dashboard.jobs import Job

__all__ = ["spectral_profile", "diffusion_entropy", "diffusion_mutual_info", "class_diversity", "rate_reduction",
           "schur_entropy", "npy_bytes", "view_metric", "EXPENSIVE_METRICS", "CHEAP_METRIC", "metric_cache",
           "trajectory_values", "cheap_metric"]

# Keys: the view fingerprint(s) plus every parameter; labels are keyed by the dataset
# fingerprint and column name (``labels_key``), since the same matrix may carry other metadata.


@st.cache_data(max_entries=64, show_spinner=False)
def spectral_profile(fingerprint: str, _X, *, kernel: str, q: float, eps2: float, max_n: int) -> core.SpectralProfile:
    """:func:`core.spectral_profile` (covariance + kernel spectra and every summary), cached.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    kernel, q, eps2, max_n
        As :func:`core.spectral_profile` (part of the key).

    Returns
    -------
    core.SpectralProfile

    Raises
    ------
    EmbedLensInputError
        As :func:`core.spectral_profile` (bad kernel / q / eps2, NaN / inf rows, every row zero).
        An exception is not cached: the next script run computes again.
    """
    return core.spectral_profile(_X, kernel=kernel, q=q, eps2=eps2, max_n=max_n)


@st.cache_data(max_entries=64, show_spinner=False)
def diffusion_entropy(fingerprint: str, _X, *, sigma: float | str, t: int, max_n: int) -> core.DiffusionEntropy:
    """:func:`core.diffusion_spectral_entropy`, cached per view and parameters.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    sigma, t, max_n
        As :func:`core.diffusion_spectral_entropy` (part of the key).

    Returns
    -------
    core.DiffusionEntropy

    Raises
    ------
    EmbedLensInputError
        As :func:`core.diffusion_spectral_entropy`. An exception is not cached: the next script run computes again.
    """
    return core.diffusion_spectral_entropy(_X, sigma=sigma, t=t, max_n=max_n)


@st.cache_data(max_entries=32, show_spinner=False)
def diffusion_mutual_info(fingerprint: str, labels_key: str, _X, _labels, *, sigma: float | str, t: int,
                          max_n: int) -> core.DiffusionMutualInfo:
    """:func:`core.diffusion_spectral_mutual_info` with a metadata column, cached.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    sigma, t, max_n
        As :func:`core.diffusion_spectral_mutual_info`.

    Returns
    -------
    core.DiffusionMutualInfo

    Raises
    ------
    EmbedLensInputError
        As :func:`core.diffusion_spectral_mutual_info` (labels of the wrong length, fewer than 2
        labelled rows, ...). An exception is not cached: the next script run computes again.
    """
    return core.diffusion_spectral_mutual_info(_X, _labels, sigma=sigma, t=t, max_n=max_n)


@st.cache_data(max_entries=32, show_spinner=False)
def class_diversity(fingerprint: str, labels_key: str, _X, _labels, *, kernel: str, q: float, eps2: float,
                    max_n: int):
    """:func:`core.class_diversity` (Vendi and coding rate of each class), cached.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    kernel, q, eps2, max_n
        As :func:`core.class_diversity`.

    Returns
    -------
    pandas.DataFrame
        One row per class.

    Raises
    ------
    EmbedLensInputError
        As :func:`core.class_diversity`. An exception is not cached: the next script run computes again.
    """
    return core.class_diversity(_X, _labels, q=q, kernel=kernel, eps2=eps2, max_n=max_n)


@st.cache_data(max_entries=64, show_spinner=False)
def rate_reduction(fingerprint: str, labels_key: str, _X, _labels, *, eps2: float) -> core.RateReduction:
    """:func:`core.rate_reduction`, cached.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    eps2 : float

    Returns
    -------
    core.RateReduction

    Raises
    ------
    EmbedLensInputError
        As :func:`core.rate_reduction` (every label missing, every labelled row zero, ...).
        An exception is not cached: the next script run computes again.
    """
    return core.rate_reduction(_X, _labels, eps2=eps2)


@st.cache_data(max_entries=16, show_spinner=False)
def schur_entropy(fingerprint: str, pair_fingerprint: str, _X, _Y, *, kernel: str, n_features: int, q: float):
    """SCE of view X given view Y, the defocused X (read-only) and the Vendi (cosine, q) of X
    before and after defocusing; cached per both fingerprints and the parameters.

    Parameters
    ----------
    fingerprint, pair_fingerprint : str
        Content hashes of ``_X`` and ``_Y`` (the key).
    _X, _Y : ndarray of shape (n, d_x), (n, d_y)
        The measured view and the conditioning view, row-aligned; left out of the key.
    kernel, n_features
        As :func:`core.schur_complement_entropy` (regularisation "auto").
    q : float
        Order of the two Vendi scores.

    Returns
    -------
    (SchurComplementEntropy, ndarray, VendiScore, VendiScore)
        SCE, the defocused ``_X`` (read-only), Vendi of ``_X`` and of the defocused rows.

    Raises
    ------
    EmbedLensInputError
        As :func:`core.schur_complement_entropy` / :func:`core.defocus` / :func:`core.vendi_score`
        (views of different lengths, every pair zero, a bad q). An exception is not cached: the next script run computes again.
    """
    sce = core.schur_complement_entropy(_X, _Y, kernel=kernel, n_features=n_features)
    cleaned = core.defocus(_X, _Y, sce=sce)
    cleaned.flags.writeable = False
    return sce, cleaned, core.vendi_score(_X, q=q), core.vendi_score(cleaned, q=q)


@st.cache_data(max_entries=8, show_spinner=False)
def npy_bytes(key: str, _array) -> bytes:
    """``_array`` as the bytes of a ``.npy`` file (for a download button), cached per ``key``.

    Parameters
    ----------
    key : str
        Identifies ``_array`` in the cache.
    _array : array-like
        Numeric; left out of the key.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        From :func:`numpy.save` with ``allow_pickle=False`` for an object array.
    """
    buf = io.BytesIO()
    np.save(buf, np.asarray(_array), allow_pickle=False)
    return buf.getvalue()


def view_metric(name: str, view, *, labels=None, labels_key: str = "", kernel: str, q: float, eps2: float,
                sigma: float | str, t: int, max_n: int) -> float:
    """One named spectral metric of one view through the cached wrappers above (trajectories).

    Parameters
    ----------
    name : str
        ``"dse"``, ``"dsmi"``, ``"rate_reduction"`` or a key of
        :meth:`core.SpectralProfile.values`.
    view : View
    labels, labels_key
        For the label metrics.
    kernel, q, eps2, sigma, t, max_n
        Passed to the wrapper concerned.

    Returns
    -------
    float

    Raises
    ------
    KeyError
        A ``name`` that is none of the above.
    EmbedLensInputError
        From the wrapper called (see :func:`spectral_profile` and the others).
    """
    if name == "dse":
        return diffusion_entropy(view.fingerprint, view.X, sigma=sigma, t=t, max_n=max_n).value
    if name == "dsmi":
        return diffusion_mutual_info(view.fingerprint, labels_key, view.X, labels, sigma=sigma, t=t,
                                     max_n=max_n).value
    if name == "rate_reduction":
        return rate_reduction(view.fingerprint, labels_key, view.X, labels, eps2=eps2).delta_r
    profile = spectral_profile(view.fingerprint, view.X, kernel=kernel, q=q, eps2=eps2, max_n=max_n)
    return profile.values()[name]


# --- trajectories ---
# DSE and DSMI build an n x n kernel per view (seconds each): over training they are computed
# in a background job, one view after another, each value kept in the disk cache (namespace
# "metrics", keyed by view fingerprint + metric + parameters + library versions), so the page
# draws at once -- a cheap covariance metric, and the values found so far -- and a second
# session or server reads them back instead of computing them again.

EXPENSIVE_METRICS = ("dse", "dsmi")
"""Trajectory metrics computed in a background job and cached on disk."""

CHEAP_METRIC = "effective_rank"
"""The covariance metric drawn at once while an expensive trajectory is computed."""


def metric_cache() -> DiskCache:
    """The metric-value cache folder (``EMBEDLENS_CACHE`` / ``$XDG_CACHE_HOME/embedlens``, ``metrics/``)."""
    return DiskCache(namespace="metrics")


def _expensive_params(name: str, *, labels_key: str, sigma: float | str, t: int, max_n: int) -> dict:
    params = {"sigma": sigma if isinstance(sigma, str) else float(sigma), "t": int(t), "max_n": int(max_n),
              "seed": 0}
    if name == "dsmi":
        params["labels"] = labels_key
    return params


def _expensive_value(name: str, X, labels, params: dict) -> float:
    kw = dict(sigma=params["sigma"], t=params["t"], max_n=params["max_n"], seed=params["seed"])
    if name == "dse":
        return float(core.diffusion_spectral_entropy(X, **kw).value)
    if name == "dsmi":
        return float(core.diffusion_spectral_mutual_info(X, labels, **kw).value)
    raise ValueError(f"{name!r} is not one of {EXPENSIVE_METRICS}")


def trajectory_values(name: str, views: list[View], *, labels=None, labels_key: str = "", sigma: float | str,
                      t: int, max_n: int, owner: str, label: str = "") -> tuple[dict[str, float], Job | None]:
    """Values of the expensive metric ``name`` (DSE or DSMI) per view name, and the job computing the rest.

    Returns what is known now -- computed by this server's job so far, or read from the disk
    cache -- and the background :class:`Job` computing the missing views (None when every view
    has its value). Each value is saved to :func:`metric_cache` as soon as it is computed.
    """
    cache = metric_cache()
    params = _expensive_params(name, labels_key=labels_key, sigma=sigma, t=t, max_n=max_n)
    keys = {v.name: metric_key(v.fingerprint, name, params) for v in views}
    job_key = cache_key(kind="trajectory", metric=name, keys=sorted(keys.values()))
    job = metric_jobs().get(job_key)
    values = {k: v for k, v in (job.partial if job is not None else {}).items() if k in keys}
    for v in views:
        if v.name not in values:
            found = cache.load_value(keys[v.name])
            if found is not None:
                values[v.name] = found
    missing = [v for v in views if v.name not in values]
    if not missing:
        return values, None

    def compute(progress):
        out = {}
        for i, v in enumerate(missing):
            progress(i / len(missing), f"{v.label} ({i + 1} of {len(missing)})")
            value = _expensive_value(name, v.X, labels, params)
            try:
                cache.save_value(keys[v.name], value, meta={"view": v.name, "metric": name, "params": params})
            except OSError:  # a read-only or full disk costs time later, not the value now
                pass
            out[v.name] = value
            progress((i + 1) / len(missing), f"{v.label} done", partial={v.name: value})
        return out

    retry = job is not None and job.state == "cancelled"  # stopped when the page moved on; back now
    job = metric_jobs().submit(job_key, f"{label or name} of {len(missing)} views", compute, owner=owner,
                               retry=retry)
    return {**values, **{k: v for k, v in job.partial.items() if k in keys}}, job


@st.cache_data(max_entries=256, show_spinner=False)
def cheap_metric(fingerprint: str, _X, name: str) -> float:
    """A covariance-spectrum metric of one view (O(n d^2), no kernel): the at-once trajectory."""
    return float({"effective_rank": core.effective_rank, "participation_ratio": core.participation_ratio}[name](_X))
