"""core._dask: every sufficient-statistics metric on a dask array gives the in-memory numbers.

Data are split into uneven chunks (37, 101, 500, ... rows); references are the numpy path and a
direct float64 formula (n x n Gram eigenvalues, explicit centring). Skipped where dask is absent,
except the check that core imports without it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import core
from core import (
    EmbedLensInputError,
    NonFiniteRowsError,
    _dask,
    coding_rate,
    effective_rank,
    hill_curve,
    neural_collapse,
    participation_ratio,
    pca_k,
    powerlaw_alpha,
    rankme,
    rate_reduction,
    spectral_profile,
    spectrum,
    stable_rank,
    vendi_score,
)

from .test_spectra import _direct_eigenvalues  # the O(n^3) reference of the in-memory tests

needs_dask = pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="dask is not installed")


def test_the_main_run_has_dask():
    """tests/run.sh installs the `scale` extra into .venv and sets TESTS_REQUIRE_OPTIONAL_LIBS=1, so
    there a missing dask fails instead of skipping every test below."""
    if os.environ.get("TESTS_REQUIRE_OPTIONAL_LIBS") != "1":
        pytest.skip("only the main run (tests/run.sh) requires the scale extra")
    import dask.array  # noqa: F401
    import distributed  # noqa: F401
CHUNKS = (37, 101, 500, 1, 250)
RTOL = 1e-10


def _uneven(X, chunks=CHUNKS):
    import dask.array as da

    rows = list(chunks)
    rows.append(len(X) - sum(rows))
    return da.from_array(X, chunks=(tuple(r for r in rows if r), X.shape[1]))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """1,200 x 24 float64 with correlated columns, a mean far from 0 and two zero rows."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((1200, 24)) @ rng.standard_normal((24, 24)) + 5.0
    X[[3, 700]] = 0.0
    return X


