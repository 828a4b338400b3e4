"""core.projection: PCA against a direct SVD, UMAP / t-SNE by quality, seeds, graphs, cache."""

from __future__ import annotations

import numpy as np
import pytest

import core
from core import EmbedLensInputError
from core.alignment import align_projections
from core.neighbors import knn_graph
from core.projection import DEFAULTS, graph_k, project, project_cached, projection_key


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """The sample digits view the issue names: 1,797 items x 32 dims (MLP seed 0, layer 2, epoch 100)."""
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    return ds.view("seed0/hidden2/epoch100").X


def _svd_scores(X: np.ndarray, k: int) -> np.ndarray:
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)
    return U[:, :k] * S[:k]


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "auto"])
@pytest.mark.parametrize("dims", [2, 3])
def test_pca_agrees_with_a_direct_svd_up_to_sign(small_matrix, solver, dims):
    p = project(small_matrix, method="pca", n_components=dims, solver=solver)
    ref = _svd_scores(small_matrix, dims)
    for j in range(dims):
        sign = np.sign(ref[:, j] @ p.coords[:, j])
        np.testing.assert_allclose(p.coords[:, j] * sign, ref[:, j], rtol=2e-3, atol=2e-3 * np.abs(ref[:, j]).max())
    assert p.coords.dtype == np.float32 and not p.coords.flags.writeable
    assert p.params["solver"] == ("full" if solver == "auto" else solver)  # auto: 40 rows < 10 x 6 dims


def test_pca_pads_when_there_are_fewer_dimensions_than_asked():
    X = np.random.default_rng(0).standard_normal((20, 2))
    p = project(X, method="pca", n_components=3)
    assert p.coords.shape == (20, 3) and (p.coords[:, 2] == 0).all()


def test_pca_scores_trustworthiness_and_preservation_only_with_a_graph(blobs):
    p = project(blobs, method="pca")
    assert p.trust is not None and p.trust.n_used == 300 and not p.trust.sampled
    assert p.preservation is None
    g = knn_graph(blobs, k=15)
    q = project(blobs, method="pca", graph=g)
    assert q.preservation.shape == (300,) and q.preservation_k == 15
    np.testing.assert_array_equal(p.coords, q.coords)


def test_umap_is_judged_by_quality_on_the_sample_digits(digits):
    p = project(digits, method="umap")
    assert p.trust.value >= 0.9, f"trustworthiness {p.trust.value:.3f}"
    assert p.params["graph"] == {"k": 15, "metric": "cosine", "method": "exact"}
    assert p.params["n_epochs"] == 500 and p.params["library"] == "umap-learn"
    assert 0.3 < p.mean_preservation <= 1.0


def test_tsne_is_judged_by_quality_on_the_sample_digits(digits):
    p = project(digits, method="tsne")
    assert p.trust.value >= 0.9, f"trustworthiness {p.trust.value:.3f}"
    assert p.params["library"] == "openTSNE" and p.params["gradient"] == "Barnes-Hut"
    assert p.params["graph"]["k"] == 90 and p.params["k_neighbors"] == 90  # 3 x perplexity 30


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_the_same_seed_gives_identical_coordinates(blobs, method):
    kw = {"n_epochs": 60} if method == "umap" else {"n_iter": 60, "early_exaggeration_iter": 30}
    a = project(blobs, method=method, seed=4, quality=False, **kw)
    b = project(blobs, method=method, seed=4, quality=False, **kw)
    c = project(blobs, method=method, seed=5, quality=False, **kw)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert not np.array_equal(a.coords, c.coords)


def test_parallel_umap_is_as_good_but_declared_not_reproducible(digits):
    seeded = project(digits, method="umap", seed=0)
    fast = project(digits, method="umap", seed=0, parallel=True)
    assert seeded.params["reproducible"] is True and fast.params["reproducible"] is False
    assert fast.params["parallel"] is True
    assert fast.trust.value >= 0.9 and abs(fast.trust.value - seeded.trust.value) < 0.02
    with pytest.raises(EmbedLensInputError, match="not available for aligned UMAP maps"):
        align_projections([digits, digits[:, ::-1]], method="umap", parallel=True)


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def test_umap_reuses_the_graph_it_is_given_and_checks_it(blobs):
    g = knn_graph(blobs, k=20, metric="euclidean")
    p = project(blobs, method="umap", graph=g, metric="euclidean", n_epochs=30)
    assert p.params["graph"]["k"] == 20 and p.params["graph"]["metric"] == "euclidean"
    asked = []
    project(blobs, method="umap", n_epochs=30, n_neighbors=10,
            graph=lambda k, metric: asked.append((k, metric)) or knn_graph(blobs, k=k, metric=metric))
    assert asked == [(15, "cosine")]  # at least the quality k, in the map's metric
    with pytest.raises(EmbedLensInputError, match="the graph uses metric='euclidean' but metric='cosine' was asked for"):
        project(blobs, method="umap", graph=g)
    with pytest.raises(EmbedLensInputError, match=r"k=29 needs a graph with at least k neighbours; this one has k=20"):
        project(blobs, method="umap", graph=g, metric="euclidean", n_neighbors=30)


