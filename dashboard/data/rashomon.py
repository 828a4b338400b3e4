"""Cached core calls of the Rashomon page: the model's inputs, the Rashomon set and its FIS (a
background job, kept on disk), nested sets for the halo, and the runs' single-view metrics.

The set and its feature interactions are computed by :func:`interactions` in the server's one
Rashomon worker (:func:`rashomon_jobs`, with progress and Stop, like the Map's UMAP) and saved
to the disk cache (namespace ``rashomon``) keyed by the inputs' key (dataset fingerprint, view
fingerprint, features, target, rows) plus every parameter and the library versions, so a
reopened link draws at once. Each nested epsilon's set is a separate entry (only its halos).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from core import rashomon as R
from core._sampling import subsample
from core.cache import DiskCache, cache_key, library_versions
from dashboard.data import GRAPH_MIN_K
from dashboard.data import geometry as geometry_data
from dashboard.data import spectra as spectra_data
from dashboard.jobs import Job, JobRegistry

__all__ = ["Inputs", "RashomonTables", "rashomon_jobs", "rashomon_cache", "model_inputs", "interactions",
           "run_metric", "LOSS"]

LOSS = "log_loss"
"""The loss of the page's classifiers (the target is a label column)."""


@dataclass(frozen=True)
class Inputs:
    """What the reference model is fitted on: features X (rows x p, float64), labels y, and where they came from."""

    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    names: tuple[str, ...]
    rows: np.ndarray = field(repr=False)
    """Dataset row numbers used (sorted)."""
    n_input: int
    """Rows with a target and finite features (before the sample)."""
    n_missing: int
    """Rows left out for a missing target or a missing / non-finite feature."""
    method: str
    """``core._sampling.subsample``'s method ("all rows" or the seeded sample)."""
    source: str
    explained: tuple[float, ...] = ()
    """Share of the view's variance per principal component (source "pcs")."""
    key: str = ""
    """Stands for X and y in the cache keys."""


@st.cache_resource(show_spinner=False)
def rashomon_jobs() -> JobRegistry:
    """The server's one worker for Rashomon sets and their FIS (apart from the maps' and the metrics')."""
    return JobRegistry(workers=1)


def rashomon_cache() -> DiskCache:
    """The Rashomon cache folder (``EMBEDLENS_CACHE`` / ``$XDG_CACHE_HOME/embedlens``, ``rashomon/``)."""
    return DiskCache(namespace="rashomon")


