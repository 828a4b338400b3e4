"""core._memory: computations that would build an n x n matrix over the budget refuse before allocating.

Each guarded metric is run under a tiny ``EMBEDLENS_MEMORY_BUDGET_MB``: it must refuse with a
message naming the size and the option that avoids it, and the same call with that option must
run. One subprocess runs under a real address-space limit (``RLIMIT_AS``): there the guard
refuses a diffusion entropy of 20,000 rows (12.8 GB) instead of a ``MemoryError``, and a small
one still runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import core
from core import _memory
from core._memory import MemoryBudgetError, format_bytes, matrix_bytes, memory_budget, require_memory

ROOT = Path(__file__).resolve().parents[2]
rng = np.random.default_rng(0)
X600 = rng.standard_normal((600, 8)).astype(np.float32)
W400 = rng.standard_normal((50, 400))  # wide views: their feature-space Grams (400 x 400 and more) are over 1 MB


@pytest.fixture
def tiny_budget(monkeypatch):
    """A 1 MB budget: a 600 x 600 float64 matrix (2.7 MB) is over it."""
    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "1")


def _refused(call, size: str, avoid: str):
    with pytest.raises(MemoryBudgetError) as info:
        call()
    text = str(info.value)
    assert size in text and avoid in text and "EMBEDLENS_MEMORY_BUDGET_MB=1" in text, text
    assert info.value.needed > info.value.budget == 1 << 20
    assert isinstance(info.value, core.EmbedLensInputError)
    return text


# (name, refused call, text naming the size, the option named, the same call with that option)
CASES = [
    ("dse", lambda: core.diffusion_spectral_entropy(X600), "600 x 600", "max_n",
     lambda: core.diffusion_spectral_entropy(X600, max_n=50)),
    ("dsmi", lambda: core.diffusion_spectral_mutual_info(X600, np.arange(600) % 3), "600 x 600", "max_n",
     lambda: core.diffusion_spectral_mutual_info(X600, np.arange(600) % 3, max_n=60, n_draws=1)),
    ("linear primal spectrum", lambda: core.spectrum(rng.standard_normal((600, 700)), kernel="linear"),
     "600 x 600", "form='dual'", lambda: core.spectrum(rng.standard_normal((600, 30)), kernel="linear")),
    ("rbf spectrum", lambda: core.spectrum(X600, kernel="rbf"), "600 x 600", "max_n",
     lambda: core.spectrum(X600, kernel="rbf", max_n=100)),
    ("rbf random features", lambda: core.spectrum(X600, kernel="rbf", approx="rff", max_n=10, n_features=300),
     "600 x 600", "n_features", lambda: core.spectrum(X600, kernel="rbf", approx="rff", max_n=10, n_features=20)),
    ("vendi rbf", lambda: core.vendi_score(X600, kernel="rbf"), "600 x 600", "max_n",
     lambda: core.vendi_score(X600, kernel="rbf", max_n=100)),
    ("vendi of K", lambda: core.vendi_score_K(np.eye(600)), "600 x 600", "vendi_score",
     lambda: core.vendi_score_K(np.eye(100))),
    ("barcode", lambda: core.separability(X600), "600 x 600", "max_points",
     lambda: core.separability(X600, max_points=60)),
    ("barcode and silhouette", lambda: core.separability(X600[:300], np.arange(300) % 3), "300 x 300",
     "max_points", lambda: core.separability(X600[:300], np.arange(300) % 3, max_points=60)),
    ("trustworthiness", lambda: core.trustworthiness(X600, X600[:, :2]), "600 x 600", "sample",
     lambda: core.trustworthiness(X600, X600[:, :2], sample=80)),
    ("sce rff", lambda: core.schur_complement_entropy(X600, X600, kernel="rff", n_features=300),
     "1,200 x 1,200", "n_features",
     lambda: core.schur_complement_entropy(X600[:200], X600[:200], kernel="rff", n_features=8)),
    # core/similarity.py: RBF CKA's kernels, RSA's distances and ranks, pairwise_matrix's kernels / ranks / Grams
    ("cka rbf", lambda: core.cka(X600, X600[:, ::-1], kernel="rbf"), "600 x 600", "max_n",
     lambda: core.cka(X600, X600[:, ::-1], kernel="rbf", max_n=100)),
    ("rsa", lambda: core.rsa(X600, X600[:, :4]), "600 x 600", "max_n",
     lambda: core.rsa(X600, X600[:, :4], max_n=100)),
    ("pairwise rsa", lambda: core.pairwise_matrix([X600, X600[:, :4], X600[:, 4:]], "rsa"), "179,700 pairs of 600 rows",
     "max_n", lambda: core.pairwise_matrix([X600, X600[:, :4], X600[:, 4:]], "rsa", max_n=100)),
    ("pairwise cka rbf", lambda: core.pairwise_matrix([X600, X600[:, :4]], "cka", kernel="rbf"), "600 x 600",
     "max_n", lambda: core.pairwise_matrix([X600, X600[:, :4]], "cka", kernel="rbf", max_n=100)),
    ("linear cka grams", lambda: core.cka(W400, W400[:, ::-1]), "800 dimensions", "fewer dimensions",
     lambda: core.cka(W400[:, :40], W400[:, 40:80])),
    ("pairwise grams", lambda: core.pairwise_matrix([W400, W400[:, :200], W400[:, 200:]], "procrustes"),
     "800 dimensions", "fewer views", lambda: core.pairwise_matrix([W400[:, :40], W400[:, 40:80]], "procrustes")),
]


@pytest.mark.parametrize("name,call,size,avoid,fixed", CASES, ids=[c[0] for c in CASES])
def test_kind_guarded_metrics_refuse_over_the_budget_and_run_with_the_named_option(tiny_budget, name, call,
                                                                                    size, avoid, fixed):
    _refused(call, size, avoid)
    fixed()  # the option the message names makes it fit


@pytest.fixture(scope="module")
def small_rashomon():
    """A logistic and an MLP Rashomon set over 600 rows x 4 features (built under the machine's budget)."""
    X = np.asarray(X600[:, :4], dtype=np.float64)
    y = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] > 0).astype(int)
    logistic = core.rashomon_set(core.fit_reference_model(X, y), X, y)
    return X, y, logistic


