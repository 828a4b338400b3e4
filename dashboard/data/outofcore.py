"""Exact metrics over every item of an out-of-core dataset: background jobs on Dask, shared by sessions.

The pages show an out-of-core dataset through its in-memory sample (:func:`core.sample_dataset`);
what is a sum over items is also computed over ``ds.sample.full`` -- the lazy views -- here,
one job per view (pair), metric and parameters, kept by the server's registry (the last 16)
so a second session or a rerun finds the result. Each job runs through
:func:`dashboard.cluster.run_with_progress` (the server's cluster or threads, ``embedlens --dask``;
the job's progress fed by Dask's finished tasks).
Sampled kNN metrics (:func:`core.sampled_knn_metric`) search the neighbours among all items.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import core
from core import Dataset
from dashboard.jobs import Job, JobRegistry

__all__ = ["jobs", "EXACT", "submit", "get", "job_key"]

EXACT = {
    "profile": "covariance and cosine-kernel spectra, every metric read off them",
    "rate_reduction": "rate reduction ΔR and the coding rates",
    "neural_collapse": "neural collapse (NC1, NC2, CDNV)",
    "knn_purity": "kNN purity, exact neighbours among all items of a seeded sample",
    "umap_extend": "UMAP fitted on the sample, every other item placed by transform",
    "comparisons": "CKA, Procrustes and CCA (exact), mutual kNN (exact neighbours of a sample among all items)",
}
HOW = {
    "profile": "Exact over every item of the full view",
    "rate_reduction": "Exact over every item of the full view",
    "neural_collapse": "Exact over every item of the full view",
    "knn_purity": "A seeded sample of items (above), their neighbours searched among every item",
    "umap_extend": "Fitted on the sample, every item placed by transform",
    "comparisons": "CKA, Procrustes and CCA exact over every item of both views; mutual kNN from a sample (above)",
}
"""How each job's result covers the items: the caption under it."""


@st.cache_resource(show_spinner=False)
def jobs() -> JobRegistry:
    """The server's one registry of out-of-core jobs (one worker: each job's Dask tasks use every core)."""
    return JobRegistry(workers=1)


def job_key(kind: str, fingerprints: tuple[str, ...], params: dict) -> str:
    """The key of a job: its kind, the full views' fingerprints and every parameter."""
    return f"ooc:{kind}:{':'.join(fingerprints)}:{sorted(params.items())}"


def _full(ds: Dataset, view_name: str):
    return ds.sample.full.view(view_name)


def _labels(ds: Dataset, column: str):
    return ds.sample.full.metadata[column]


def _compute(kind: str, ds: Dataset, views: tuple[str, ...], params: dict) -> Callable[[], object]:
    """The computation of a job, as a function of nothing (run inside the cluster context)."""
    X = _full(ds, views[0]).X
    if kind == "profile":
        return lambda: core.spectral_profile(X, kernel=params["kernel"], q=params["q"], eps2=params["eps2"],
                                             max_n=params["max_n"])
    if kind == "rate_reduction":
        return lambda: core.rate_reduction(X, _labels(ds, params["column"]), eps2=params["eps2"])
    if kind == "neural_collapse":
        return lambda: core.neural_collapse(X, _labels(ds, params["column"]))
    if kind == "knn_purity":
        labels = _labels(ds, params["column"])
        return lambda: core.sampled_knn_metric(X, kind="knn_purity", labels=labels, k=params["k"],
                                               metric=params["metric"], sample_size=params["sample_size"],
                                               seed=params["seed"], stratify=labels)
    if kind == "comparisons":
        Y = _full(ds, views[1]).X
        return lambda: {
            "cka": core.cka(X, Y, kernel=params["kernel"], debiased=params["debiased"], max_n=params["max_n"],
                            seed=params["seed"]),
            "procrustes": core.procrustes_distance(X, Y, kind="angular"),
            "cca": core.cca_similarity(X, Y),
            "mutual_knn": core.sampled_knn_metric(X, kind="mutual_knn", Y=Y, k=params["k"], metric=params["metric"],
                                                  sample_size=params["knn_sample"], seed=params["seed"]),
        }
    if kind == "umap_extend":
        return lambda: core.sample_then_extend_umap(X, **params)
    raise ValueError(f"unknown out-of-core job {kind!r}")


def submit(kind: str, ds: Dataset, views: tuple[str, ...], params: dict, *, owner: str) -> Job:
    """Start (or join) the job computing ``kind`` over every item of ``views`` with ``params``."""
    fps = tuple(_full(ds, v).fingerprint for v in views)
    run = _compute(kind, ds, views, params)
    label = f"{EXACT.get(kind, kind)} over all {ds.sample.n_total:,} items"

    def fn(progress):
        from dashboard import cluster

        progress(0.0, "starting Dask")
        return cluster.run_with_progress(run, progress=progress)

    return jobs().submit(job_key(kind, fps, params), label, fn, owner=owner, retry=True)


def get(kind: str, ds: Dataset, views: tuple[str, ...], params: dict) -> Job | None:
    """The job for these views and parameters, if one was started (running, done or failed)."""
    return jobs().get(job_key(kind, tuple(_full(ds, v).fingerprint for v in views), params))