def test_core_imports_and_runs_without_dask():
    code = ("import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None; "
            "sys.modules['distributed'] = None\n"
            "import numpy as np, core\n"
            "assert not core._dask.is_dask(np.eye(3))\n"
            "print(round(core.participation_ratio(np.eye(4)), 6))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3.0"


@needs_dask
@pytest.mark.parametrize("kernel,center", [("linear", True), ("linear", False), ("cosine", True),
                                           ("cosine", False)])
def test_spectrum_equals_the_in_memory_one(data, kernel, center):
    expected = spectrum(data, kernel=kernel, center=center)
    got = spectrum(_uneven(data), kernel=kernel, center=center)
    assert got.form == "dual" and got.params["engine"] == "dask" and got.params["chunks"] == 6
    assert (got.n, got.d, got.params["zero_rows_left_out"]) == (expected.n, expected.d,
                                                                expected.params["zero_rows_left_out"])
    np.testing.assert_allclose(got.eigenvalues, expected.eigenvalues, rtol=RTOL,
                               atol=RTOL * expected.eigenvalues[0])
    direct = _direct_eigenvalues(data, center=center, normalize=kernel == "cosine")[:24]
    np.testing.assert_allclose(got.eigenvalues, direct, rtol=1e-9, atol=1e-9 * direct[0])
    if kernel == "cosine":
        assert got.n == 1198  # the two zero rows have no direction


@needs_dask
def test_wide_data_take_the_n_x_n_form(data):
    X = data[:30, :24].T.copy()  # 24 x 30: n <= d
    got = spectrum(_uneven(X, (7, 9)), kernel="cosine")
    assert got.form == "primal"
    np.testing.assert_allclose(got.eigenvalues, spectrum(X, kernel="cosine").eigenvalues, rtol=RTOL, atol=1e-15)


@needs_dask
def test_every_metric_read_off_the_spectrum(data):
    D = _uneven(data)
    for fn in (participation_ratio, stable_rank, effective_rank, rankme, coding_rate, vendi_score):
        assert fn(D) == pytest.approx(fn(data), rel=RTOL), fn.__name__
    assert pca_k(D, share=0.9) == pca_k(data, share=0.9)
    assert powerlaw_alpha(D).alpha == pytest.approx(powerlaw_alpha(data).alpha, rel=RTOL)
    np.testing.assert_allclose(hill_curve(D).values, hill_curve(data).values, rtol=RTOL)
    assert vendi_score(D, q=2) == pytest.approx(vendi_score(data, q=2), rel=RTOL)


class _Counting:
    """An array-like that counts the rows dask reads from it."""

    def __init__(self, X):
        self.X, self.shape, self.dtype, self.ndim, self.rows = X, X.shape, X.dtype, 2, 0

    def __getitem__(self, key):
        out = self.X[key]
        self.rows += len(out)
        return out


@needs_dask
def test_spectral_profile_reads_the_data_once(data):
    import dask.array as da

    source = _Counting(data)
    D = da.from_array(source, chunks=((37, 101, 500, 562), 24), asarray=True)
    got, expected = spectral_profile(D), spectral_profile(data)
    for name, value in expected.values().items():
        assert got.values()[name] == pytest.approx(value, rel=RTOL), name
    # one pass over the 1,200 rows plus the pilot rows of the shift (the first min(n, 4096));
    # a spectrum per kernel would read 3,600 (the cosine pass takes no pilot)
    assert source.rows == 1200 + 1200


@needs_dask
def test_float32_blocks_as_in_memory(data):
    X = data.astype(np.float32)
    got = spectrum(_uneven(X), precision="float32")
    assert got.params["block_dtype"] == "float32"
    exact = spectrum(X.astype(np.float64), precision="float64").eigenvalues
    np.testing.assert_allclose(got.eigenvalues, exact, rtol=0, atol=1e-5 * exact[0])
    np.testing.assert_allclose(got.eigenvalues, spectrum(X, precision="float32").eigenvalues, rtol=0,
                               atol=1e-5 * exact[0])


@needs_dask
def test_a_mean_that_dwarfs_the_spread_takes_a_second_pass():
    """float32 products after a poor pilot: the first rows sit 1,000 away from the other 99 %, so
    ``|mean - pilot|^2 / tr C`` is about 100 and a second pass about the mean follows (as in memory)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400_000, 4)).astype(np.float32)
    X[:_dask.PILOT_ROWS] += 1000.0
    got = spectrum(_uneven(X, (37, 101, 100_000)), precision="float32")
    assert got.params["second_pass"] is True and got.params["mean_to_variance"] < 1.0
    exact = spectrum(X.astype(np.float64)).eigenvalues
    # float32 products: within their noise floor, 10 eps32 of the largest eigenvalue (Spectrum.rank_tol)
    np.testing.assert_allclose(got.eigenvalues, exact, rtol=0, atol=got.rank_tol)
    assert got.rank_tol == pytest.approx(10 * np.finfo(np.float32).eps * exact[0], rel=1e-3)


@needs_dask
@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_any_float32_scale(data, scale):
    """float32 squares under- or overflow: the rows are divided by an exact power of two first (as in memory)."""
    X = (data * scale).astype(np.float32)
    got = spectrum(_uneven(X), precision="float32")
    expected = spectrum(X, precision="float32")
    assert got.params["rescaled_by"] == expected.params["rescaled_by"] == core._numerics.pow2_scale(X)
    exact = spectrum(X.astype(np.float64) / scale).eigenvalues
    np.testing.assert_allclose(got.eigenvalues / scale**2, exact, rtol=0, atol=got.rank_tol / scale**2)


@needs_dask
def test_rbf_forms_on_a_dask_array(data):
    D = _uneven(data)
    for options in ({"max_n": 300}, {"max_n": 300, "approx": "rff", "n_features": 64}):
        got = spectrum(D, kernel="rbf", **options)
        expected = spectrum(data, kernel="rbf", **options)
        assert got.form == expected.form and got.params["bandwidth"] == expected.params["bandwidth"]
        np.testing.assert_allclose(got.eigenvalues, expected.eigenvalues, rtol=1e-9, atol=1e-12)


@needs_dask
def test_bad_input_is_named(data):
    import dask.array as da

    X = data.copy()
    X[[800, 900]] = np.nan
    with pytest.raises(EmbedLensInputError, match=r"2 of 1,200 rows hold NaN or inf \(rows 800, 900\)"):
        spectrum(_uneven(X))
    with pytest.raises(EmbedLensInputError, match="all 50 rows are zero"):
        spectrum(_uneven(np.zeros((50, 3)), (7,)), kernel="cosine")
    D = _uneven(data)
    with pytest.raises(EmbedLensInputError, match="unknown chunk sizes"):
        spectrum(D[D[:, 0] > 0])
    with pytest.raises(EmbedLensInputError, match="expected numbers"):
        spectrum(da.from_array(np.array([["a", "b"]] * 3)))
    ints = np.arange(60).reshape(20, 3) % 7
    np.testing.assert_allclose(spectrum(_uneven(ints, (7,))).eigenvalues, spectrum(ints).eigenvalues, rtol=RTOL)


@pytest.fixture(scope="module")
def classes():
    """1,500 x 20: five classes, far from the origin, some unlabelled rows and two zero rows."""
    rng = np.random.default_rng(11)
    y = rng.integers(0, 5, 1500)
    X = rng.standard_normal((1500, 20)) + 3.0 * rng.standard_normal((5, 20))[y] + 50.0
    labels = y.astype(object)
    labels[::97] = None
    X[[5, 6]] = 0.0
    return X, labels


@needs_dask
def test_neural_collapse_equals_the_in_memory_one(classes):
    X, labels = classes
    got, expected = neural_collapse(_uneven(X), labels), neural_collapse(X, labels)
    for name in ("nc1", "trace_ratio", "equinorm", "equiangularity", "cdnv_mean"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name), rel=RTOL), name
    np.testing.assert_allclose(got.cdnv, expected.cdnv, rtol=RTOL)
    np.testing.assert_array_equal(got.counts, expected.counts)
    assert got.n_unlabelled == expected.n_unlabelled
    # independent: NC1 straight from its definition with d x d matrices
    keep = np.array([v is not None for v in labels])
    H, y = X[keep], labels[keep].astype(int)
    mus = np.array([H[y == k].mean(axis=0) for k in range(5)])
    mu_G = H.mean(axis=0)
    R = H - mus[y]
    S_W = R.T @ R / len(H)
    M = (mus - mu_G).T
    assert got.nc1 == pytest.approx(np.trace(S_W @ np.linalg.pinv(M @ M.T / 5)) / 5, rel=1e-8)


@needs_dask
def test_class_scatters(classes):
    X, labels = classes
    codes = np.array([-1 if v is None else int(v) for v in labels])
    m = _dask.class_moments(_uneven(X), codes, 5, scatter=True)
    keep = codes >= 0
    means = np.array([X[codes == k].mean(axis=0) for k in range(5)])
    R = X[keep] - means[codes[keep]]
    s = m.scale
    assert s == 64.0  # the power of two above max |x| (60.8)
    np.testing.assert_allclose(m.means * s, means, rtol=1e-12)
    np.testing.assert_allclose(m.scatter * s**2, R.T @ R, rtol=1e-10)
    np.testing.assert_allclose(m.ss * s**2, np.bincount(codes[keep], weights=(R * R).sum(axis=1)), rtol=1e-10)
    np.testing.assert_array_equal(m.counts, np.bincount(codes[keep]))


@needs_dask
def test_neural_collapse_names_nonfinite_rows(classes):
    X = classes[0].copy()
    X[[10, 1200]] = np.inf
    with pytest.raises(NonFiniteRowsError, match=r"2 of 1,500 rows hold NaN or inf \(rows 10, 1200\)") as err:
        neural_collapse(_uneven(X), classes[1])
    assert err.value.rows.tolist() == [10, 1200]


@needs_dask
def test_rate_reduction_equals_the_in_memory_one(classes, monkeypatch):
    X, labels = classes
    expected = rate_reduction(X, labels)
    got = rate_reduction(_uneven(X), labels)
    assert got.delta_r == pytest.approx(expected.delta_r, rel=RTOL)
    assert (got.r, got.rc) == (pytest.approx(expected.r, rel=RTOL), pytest.approx(expected.rc, rel=RTOL))
    np.testing.assert_allclose(got.class_rates, expected.class_rates, rtol=RTOL)
    np.testing.assert_array_equal(got.counts, expected.counts)
    monkeypatch.setattr(_dask, "GRAM_BUDGET_BYTES", 2 * 8 * 20 * 20)  # two classes' grams per pass
    assert rate_reduction(_uneven(X), labels).delta_r == pytest.approx(expected.delta_r, rel=RTOL)


@needs_dask
@pytest.mark.parametrize("lazy", ["both", "x", "none"])
def test_cross_covariance_and_linear_cka(lazy):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((900, 12)) + 1e4  # a large common mean: centring must not cancel
    Y = np.tanh(X[:, :6] - 1e4) @ rng.standard_normal((6, 9)) - 300.0
    args = {"both": (_uneven(X), _uneven(Y, (400,))), "x": (_uneven(X), Y), "none": (X, Y)}[lazy]
    c = _dask.cross_covariance(*args)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    np.testing.assert_allclose(c.xy, Xc.T @ Yc / 900, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.xx, Xc.T @ Xc / 900, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.yy, Yc.T @ Yc / 900, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.mean_x, X.mean(axis=0), rtol=1e-14)
    cka = np.linalg.norm(c.xy) ** 2 / (np.linalg.norm(c.xx) * np.linalg.norm(c.yy))
    # Kornblith et al. (2019) linear CKA via the n x n Gram matrices (HSIC form)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    assert cka == pytest.approx((K * L).sum() / np.sqrt((K * K).sum() * (L * L).sum()), rel=1e-9)
    assert c.params["engine"] == ("numpy" if lazy == "none" else "dask")


@needs_dask
def test_cross_covariance_refuses_bad_pairs():
    X = np.ones((10, 2))
    with pytest.raises(EmbedLensInputError, match="X has 10 rows but Y has 9"):
        _dask.cross_covariance(_uneven(X, (3,)), np.ones((9, 2)))
    Y = np.ones((10, 3))
    Y[4, 1] = np.nan
    with pytest.raises(EmbedLensInputError, match=r"1 of 10 rows holds NaN or inf in X or Y \(row 4\)"):
        _dask.cross_covariance(_uneven(X, (3,)), Y)


@needs_dask
def test_take_rows_and_nonfinite_rows(data):
    D = _uneven(data)
    rows = np.array([1199, 0, 37, 37, 640])
    np.testing.assert_array_equal(_dask.take_rows(D, rows), data[rows])
    X = data.copy()
    X[[36, 37, 1199], 2] = -np.inf
    assert _dask.nonfinite_rows(_uneven(X)).tolist() == [36, 37, 1199]


@needs_dask
def test_a_real_local_cluster(tmp_path, data):
    """Two worker processes read .npy shards themselves (the reader travels by pickle)."""
    distributed = pytest.importorskip("distributed")
    from core.outofcore import open_sharded

    X = data.astype(np.float32)
    for i, (a, b) in enumerate([(0, 37), (37, 138), (138, 900), (900, 1200)]):
        np.save(tmp_path / f"part-{i}.npy", X[a:b])
    view = open_sharded(tmp_path)
    labels = np.arange(1200) % 3
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        got = spectral_profile(view.X)
        nc = neural_collapse(view.X, labels)
        cross = _dask.cross_covariance(view.X, view.X[:, :5])
    for name, value in spectral_profile(X).values().items():
        assert got.values()[name] == pytest.approx(value, rel=1e-9), name
    assert nc.nc1 == pytest.approx(neural_collapse(X, labels).nc1, rel=1e-9)
    Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
    np.testing.assert_allclose(cross.xy, Xc.T @ Xc[:, :5] / 1200, rtol=1e-9, atol=1e-12)


@needs_dask
def test_client_starts_a_local_cluster_or_connects():
    pytest.importorskip("distributed")
    with _dask.client(n_workers=1, threads_per_worker=1, processes=False) as c:
        assert len(c.scheduler_info()["workers"]) == 1
        assert c.dashboard_link.startswith("http")
        with _dask.client(c.scheduler.address) as other:
            assert other.scheduler_info()["id"] == c.scheduler_info()["id"]
            assert participation_ratio(_uneven(np.eye(8)[np.arange(40) % 8], (7,))) == pytest.approx(7.0)
