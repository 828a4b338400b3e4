"""core.quality: trustworthiness (scikit-learn, sampled) and per-point kNN preservation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sk_trustworthiness

from core import EmbedLensInputError
from core.neighbors import knn_graph
from core.quality import knn_preservation, map_neighbors, trustworthiness


def test_an_affine_map_is_perfectly_trustworthy(rng):
    X = rng.standard_normal((80, 2))
    t = trustworthiness(X, 5.0 + X / 10.0, metric="euclidean")
    assert t.value == pytest.approx(1.0) and t.n_neighbors == 15 and not t.sampled


def test_trustworthiness_is_scikit_learns(rng):
    X = rng.standard_normal((120, 8))
    Y = X[:, :2] + 0.3 * rng.standard_normal((120, 2))
    for metric in ("euclidean", "cosine"):
        ours = trustworthiness(X, Y, n_neighbors=7, metric=metric)
        assert ours.value == pytest.approx(sk_trustworthiness(X, Y, n_neighbors=7, metric=metric), abs=1e-12)


def test_large_inputs_are_sampled_and_say_so(rng):
    X = rng.standard_normal((500, 5))
    t = trustworthiness(X, X[:, :2], sample=100, seed=3)
    assert t.sampled and t.n_used == 100 and "on 100 sampled points" in t.label
    rows = np.sort(np.random.default_rng(3).choice(500, 100, replace=False))
    assert t.value == pytest.approx(sk_trustworthiness(X[rows], X[rows, :2], n_neighbors=15, metric="cosine"))


def test_k_is_clipped_for_small_inputs_and_recorded(rng):
    X = rng.standard_normal((9, 3))
    assert trustworthiness(X, X[:, :2]).n_neighbors == 4  # (9 - 1) // 2


def _brute_preservation(X, Y, k):
    def nn(A):
        D = ((A[:, None, :] - A[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(D, np.inf)
        return np.argsort(D, axis=1, kind="stable")[:, :k]

    hi, lo = nn(X), nn(Y)
    return np.array([len(set(a) & set(b)) / k for a, b in zip(hi, lo)])


def test_preservation_matches_a_direct_count(rng):
    X = rng.standard_normal((150, 6))
    Y = X[:, :2] + 0.2 * rng.standard_normal((150, 2))
    g = knn_graph(X, k=10, metric="euclidean")
    np.testing.assert_allclose(knn_preservation(g, Y), _brute_preservation(X, Y, 10))
    np.testing.assert_allclose(knn_preservation(g.indices, Y, k=4), _brute_preservation(X, Y, 4))


def test_a_map_that_is_the_data_preserves_everything(rng):
    X = rng.standard_normal((60, 2))
    g = knn_graph(X, k=5, metric="euclidean")
    assert (knn_preservation(g, X) == 1.0).all()


def test_shuffled_maps_preserve_little(rng):
    X = rng.standard_normal((400, 5))
    g = knn_graph(X, k=10, metric="euclidean")
    p = knn_preservation(g, rng.permutation(X[:, :2]))
    assert p.mean() < 0.1  # chance is k / n = 0.025


def test_duplicates_in_the_map_do_not_count_the_point_itself(small_matrix):
    Y = np.zeros((40, 2), np.float32)  # every point on one spot
    nb = map_neighbors(Y, k=3)
    assert not (nb == np.arange(40)[:, None]).any()


def test_preservation_checks_its_inputs(rng):
    X = rng.standard_normal((30, 3))
    g = knn_graph(X, k=5)
    with pytest.raises(EmbedLensInputError, match="neighbors has 30 rows but the map has 20"):
        knn_preservation(g, X[:20, :2])
    with pytest.raises(EmbedLensInputError, match="k=9 must be between 1 and the neighbour lists' length 5"):
        knn_preservation(g, X[:, :2], k=9)


# --------------------------------------------------------------------------- issue 10: kinds

_SCALES = [1e-30, 1e-20, 1.0, 1e19, 1e20, 1e30]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("scale", _SCALES)
def test_kind_scale_invariance_trustworthiness(scale, metric):
    """Trustworthiness of Y * s is scikit-learn's on the unscaled float64 data; the map too may
    come at any scale."""
    Y = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    M = Y[:, :2] + 0.3 * Y[:, 2:4]
    ref = sk_trustworthiness(Y.astype(np.float64), M.astype(np.float64), n_neighbors=10, metric=metric)
    s = np.float32(scale)
    got = trustworthiness(Y * s, M * s, n_neighbors=10, metric=metric).value
    assert got == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("scale", _SCALES)
def test_kind_scale_invariance_knn_preservation(scale):
    Y = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    M = Y[:, :2] + 0.3 * Y[:, 2:4]
    s = np.float32(scale)
    ref = knn_preservation(knn_graph(Y, k=5, metric="euclidean"), M)
    np.testing.assert_array_equal(knn_preservation(knn_graph(Y * s, k=5, metric="euclidean"), M * s), ref)


def test_kind_incomplete_neighbour_graph_knn_preservation():
    idx = np.array([[1, 2], [0, -1], [0, 1], [1, 2]])
    with pytest.raises(EmbedLensInputError, match="-1"):
        knn_preservation(idx, np.random.default_rng(0).standard_normal((4, 2)))


def _calls(path, names):
    import ast

    return [n.func.id if isinstance(n.func, ast.Name) else n.func.attr
            for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
            and (getattr(n.func, "id", None) in names or getattr(n.func, "attr", None) in names)]


def test_kind_written_twice_map_quality_scored_only_in_core_quality():
    """trustworthiness / kNN preservation of a map are computed in core/quality.py only (map_quality)."""
    from pathlib import Path

    core_dir = Path(__file__).resolve().parents[2] / "core"
    callers = {p.name: _calls(p, {"trustworthiness", "knn_preservation", "sk_trustworthiness"})
               for p in core_dir.rglob("*.py") if p.name != "quality.py"}
    assert {k: v for k, v in callers.items() if v} == {}


def test_kind_written_twice_map_quality_same_rule_for_single_and_aligned_maps(rng):
    """Single and aligned (AlignedUMAP) maps are scored alike: scikit-learn's trustworthiness, a
    direct count of kept neighbours, and no scores below 8 points for either."""
    from sklearn.neighbors import NearestNeighbors

    from core.alignment import align_projections
    from core.projection import project

    X = rng.standard_normal((120, 6)).astype(np.float32)
    g = knn_graph(X, k=15, metric="euclidean", method="exact")
    single = project(X, method="pca", graph=g)
    aligned = align_projections([X, X[:, ::-1].copy()], method="umap", metric="euclidean", n_epochs=5,
                                graphs=[g, None])[0]
    for m in (single, aligned):
        Y = m.coords.astype(np.float64)
        expected = sk_trustworthiness(X.astype(np.float64), Y, n_neighbors=15, metric="euclidean")
        assert m.trust.value == pytest.approx(expected, abs=1e-9)
        low = NearestNeighbors(n_neighbors=16).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
        direct = [len(set(g.indices[i, :15]) & set(low[i])) / 15 for i in range(120)]
        np.testing.assert_allclose(m.preservation, direct)
        assert m.preservation_k == 15
    tiny = X[:7]
    assert project(tiny, method="umap", n_epochs=5).trust is None
    maps = align_projections([tiny, tiny[:, ::-1].copy()], method="umap", n_epochs=5)
    assert [(m.trust, m.preservation, m.preservation_k) for m in maps] == [(None, None, None)] * 2
