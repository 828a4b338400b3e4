"""class_diversity, Schur-complement entropy and defocus on dask arrays give the in-memory numbers.

Data are split into uneven chunks (37, 101, 500, 1, ... rows), X dask with Y numpy and both dask;
references are the numpy path (1e-10 relative) and direct float64 computations: the vendi-score
package's ``score_dual`` / ``score_K``, scipy's eigvalsh of each class's gram of unit rows, a direct
log-determinant for the coding rate, and the Schur complement with ``numpy.linalg.pinv`` (or the
ridge solve) of moments summed over the pairs in one numpy product. Skipped where dask is absent.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.distance import pdist, squareform

import core.outofcore
from core import NonFiniteRowsError, EmbedLensInputError, class_diversity, defocus, schur_complement_entropy
from core._sampling import subsample

pytestmark = pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="dask is not installed")

from .test_dask import RTOL, _uneven  # noqa: E402  (the uneven chunks of the other dask tests)

N, D = 1500, 20
COLUMNS = ["class", "n", "n_class", "vendi", "coding_rate", "vendi_method", "seed"]


@pytest.fixture(scope="module")
def labelled():
    """1,500 x 20 float64 far from the origin: five classes, unlabelled rows, two zero rows in class 0..4,
    a class "zeros" of three zero rows and a class "solo" of one row."""
    rng = np.random.default_rng(11)
    y = rng.integers(0, 5, N)
    X = rng.standard_normal((N, D)) + 3.0 * rng.standard_normal((5, D))[y] + 50.0
    labels = y.astype(object)
    labels[::97] = None
    X[[5, 6]] = 0.0
    labels[[40, 41, 42]] = "zeros"
    X[[40, 41, 42]] = 0.0
    labels[1499] = "solo"
    return X, labels


def _lazy(X, how):
    return {"x": _uneven(X, (37, 101, 500, 1)), "other": _uneven(X, (400, 3)), "numpy": X}[how]


def _same_table(got, expected, *, methods=True):
    assert got.columns.tolist() == expected.columns.tolist() == COLUMNS
    assert got["class"].tolist() == expected["class"].tolist()
    for name in ("n", "n_class"):
        assert got[name].tolist() == expected[name].tolist(), name
    for name in ("vendi", "coding_rate"):
        np.testing.assert_allclose(got[name], expected[name], rtol=RTOL, err_msg=name)
    if methods:
        assert got["vendi_method"].tolist() == expected["vendi_method"].tolist()
    assert [s is None or s != s for s in got["seed"]] == [s is None or s != s for s in expected["seed"]]


def _unit_nonzero(A):
    A = A[np.any(A != 0, axis=1)].astype(np.float64)
    return A / np.linalg.norm(A, axis=1, keepdims=True)


# --------------------------------------------------------------------------- class_diversity


@pytest.mark.parametrize("q", [1.0, 2.0])
def test_class_diversity_cosine_equals_the_in_memory_one_and_eigvalsh(labelled, q):
    vendi = pytest.importorskip("vendi_score.vendi")
    X, labels = labelled
    expected = class_diversity(X, labels, q=q, eps2=0.3)
    got = class_diversity(_uneven(X), labels, q=q, eps2=0.3)
    # the solo class (1 row <= d) takes the n x n form in memory; a dask array has its 1 x ... gram: d x d
    _same_table(got, expected, methods=False)
    assert set(got["vendi_method"].dropna()) == {"dual d x d"}
    zeros = got[got["class"] == "zeros"].iloc[0]
    assert (zeros["n"], zeros["n_class"]) == (0, 3) and np.isnan(zeros["vendi"]) and np.isnan(zeros["coding_rate"])
    solo = got[got["class"] == "solo"].iloc[0]
    assert (solo["n"], solo["vendi"]) == (1, pytest.approx(1.0, rel=1e-12))
    # independent: each class's gram of unit rows (zero rows left out), scipy eigvalsh, Hill number;
    # q = 1 also the vendi-score package; the coding rate as a direct log-determinant
    for row in got.itertuples():
        if row[1] == "zeros":
            continue
        U = _unit_nonzero(X[labels == row[1]])
        assert row.n == len(U)
        w = np.clip(scipy.linalg.eigvalsh(U.T @ U / len(U)), 0, None)
        p = w[w > 1e-14] / w.sum()
        direct = np.exp(-(p * np.log(p)).sum()) if q == 1 else 1 / (p**2).sum()
        assert row.vendi == pytest.approx(direct, rel=1e-9)
        if q == 1:
            assert row.vendi == pytest.approx(vendi.score_dual(U), rel=1e-9)
        rate = 0.5 * np.linalg.slogdet(np.eye(D) + D / (len(U) * 0.3) * U.T @ U)[1]
        assert row.coding_rate == pytest.approx(rate, rel=1e-9)


def _spy_read_rows(monkeypatch):
    """Record the rows each call of core._dask.take_rows (every read of a dask view's sample) is asked for."""
    asked = []
    real = core._dask.take_rows

    def spy(X, rows):
        asked.append(np.asarray(rows).copy())
        return real(X, rows)

    monkeypatch.setattr(core._dask, "take_rows", spy)
    return asked


@pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")  # inside vendi-score
def test_class_diversity_rbf_reads_only_its_samples(labelled, monkeypatch):
    vendi = pytest.importorskip("vendi_score.vendi")
    X, labels = labelled
    X = X.astype(np.float32)  # read_rows serves float32 views
    expected = class_diversity(X, labels, kernel="rbf", max_n=200, q=2.0)
    asked = _spy_read_rows(monkeypatch)
    got = class_diversity(_uneven(X), labels, kernel="rbf", max_n=200, q=2.0)
    _same_table(got, expected)
    assert got["vendi_method"].tolist()[:5] == ["seeded uniform subsample"] * 5
    assert got["n"].tolist()[:5] == [200] * 5 and got["seed"].tolist()[:5] == [0] * 5
    # the rows read: the bandwidth's seeded 1,000 of all rows, then each non-empty class's sample
    codes = {c: np.flatnonzero(labels == c) for c in got["class"]}
    wanted = [subsample(N, 1000, seed=0).rows] + [m[subsample(len(m), 200, seed=0).rows] for c, m in codes.items()
                                                   if c != "zeros"]
    assert len(asked) == len(wanted) and sum(len(a) for a in asked) == 1000 + 4 * 200 + 1 + 200
    for a, b in zip(asked, wanted):
        np.testing.assert_array_equal(a, b)
    # independent: the median heuristic by scipy's pdist (pairs apart: the zero rows' pairs are not),
    # the RBF kernel of each sample, vendi-score's score_K
    dist = pdist(X[wanted[0]].astype(np.float64))
    h = np.median(dist[dist > 0])
    for row, rows in zip(got.itertuples(), wanted[1:]):
        Z = X[rows].astype(np.float64)
        K = np.exp(-squareform(pdist(Z, "sqeuclidean")) / (2 * h * h))
        assert row.vendi == pytest.approx(vendi.score_K(K, q=2.0), rel=1e-8), row[1]


def test_class_diversity_rbf_float64_and_a_given_bandwidth(labelled, monkeypatch):
    """float64 rows keep their dtype (core._dask.take_rows); classes below max_n: n x n, reading only samples."""
    X, labels = labelled
    asked = _spy_read_rows(monkeypatch)
    for options in ({"max_n": 300}, {"bandwidth": 4.0}):
        expected = class_diversity(X, labels, kernel="rbf", **options)
        _same_table(class_diversity(_uneven(X, (400, 3)), labels, kernel="rbf", **options), expected)
    assert asked and all(len(a) <= 1000 for a in asked)  # the bandwidth's sample, each class's rows; never all
    assert set(expected["vendi_method"].dropna()) == {"exact n x n"}


@pytest.mark.parametrize("scale", [1e-30, 1e30])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_diversity_at_any_scale(labelled, scale, dtype):
    X, labels = labelled
    Xs = (X * scale).astype(dtype)
    for kernel in ("cosine", "rbf"):
        got = class_diversity(_uneven(Xs), labels, kernel=kernel, max_n=200)
        _same_table(got, class_diversity(Xs, labels, kernel=kernel, max_n=200), methods=kernel == "rbf")
        unscaled = class_diversity(X.astype(dtype).astype(np.float64), labels, kernel=kernel, max_n=200)
        np.testing.assert_allclose(got["vendi"], unscaled["vendi"], rtol=1e-5 if dtype == np.float32 else 1e-9)
        np.testing.assert_allclose(got["coding_rate"], unscaled["coding_rate"],
                                   rtol=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("kernel", ["cosine", "rbf"])
def test_class_diversity_names_nonfinite_rows(labelled, kernel, monkeypatch):
    X = labelled[0].copy()
    X[[10, 1200]] = np.nan
    X[700, 3] = -np.inf
    asked = _spy_read_rows(monkeypatch)
    message = r"3 of 1,500 rows hold NaN or inf \(rows 10, 700, 1200\)"
    with pytest.raises(NonFiniteRowsError, match=message):
        class_diversity(X, labelled[1], kernel=kernel)
    with pytest.raises(NonFiniteRowsError, match=message) as err:
        class_diversity(_uneven(X.astype(np.float32)), labelled[1], kernel=kernel)
    assert err.value.rows.tolist() == [10, 700, 1200] and err.value.source == "X"
    assert not asked  # refused by the pass, before any sample is read
    with pytest.raises(EmbedLensInputError, match="labels have 3 entries but X has 1500 rows"):
        class_diversity(_uneven(labelled[0]), [1, 2, 3])


# --------------------------------------------------------------------------- Schur-complement entropy


@pytest.fixture(scope="module")
def paired():
    """1,200 pairs: T (6-D), I (7-D) sharing three directions with T, a zero image row and a zero text row."""
    rng = np.random.default_rng(5)
    T = rng.standard_normal((1200, 6)) + 0.5
    I = np.hstack([T[:, :3], rng.standard_normal((1200, 4))]) + 0.3
    I[5] = 0.0
    T[9] = 0.0
    return I, T


def _direct_sce(I, T, *, kernel="linear", sigma=2.0, n_features=16, seed=0, ridge_factor=None):
    """The Schur complement from its definition: features of unit rows of the pairs without a zero row,
    C = Phi^T Phi / n in one float64 product, S = C_II - C_TI^T pinv(C_TT) C_TI (or the ridge solve)."""
    keep = np.any(I != 0, axis=1) & np.any(T != 0, axis=1)
    UI, UT = _unit_nonzero(I[keep]), _unit_nonzero(T[keep])
    if kernel == "rff":
        rng = np.random.default_rng(seed)
        W_I = rng.standard_normal((I.shape[1], n_features)) / sigma
        W_T = W_I if I.shape[1] == T.shape[1] else rng.standard_normal((T.shape[1], n_features)) / sigma
        UI, UT = (np.hstack([np.cos(U @ W), np.sin(U @ W)]) / np.sqrt(n_features) for U, W in ((UI, W_I), (UT, W_T)))
    n = len(UI)
    C_TT, C_TI, C_II = UT.T @ UT / n, UT.T @ UI / n, UI.T @ UI / n
    if ridge_factor:
        A = np.linalg.solve(C_TT + ridge_factor * np.trace(C_TT) / n * np.eye(len(C_TT)), C_TI)
    else:
        A = np.linalg.pinv(C_TT) @ C_TI
    S = C_II - C_TI.T @ A
    lam = np.clip(np.linalg.eigvalsh((S + S.T) / 2), 1e-10, None)
    return np.exp(-(lam * np.log(lam / lam.sum())).sum()), np.trace(S), n


def _pairs(I, T):
    return {"x dask": (_lazy(I, "x"), T), "both dask": (_lazy(I, "x"), _lazy(T, "other")),
            "y dask": (I, _lazy(T, "other"))}


@pytest.mark.parametrize("how", ["x dask", "both dask", "y dask"])
@pytest.mark.parametrize("kernel", ["linear", "rff"])
def test_sce_equals_the_in_memory_one_and_the_direct_schur_complement(paired, how, kernel):
    I, T = paired
    options = {"kernel": kernel, "sigma": 2.0, "n_features": 16}
    expected = schur_complement_entropy(I, T, **options)
    got = schur_complement_entropy(*_pairs(I, T)[how], **options)
    for name in ("score", "trace_s", "text_score", "trace_d"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name), rel=RTOL), name
    np.testing.assert_allclose(got.eigenvalues, expected.eigenvalues, rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(got.text_map, expected.text_map, rtol=1e-9, atol=1e-12)
    assert got.params["engine"] == "dask" and got.params["chunks"] == (5 if how != "y dask" else 3)
    assert {k: v for k, v in got.params.items() if k not in ("engine", "chunks", "ridge", "inverse")} == {
        k: v for k, v in expected.params.items() if k not in ("ridge", "inverse")}
    assert got.params["n"] == 1198 and got.params["zero_rows_left_out"] == 2  # row 5 (image) and 9 (text)
    score, trace_s, _ = _direct_sce(I, T, kernel=kernel, ridge_factor=1.0 if kernel == "rff" else None)
    assert got.score == pytest.approx(score, rel=1e-8) and got.trace_s == pytest.approx(trace_s, rel=1e-8)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_sce_at_any_scale(paired, scale):
    I, T = paired
    for dtype in (np.float32, np.float64):
        Is, Ts = (I * scale).astype(dtype), (T * scale).astype(dtype)
        got = schur_complement_entropy(_lazy(Is, "x"), _lazy(Ts, "other"))
        assert got.score == pytest.approx(schur_complement_entropy(Is, Ts).score, rel=RTOL)
        exact = _direct_sce(I.astype(dtype).astype(np.float64), T.astype(dtype).astype(np.float64))[0]
        assert got.score == pytest.approx(exact, rel=1e-5 if dtype == np.float32 else 1e-9)


def test_sce_refuses_nonfinite_rows_and_unpaired_views(paired):
    I, T = paired
    bad = I.copy()
    bad[[800, 1100]] = np.nan
    with pytest.raises(NonFiniteRowsError, match=r"2 of 1,200 rows hold NaN or inf \(rows 800, 1100\)") as err:
        schur_complement_entropy(_lazy(bad, "x"), T)
    assert err.value.source == "X_image" and err.value.rows.tolist() == [800, 1100]
    bad_text = T.copy()
    bad_text[3, 2] = np.inf
    with pytest.raises(NonFiniteRowsError, match=r"1 of 1,200 rows holds NaN or inf \(row 3\)") as err:
        schur_complement_entropy(_lazy(I, "x"), bad_text)  # numpy text checked in memory, as check_paired does
    assert err.value.source == "X_text"
    with pytest.raises(NonFiniteRowsError, match=r"\(row 3\)") as err:
        schur_complement_entropy(_lazy(I, "x"), _lazy(bad_text, "other"))
    assert err.value.source == "X_text"
    with pytest.raises(EmbedLensInputError, match="X_image has 1200 rows but X_text has 1199"):
        schur_complement_entropy(_lazy(I, "x"), T[:-1])
    with pytest.raises(EmbedLensInputError, match="every pair has a zero vector"):
        schur_complement_entropy(_uneven(np.zeros((50, 3)), (7,)), np.ones((50, 2)))


def test_a_pair_with_one_row(paired):
    I, T = paired
    got = schur_complement_entropy(_uneven(I[:1], ()), T[:1])
    expected = schur_complement_entropy(I[:1], T[:1])
    assert got.score == pytest.approx(expected.score, rel=RTOL) and got.params["n"] == 1


# --------------------------------------------------------------------------- defocus


@pytest.mark.parametrize("kernel", ["linear", "rff"])
def test_defocus_is_lazy_and_equals_the_in_memory_rows(paired, kernel):
    import dask.array as da

    I, T = paired
    options = {"kernel": kernel, "sigma": 2.0, "n_features": 16}
    expected = defocus(I, T, **options)
    for lazy in _pairs(I, T).values():
        got = defocus(*lazy, **options)
        assert isinstance(got, da.Array) and got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got.compute(), expected, rtol=1e-6, atol=1e-7)
    sce = schur_complement_entropy(_lazy(I, "x"), T, **options)  # the fitted map: no pass at all
    got = defocus(_lazy(I, "x"), _lazy(T, "other"), sce=sce)
    np.testing.assert_allclose(got.compute(), expected, rtol=1e-6, atol=1e-7)
    # independent (linear): the covariance of the defocused rows is the Schur complement S
    if kernel == "linear":
        keep = np.any(I != 0, axis=1) & np.any(T != 0, axis=1)
        Xd = got.compute()[keep].astype(np.float64)
        UI, UT = _unit_nonzero(I[keep]), _unit_nonzero(T[keep])
        n = len(UI)
        S = UI.T @ UI / n - (UT.T @ UI / n).T @ np.linalg.pinv(UT.T @ UT / n) @ (UT.T @ UI / n)
        np.testing.assert_allclose(Xd.T @ Xd / n, S, atol=1e-6)


def test_defocus_names_nonfinite_rows(paired):
    I, T = paired
    bad = I.copy()
    bad[[640, 650]] = np.nan
    with pytest.raises(NonFiniteRowsError, match=r"2 of 1,200 rows hold NaN or inf \(rows 640, 650\)"):
        defocus(_lazy(bad, "x"), T)  # the moment pass refuses them
    lazy = defocus(_lazy(bad, "x"), T, sce=schur_complement_entropy(I, T))  # no pass: refused when computed
    with pytest.raises(NonFiniteRowsError, match=r"2 of 561 rows hold NaN or inf in rows 639-1199 of 1200 "
                                                 r"\(rows 640, 650\)") as err:
        lazy.compute()
    assert err.value.source == "X_image"
    np.testing.assert_allclose(lazy[:600].compute(), defocus(I[:600], T[:600], sce=schur_complement_entropy(I, T)),
                               rtol=1e-6, atol=1e-7)  # the other chunks compute
    with pytest.raises(EmbedLensInputError, match="other views"):
        defocus(_lazy(I[:, :3], "x"), T, sce=schur_complement_entropy(I, T))


# --------------------------------------------------------------------------- a real cluster


def test_on_a_real_local_cluster(tmp_path, labelled, paired):
    """Two in-process workers read .npy shards (class_diversity, cosine and RBF; SCE with RFF; defocus)."""
    distributed = pytest.importorskip("distributed")
    from core.outofcore import open_sharded

    X = labelled[0].astype(np.float32)
    for i, (a, b) in enumerate([(0, 37), (37, 138), (138, 900), (900, 1500)]):
        np.save(tmp_path / f"part-{i}.npy", X[a:b])
    view = open_sharded(tmp_path)
    I, T = paired
    options = {"kernel": "rff", "sigma": 2.0, "n_features": 16}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        cosine = class_diversity(view.X, labelled[1])
        rbf = class_diversity(view.X, labelled[1], kernel="rbf", max_n=200)
        sce = schur_complement_entropy(_lazy(I, "x"), _lazy(T, "other"), **options)
        rows = defocus(_lazy(I, "x"), T, sce=sce).compute()
    _same_table(cosine, class_diversity(X, labelled[1]), methods=False)
    _same_table(rbf, class_diversity(X, labelled[1], kernel="rbf", max_n=200))
    assert sce.score == pytest.approx(schur_complement_entropy(I, T, **options).score, rel=RTOL)
    np.testing.assert_allclose(rows, defocus(I, T, **options), rtol=1e-6, atol=1e-7)