def test_graph_k_follows_each_method():
    assert graph_k("pca", 1000) == 0
    assert graph_k("umap", 1000, n_neighbors=40) == 39
    assert graph_k("umap", 1000, n_neighbors=5) == 15
    assert graph_k("tsne", 1000, perplexity=50) == 150
    assert graph_k("tsne", 60) == 59  # perplexity clipped to (n - 1) / 3


def test_progress_is_reported_up_to_done(blobs):
    seen = []
    project(blobs, method="umap", n_epochs=40, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions[-1] == 1.0 and seen[-1][1] == "done"
    assert any("epoch 40/40" in m for _, m in seen)
    epochs = [f for f, m in seen if "epoch" in m]
    assert epochs == sorted(epochs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "mds"}, "method='mds' is invalid: expected one of 'pca', 'umap', 'tsne'"),
        ({"method": "pca", "n_neighbors": 5}, r"pca does not take \['n_neighbors'\]"),
        ({"method": "umap", "min_dist": 2.0}, r"min_dist=2.0 is invalid: expected a number in \[0, 1\]"),
        ({"method": "tsne", "perplexity": -1}, "perplexity=-1 is invalid: expected a number > 0"),
        ({"n_components": 4}, r"n_components=4 is invalid: expected an integer in \[2, 3\]; maps have 2 or 3 dimensions"),
        ({"seed": -1}, "seed=-1 is invalid: expected an integer >= 0"),
        ({"method": "umap", "metric": "manhattan"}, "metric='manhattan'"),
        ({"method": "umap", "parallel": "yes"}, "parallel='yes' is invalid: expected True or False"),
    ],
)
def test_bad_parameters_say_what_to_do(blobs, kwargs, message):
    with pytest.raises(EmbedLensInputError, match=message):
        project(blobs, **kwargs)


@pytest.mark.parametrize("kwargs", [{"n_components": np.int64(4)}, {"seed": np.int64(-1)},
                                    {"method": "umap", "n_neighbors": np.int64(1)},
                                    {"method": "pca", "fit_rows": np.int64(1)}])
def test_kind_plain_numbers_in_messages_projection(blobs, kwargs):
    """A numpy integer in a message reads as people write it (4, not np.int64(4))."""
    with pytest.raises(EmbedLensInputError) as info:
        project(blobs, **kwargs)
    name, value = next(iter((k, v) for k, v in kwargs.items() if k != "method"))
    assert f"{name}={int(value)} is invalid" in str(info.value) and "np." not in str(info.value)


def test_defaults_list_every_parameter():
    assert set(DEFAULTS) == {"pca", "umap", "tsne"}
    assert DEFAULTS["umap"]["n_neighbors"] == 15 and DEFAULTS["tsne"]["perplexity"] == 30.0


def test_the_cache_key_names_everything(blobs):
    a = projection_key("fp", method="umap", n_components=2, seed=0, n=300)
    assert a == projection_key("fp", method="umap", n_components=2, seed=0, n=300, n_neighbors=15)
    assert a != projection_key("fp", method="umap", n_components=2, seed=1, n=300)
    assert a != projection_key("fp2", method="umap", n_components=2, seed=0, n=300)
    assert a != projection_key("fp", method="umap", n_components=2, seed=0, n=300, min_dist=0.2)


def test_project_cached_returns_what_it_stored(blobs, tmp_path):
    cache = core.cache.DiskCache(tmp_path)
    a = project_cached(blobs, fingerprint="blobs", cache=cache, method="umap", n_epochs=30)
    b = project_cached(blobs, fingerprint="blobs", cache=cache, method="umap", n_epochs=30)
    assert not a.from_cache and b.from_cache
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.preservation, b.preservation)
    assert b.trust == a.trust and b.params["graph"] == a.params["graph"] and b.seconds == a.seconds


def test_zero_rows_and_duplicates_are_mapped(small_matrix):
    for method in ("pca", "umap", "tsne"):
        p = project(small_matrix, method=method, quality=True,
                    **({"n_epochs": 50} if method == "umap" else {"n_iter": 50} if method == "tsne" else {}))
        assert np.isfinite(p.coords).all() and p.coords.shape == (40, 2)