def test_kind_rashomon_permutations_logits_and_batched_predict_are_guarded(monkeypatch, small_rashomon):
    X, y, rset = small_rashomon
    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "1")
    # the permutations: 600 rows x (2 x 100 + 100 + 2 x 30) indices = 1.6 MB
    text = _refused(lambda: core.feature_interactions(rset, X, y), "100 permutations of 600 rows", "n_permutations")
    assert "fewer rows" in text
    # fewer permutations fit; the logits of the reference and single-feature models (600 x 2 each, 8 buffers) do not
    _refused(lambda: core.feature_interactions(rset, X, y, n_permutations=(5, 10)), "models on 600 rows x 2 outputs",
             "fewer rows of X")
    fi = core.feature_interactions(rset, X[:60], y[:60], n_permutations=(5, 10))  # the named option: fewer rows
    assert len(fi.fis) == 37 * len(rset.pairs)
    # any other model (here a plain class around an MLP, so the MLP fast path cannot read its weights):
    # its candidates' inputs are stacked into predict calls
    monkeypatch.delenv("EMBEDLENS_MEMORY_BUDGET_MB")
    mlp = core.fit_reference_model(X[:200], y[:200], kind="mlp")

    class Plain:
        classes_ = mlp.classes_

        def predict_proba(self, Z):
            return mlp.predict_proba(Z)

    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "1")
    _refused(lambda: core.rashomon_set(Plain(), X, y), "batched predict inputs of", "fewer rows of X")


def test_kind_knn_graph_pca_id_and_pca_map_refuse_large_copies(monkeypatch):
    X = rng.standard_normal((20_000, 64)).astype(np.float32)  # 5 MB of data; float64 copies are larger
    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "8")
    _refused_8 = "EMBEDLENS_MEMORY_BUDGET_MB=8"
    for call, words in [
        (lambda: core.knn_graph(X, k=10, method="exact"), ("kNN graph of 20,000 x 64", "a sample")),
        (lambda: core.intrinsic_dimension(X, method="pca"), ("20,000 x 64", "TwoNN")),
        (lambda: core.project(X, method="pca", fit_rows=None, quality=False), ("PCA map", "fit_rows")),
    ]:
        with pytest.raises(MemoryBudgetError) as info:
            call()
        assert all(w in str(info.value) for w in words) and _refused_8 in str(info.value), str(info.value)
    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "64")
    assert core.knn_graph(X[:2000], k=5, method="exact").indices.shape == (2000, 5)
    assert core.project(X, method="pca", fit_rows=2000, quality=False).coords.shape == (20_000, 2)