@st.cache_data(max_entries=16, show_spinner="Preparing the model's inputs ...")
def model_inputs(dataset_fingerprint: str, view_fingerprint: str, _X, _meta, *, target: str, source: str,
                 p: int, columns: tuple[str, ...], max_rows: int, seed: int) -> Inputs:
    """Features and labels for the reference model: the view's top ``p`` principal components or
    numeric metadata ``columns``, the ``target`` column as labels, at most ``max_rows`` rows.

    Parameters
    ----------
    dataset_fingerprint, view_fingerprint : str
        Stand for ``_meta`` and ``_X`` in the key.
    _X : ndarray of shape (n, d)
        The view (source "pcs": PCA fitted on every row, scikit-learn).
    _meta : DataFrame of n rows
    target : str
        The label column.
    source : {"pcs", "metadata"}
    p : int
        Principal components (source "pcs").
    columns : tuple of str
        Numeric metadata columns (source "metadata").
    max_rows, seed : int
        Rows with a target and finite features beyond ``max_rows`` are sampled (seeded,
        :func:`core._sampling.subsample`).

    Returns
    -------
    Inputs

    Raises
    ------
    EmbedLensInputError
        Fewer than 2 features or usable rows (a message naming the fix).
    """
    from sklearn.decomposition import PCA

    from core import EmbedLensInputError

    y_all = _meta[target]
    ok = y_all.notna().to_numpy()
    explained: tuple[float, ...] = ()
    if source == "pcs":
        k = min(p, _X.shape[1], _X.shape[0])
        if k < 2:
            raise EmbedLensInputError(f"the view has {_X.shape[1]} dimension(s); two principal components are "
                                      "needed for a pair")
        pca = PCA(n_components=k, random_state=seed).fit(np.asarray(_X))
        explained = tuple(float(v) for v in pca.explained_variance_ratio_)
        names = tuple(f"PC{i + 1}" for i in range(k))
        F = None
    else:
        names = tuple(c for c in columns if c != target)
        if len(names) < 2:
            raise EmbedLensInputError(f"{len(names)} numeric metadata column(s) chosen as features "
                                      f"({', '.join(names) or 'none'}); pick at least 2, or use the view's "
                                      "principal components")
        F = _meta[list(names)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        ok = ok & np.isfinite(F).all(axis=1)  # not in place: the metadata (and so `ok`) can be read-only
    pool = np.flatnonzero(ok)
    if len(pool) < 10:
        raise EmbedLensInputError(f"only {len(pool)} rows have a {target!r} value and finite features; "
                                  "at least 10 are needed")
    sample = subsample(pool, max_rows, seed=seed)
    rows = sample.rows
    X = pca.transform(np.asarray(_X[rows])).astype(np.float64) if F is None else F[rows]
    y = y_all.to_numpy()[rows]
    h = hashlib.sha256(f"{dataset_fingerprint}:{view_fingerprint if F is None else ''}:{target}:{source}:"
                       f"{names}:{seed}".encode())
    h.update(np.ascontiguousarray(rows).tobytes())
    return Inputs(X=X, y=y, names=names, rows=rows, n_input=len(pool), n_missing=int(len(ok) - len(pool)),
                  method=sample.method, source=source, explained=explained, key=h.hexdigest())


# --- the set and its interactions ---


@dataclass(frozen=True)
class RashomonTables:
    """What the page draws of one Rashomon set and its feature interactions (as stored on disk).

    ``result`` is a :class:`core.rashomon.FeatureInteractions` rebuilt from the stored ``main`` /
    ``fis`` tables (its ``rset`` is None: the page calls ``swarm_data`` and ``fis_summary`` on
    it); ``halos`` holds ``halo_data`` of every pair (columns ``i, j`` added).
    """

    result: R.FeatureInteractions = field(repr=False)
    halos: pd.DataFrame = field(repr=False)
    reference_loss: float
    epsilon: float
    min_loss: float
    n_models: int
    n_in_set: int
    set_label: str
    set_params: dict = field(repr=False)


def _frame_arrays(prefix: str, df: pd.DataFrame) -> tuple[dict, dict]:
    arrays, meta = {}, {"columns": list(map(str, df.columns)), "text": {}}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            arrays[f"{prefix}.{c}"] = s.to_numpy()
        else:
            codes, uniques = pd.factorize(s.astype(str))
            arrays[f"{prefix}.{c}"] = codes.astype(np.int32)
            meta["text"][str(c)] = [str(u) for u in uniques]
    return arrays, meta


def _frame_from(prefix: str, arrays, meta: dict) -> pd.DataFrame:
    out = {}
    for c in meta["columns"]:
        a = np.asarray(arrays[f"{prefix}.{c}"])
        out[c] = np.asarray(meta["text"][c], dtype=object)[a] if c in meta["text"] else a.copy()
    return pd.DataFrame(out, columns=meta["columns"])


def _all_halos(rset) -> pd.DataFrame:
    names = rset.feature_names
    parts = [R.halo_data(rset, pair=(i, j)).assign(i=names[i], j=names[j]) for i, j in rset.pairs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["alpha_i", "alpha_j", "quadrant", "theta", "expected", "measured", "i", "j"])


def _save(key: str, frames: dict[str, pd.DataFrame], meta: dict) -> None:
    arrays, frame_meta = {}, {}
    for name, df in frames.items():
        a, m = _frame_arrays(name, df)
        arrays.update(a)
        frame_meta[name] = m
    try:
        rashomon_cache().save(key, arrays, {**meta, "frames": frame_meta})
    except OSError:  # a read-only or full disk costs time later, not the result now
        pass


@st.cache_resource(max_entries=16, show_spinner=False)
def _from_disk(key: str) -> tuple[dict, dict]:
    entry = rashomon_cache().load(key)
    if entry is None:
        raise LookupError(key)  # not cached by st.cache_resource: asked again next run
    meta = dict(entry.meta)
    frames = {name: _frame_from(name, entry.arrays, m) for name, m in meta.pop("frames").items()}
    return frames, meta


def _cached(key: str):
    try:
        return _from_disk(key)
    except LookupError:
        return None


def _tables(frames: dict, meta: dict) -> RashomonTables:
    result = R.FeatureInteractions(main=frames["main"], fis=frames["fis"], rset=None, params=meta["fi_params"],
                                   label=meta["fi_label"])
    return RashomonTables(result=result, halos=frames["halos"], reference_loss=meta["reference_loss"],
                          epsilon=meta["epsilon"], min_loss=meta["min_loss"], n_models=meta["n_models"],
                          n_in_set=meta["n_in_set"], set_label=meta["set_label"], set_params=meta["set_params"])


def _keys(inputs: Inputs, *, model: str, epsilon_rate: float, epsilon: float, perms: tuple[int, int], seed: int,
          nested: tuple[float, ...]) -> tuple[str, dict[float, str]]:
    versions = library_versions("numpy", "scikit-learn", "pandas")
    base = dict(kind="rashomon", inputs=inputs.key, model=model, loss=LOSS, seed=seed, versions=versions,
                epsilon_rate=None if epsilon > 0 else float(epsilon_rate), epsilon=float(epsilon) or None)
    main = cache_key(**base, part="interactions", permutations=list(perms))
    return main, {f: cache_key(**base, part="halos", factor=float(f)) for f in nested}


def interactions(inputs: Inputs, *, model: str, epsilon_rate: float, epsilon: float, perms: tuple[int, int],
                 seed: int, nested: tuple[float, ...] = (), owner: str, retry: bool = False
                 ) -> tuple[RashomonTables | None, dict[float, pd.DataFrame], Job | None]:
    """The Rashomon set of a ``model`` fitted on ``inputs`` and its FIS, and the halos at ``nested``
    multiples of its epsilon: from memory or disk, or the background job computing what is missing.

    Parameters
    ----------
    inputs : Inputs
    model : {"logistic", "mlp"}
        :func:`core.rashomon.fit_reference_model`'s kind (seeded by ``seed``).
    epsilon_rate, epsilon : float
        epsilon = ``epsilon`` when > 0, else ``epsilon_rate`` x L*.
    perms : (int, int)
        Permutations for single features and for pairs.
    seed : int
        Of the model, the permutations and the record.
    nested : tuple of float
        Factors f: a further set at epsilon f x epsilon each, of which only the halos are kept.
    owner : str
        The session asking (a new request cancels what only it was waiting for).
    retry : bool
        Run a failed or stopped job again. A job this ``owner`` stopped (:meth:`Job.stop`) stays
        stopped for it until then; one cancelled because its owner moved on starts again when
        asked for again.

    Returns
    -------
    (RashomonTables or None, dict of float to DataFrame, Job or None)
        The tables (None while computing), the nested halos found so far (factor -> every pair's
        ``halo_data`` with ``i, j``), and the job computing the rest (None when nothing is missing).

    Raises
    ------
    EmbedLensInputError
        From :class:`core.DiskCache` (a malformed ``EMBEDLENS_CACHE_MAX_MB``); the computation's
        own errors are the job's (``job.error``).
    """
    main_key, nested_keys = _keys(inputs, model=model, epsilon_rate=epsilon_rate, epsilon=epsilon, perms=perms,
                                  seed=seed, nested=nested)
    job_key = cache_key(kind="rashomon-job", keys=[main_key, *sorted(nested_keys.values())])
    job = rashomon_jobs().get(job_key)
    done = dict(job.partial) if job is not None else {}
    found = {k: done.get(k) or _cached(k) for k in [main_key, *nested_keys.values()]}
    tables = _tables(*found[main_key]) if found[main_key] is not None else None
    halos = {f: found[k][0]["halos"] for f, k in nested_keys.items() if found[k] is not None}
    missing = [k for k, v in found.items() if v is None]
    if not missing:
        return tables, halos, None
    eps_arg = dict(epsilon=float(epsilon)) if epsilon > 0 else dict(epsilon_rate=float(epsilon_rate))
    factors = {k: f for f, k in nested_keys.items()}

    def compute(progress):
        progress(0.0, f"fitting the {model} reference model")
        fitted = R.fit_reference_model(inputs.X, inputs.y, kind=model, seed=seed)
        share = 1.0 / len(missing)
        out, main_eps = {}, tables.epsilon if tables is not None else None
        for n, key in enumerate(missing):
            def part(fraction, text, n=n):
                progress(n * share + fraction * share, text)

            if key == main_key:  # first in `missing` (as in `found`): the nested sets need its epsilon
                main_set = R.rashomon_set(fitted, inputs.X, inputs.y, loss=LOSS, seed=seed,
                                          feature_names=inputs.names, progress=lambda f, t: part(0.3 * f, t),
                                          **eps_arg)
                main_eps = main_set.epsilon
                fi = R.feature_interactions(main_set, inputs.X, inputs.y, n_permutations=perms, seed=seed,
                                            progress=lambda f, t: part(0.3 + 0.7 * f, t))
                frames = {"main": fi.main, "fis": fi.fis, "halos": _all_halos(main_set)}
                kept = main_set.losses[main_set.in_set]
                meta = {"reference_loss": main_set.reference_loss, "epsilon": main_set.epsilon,
                        "min_loss": float(kept.min()), "n_models": main_set.n_models,
                        "n_in_set": int(main_set.in_set.sum()), "set_label": main_set.label,
                        "set_params": main_set.params, "fi_params": fi.params, "fi_label": fi.label}
            else:
                f = factors[key]
                rset = R.rashomon_set(fitted, inputs.X, inputs.y, loss=LOSS, seed=seed, feature_names=inputs.names,
                                      epsilon=f * main_eps, progress=lambda fr, t, f=f: part(0.3 + 0.7 * fr,
                                                                                            f"ε × {f:g}: {t}"))
                frames = {"halos": _all_halos(rset)}
                meta = {"factor": f, "epsilon": rset.epsilon, "set_label": rset.label}
            _save(key, frames, meta)
            out[key] = (frames, meta)
            progress((n + 1) * share, "saved", partial={key: (frames, meta)})
        return out

    what = "Rashomon set and FIS" if main_key in missing else f"{len(missing)} nested Rashomon set(s)"
    label = f"{what} ({model}, {len(inputs.names)} features, {len(inputs.rows):,} rows)"
    retry = retry or (job is not None and job.state == "cancelled" and not job.stopped_by(owner))
    job = rashomon_jobs().submit(job_key, label, compute, owner=owner, retry=retry)
    return tables, halos, job


# --- the runs' set ---


def run_metric(name: str, view, *, labels_key: str = "", labels=None) -> float:
    """One single-view metric of ``view`` through the other pages' cached wrappers.

    Parameters
    ----------
    name : {"effective_rank", "vendi", "twonn", "nc1"}
        Effective rank (covariance), Vendi score (cosine, q = 1, the Spectra page's profile), TwoNN
        intrinsic dimension (cosine, the shared kNN graph), NC1 (needs ``labels``).
    view : View
    labels_key, labels
        The label column and its cache key (NC1).

    Returns
    -------
    float

    Raises
    ------
    EmbedLensInputError
        From the wrapper called (too few distinct points, a single class, ...).
    KeyError
        An unknown ``name``.
    """
    fp, X = view.fingerprint, view.X
    if name == "effective_rank":
        return spectra_data.cheap_metric(fp, X, "effective_rank")
    if name == "vendi":
        return float(spectra_data.spectral_profile(fp, X, kernel="cosine", q=1.0, eps2=0.5, max_n=3000).vendi)
    if name == "twonn":
        k = min(GRAPH_MIN_K, X.shape[0] - 1)  # the shared graph as built: no search of its own
        return float(geometry_data.intrinsic_dimension(fp, X, "twonn", "cosine", k).value)
    if name == "nc1":
        return float(geometry_data.neural_collapse(fp, X, labels_key, labels).nc1)
    raise KeyError(name)