def test_large_pca_fits_its_axes_on_a_declared_sample(rng):
    X = (rng.standard_normal((3000, 10)) * np.linspace(5, 1, 10) + 7.0).astype(np.float32)
    exact = project(X, method="pca", fit_rows=None, quality=False)
    fast = project(X, method="pca", fit_rows=1000, seed=2, quality=False)
    assert exact.params["fit_sample"] == "all rows" and exact.params["fit_rows"] == 3000
    assert fast.params["fit_sample"] == "uniform, seed 2" and fast.params["fit_rows"] == 1000
    for j in range(2):  # the same axes up to sign, within sampling error
        r = np.corrcoef(exact.coords[:, j], fast.coords[:, j])[0, 1]
        assert abs(r) > 0.99, f"component {j + 1}: correlation {r:.4f}"
    np.testing.assert_array_equal(fast.coords, project(X, method="pca", fit_rows=1000, seed=2, quality=False).coords)


# --------------------------------------------------------------------------- issue 10: kinds


def _max_error_up_to_sign(Y, ref):
    return max(min(np.abs(Y[:, i] - ref[:, i]).max(), np.abs(Y[:, i] + ref[:, i]).max()) / np.ptp(ref[:, i])
               for i in range(ref.shape[1]))


@pytest.mark.parametrize("offset", [200.0, 50.0, 1e4])
def test_kind_float32_large_mean_centring_pca(offset):
    """Float32 rows offset + noise: the map equals scikit-learn's PCA of the float64 data (up to sign)."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(9)
    X64 = offset + rng.standard_normal((3000, 32)) * np.linspace(0.2, 2.0, 32)
    X = X64.astype(np.float32)
    ref = PCA(2).fit_transform(X.astype(np.float64))
    p = project(X, method="pca", quality=False)
    assert _max_error_up_to_sign(p.coords.astype(np.float64), ref) < 1e-3
    # the sampled path (axes fitted on 1,000 seeded rows): scikit-learn on the same rows in float64
    idx = np.sort(np.random.default_rng(0).choice(3000, size=1000, replace=False))
    ref_s = PCA(2).fit(X[idx].astype(np.float64)).transform(X.astype(np.float64))
    ps = project(X, method="pca", quality=False, fit_rows=1000)
    assert ps.params["fit_rows"] == 1000 and _max_error_up_to_sign(ps.coords.astype(np.float64), ref_s) < 1e-3
    # aligned maps of two views go through the same fit
    a, b = align_projections([X, X[:, ::-1].copy()], method="pca")
    assert _max_error_up_to_sign(a.coords.astype(np.float64), ref) < 1e-3


def test_kind_float32_large_mean_centring_pca_few_dims_offset():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(10)
    X = rng.standard_normal((20000, 384)).astype(np.float32)
    X[:, :3] += 30
    ref = PCA(2).fit_transform(X.astype(np.float64))
    assert _max_error_up_to_sign(project(X, method="pca", quality=False).coords.astype(np.float64), ref) < 1e-3


def test_kind_degenerate_spectrum_declared_undefined_pca_map():
    X = np.tile(np.array([[1.5, -2.0, 300.0, 4.0]], dtype=np.float32), (50, 1))
    p = project(X, method="pca", quality=False)
    assert np.isnan(p.params["explained_variance_ratio"]).all() and len(p.params["explained_variance_ratio"]) == 2
    assert p.params["message"] == "all rows are identical: the covariance is zero, so ratios are undefined"
    assert (p.coords == 0).all()


@pytest.mark.parametrize("factor", [1e20, 1e-24])
def test_kind_scale_invariance_pca_explained_variance(factor):
    from sklearn.decomposition import PCA

    X = np.random.default_rng(11).standard_normal((500, 16)) * np.linspace(0.5, 3, 16)
    ref = PCA(2).fit(X)
    p = project((X * factor).astype(np.float32), method="pca", quality=False)
    np.testing.assert_allclose(p.params["explained_variance_ratio"], ref.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_allclose(np.abs(p.coords.astype(np.float64) / factor),
                               np.abs(ref.transform(X)), rtol=0, atol=1e-4 * np.ptp(ref.transform(X)))


def test_kind_degenerate_spectrum_declared_undefined_map_details_text():
    from dashboard.map_panels import parameters_text

    X = np.tile(np.array([[1.5, -2.0, 300.0, 4.0]], dtype=np.float32), (50, 1))
    text = parameters_text(project(X, method="pca", quality=False).params)
    assert ("explained_variance_ratio=undefined (all rows are identical: the covariance is zero, so ratios are "
            "undefined)") in text and "nan" not in text.lower() and "e-15" not in text


def test_kind_silent_except_cache_write_failure_logged(blobs, tmp_path, monkeypatch, caplog):
    """A map that cannot be stored is returned and the failure logged (it was passed over silently)."""
    import logging

    import core.projection as projection
    from core.cache import DiskCache

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(projection, "save_projection", full_disk)
    with caplog.at_level(logging.WARNING, logger="core.projection"):
        p = project_cached(blobs, fingerprint="full", cache=DiskCache(tmp_path))
    np.testing.assert_array_equal(p.coords, project(blobs).coords)
    assert any("No space left on device" in r.getMessage() and "not stored" in r.getMessage()
               for r in caplog.records)