def test_kind_messages_give_sizes_as_people_write_them():
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * (1 << 20) + (1 << 19)) == "3.5 MB"
    assert format_bytes(matrix_bytes(100_000)) == "74.5 GB"  # 1e10 float64 entries
    assert matrix_bytes(3, 5, itemsize=4, copies=2) == 120
    assert matrix_bytes(10**6, copies=0.5) == 4 * 10**12  # Python ints: no overflow


def test_kind_budget_from_the_environment_and_malformed_values(monkeypatch):
    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "0.5")
    assert memory_budget().nbytes == 1 << 19
    require_memory(1 << 19, what="x", avoid="y")  # at the budget: allowed
    with pytest.raises(MemoryBudgetError, match=r"x needs about 512 kB of memory, over the budget of 512 kB"):
        require_memory((1 << 19) + 1, what="x", avoid="y")
    for bad in ("lots", "-5", "0", "nan", "inf"):
        monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", bad)
        with pytest.raises(core.EmbedLensInputError, match="is not a positive number of megabytes"):
            memory_budget()


def test_kind_default_budget_is_half_the_least_headroom(monkeypatch):
    monkeypatch.delenv("EMBEDLENS_MEMORY_BUDGET_MB", raising=False)
    monkeypatch.setattr(_memory, "_meminfo_available", lambda: 8 << 30)
    monkeypatch.setattr(_memory, "_cgroup_headroom", lambda: None)
    monkeypatch.setattr(_memory, "_address_space_headroom", lambda: None)
    b = memory_budget()
    assert b.nbytes == 4 << 30 and "50% of the 8.0 GB of available memory" in b.source
    monkeypatch.setattr(_memory, "_cgroup_headroom", lambda: 2 << 30)
    assert memory_budget().nbytes == 1 << 30 and "container" in memory_budget().source
    monkeypatch.setattr(_memory, "_address_space_headroom", lambda: 1 << 30)
    assert memory_budget().nbytes == 1 << 29 and "ulimit -v" in memory_budget().source


def test_kind_default_budget_reads_this_machine(monkeypatch):
    """Without limits the default is half of /proc/meminfo's MemAvailable (read here independently)."""
    monkeypatch.delenv("EMBEDLENS_MEMORY_BUDGET_MB", raising=False)
    if not Path("/proc/meminfo").exists():
        pytest.skip("no /proc/meminfo")
    avail = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                 if line.startswith("MemAvailable:"))
    monkeypatch.setattr(_memory, "_cgroup_headroom", lambda: None)
    monkeypatch.setattr(_memory, "_address_space_headroom", lambda: None)
    assert memory_budget().nbytes == pytest.approx(avail / 2, rel=0.2)  # MemAvailable moves a little


_UNDER_RLIMIT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import core
    from core._memory import MemoryBudgetError, memory_budget
    vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
    limit = vm + (1 << 30)  # 1 GB of address space beyond what the interpreter holds now
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    X = np.random.default_rng(0).standard_normal((20_000, 8))
    try:
        np.empty((20_000, 20_000))  # what the metric would build first: the limit is real
        print("UNLIMITED")
    except MemoryError:
        print("MEMORYERROR")
    try:
        core.diffusion_spectral_entropy(X, max_n=20_000)
        print("COMPUTED")
    except MemoryBudgetError as e:
        print("REFUSED", e.needed, e.budget)
        print(e)
    small = core.diffusion_spectral_entropy(X, max_n=1000)
    print("SMALL", small.n_used, round(memory_budget().nbytes / 2**20))
""")


def test_kind_guard_refuses_under_an_address_space_limit(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    env.pop("EMBEDLENS_MEMORY_BUDGET_MB", None)
    out = subprocess.run([sys.executable, "-c", _UNDER_RLIMIT], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "MEMORYERROR", out.stdout  # without the guard the allocation fails
    assert lines[1].startswith("REFUSED"), out.stdout
    needed, budget = map(int, lines[1].split()[1:])
    assert needed == 4 * 20_000**2 * 8 and budget <= 1 << 29  # at most half the 1 GB headroom
    assert "20,000 x 20,000" in lines[2] and "ulimit -v" in lines[2] and "max_n" in lines[2]
    assert lines[3].startswith("SMALL 1000")
