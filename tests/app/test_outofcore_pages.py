"""The real app (AppTest) on an out-of-core dataset (issue 16): every page works on the declared sample,
the banner says which, and the 'All items' blocks compute exact numbers over every item on Dask."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pandas as pd
import pytest

import core
from dashboard.figures.spectra import fmt

from .apptest import run_app

pytest.importorskip("dask.array")

N, SAMPLE = 3000, 400
PAGES = ["app_pages/data.py", "app_pages/spectra.py", "app_pages/geometry.py", "app_pages/map.py",
         "app_pages/compare.py", "app_pages/rashomon.py"]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "big"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, N)
    centres = rng.normal(size=(4, 12)) * 3
    X = (centres[labels] + rng.normal(size=(N, 12))).astype(np.float32)
    Y = np.tanh(X @ rng.normal(size=(12, 10))).astype(np.float32)
    for name, M in (("layer1", X), ("layer2", Y)):
        (root / name).mkdir(parents=True)
        for i, (s, e) in enumerate([(0, 1000), (1000, 1001), (1001, N)]):
            np.save(root / name / f"part-{i}.npy", M[s:e])
    pd.DataFrame({"label": np.array(["ant", "bee", "cat", "dog"])[labels]}).to_parquet(root / "metadata.parquet")
    (root / "embedlens.toml").write_text(
        'metadata = "metadata.parquet"\n[[views]]\nfile = "layer1"\nlayer = "layer1"\n'
        '[[views]]\nfile = "layer2"\nlayer = "layer2"\n')
    return root, X, Y, np.array(["ant", "bee", "cat", "dog"])[labels]


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path, big):
    monkeypatch.setenv("EMBEDLENS_DATA", str(big[0].parent))
    monkeypatch.setenv("EMBEDLENS_SAMPLE_ROWS", str(SAMPLE))
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMBEDLENS_DASK", "threads")  # dask's threads in this process (no cluster to start)


def _sample(root):
    return core.sample_dataset(core.load(root), size=SAMPLE, seed=0)


def _banner(at) -> str:
    return next(i.value for i in at.info if "Out of core" in i.value)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_on_the_sample_and_says_so(page, big):
    at = run_app({"ds": "big"}, page=page)
    text = _banner(at)
    assert "holds 3,000 items" in text and f"a seeded uniform sample of {SAMPLE} of them (seed 0, without replacement)" in text
    assert not at.error, [e.value for e in at.error]


def _all_items(at, kind: str, timeout: float = 120):
    """Press the 'Compute over all 3,000 items' button of the ``kind`` block and rerun until its job is done."""
    button = next(b for b in at.button if b.key.startswith(f"ooc_go_{kind}_"))
    assert button.label == "Compute over all 3,000 items"
    button.click().run()
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if not any(b.key.startswith(f"ooc_go_{kind}_") for b in at.button) and not at.get("progress"):
            return at
        time.sleep(0.5)
    raise AssertionError("the out-of-core job did not finish")


def _values(at, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label == label]


def test_spectra_cards_over_all_items_are_the_exact_numbers(big):
    root, X, _, _ = big
    sample = _sample(root).view("layer1").X
    at = run_app({"ds": "big", "view": "layer1"}, page="app_pages/spectra.py")
    label = "Participation ratio (covariance)"
    assert _values(at, label) == [fmt(core.participation_ratio(core.spectrum(sample)))]  # the sample only
    at = _all_items(at, "profile")
    full = core.spectrum(X)  # numpy, in memory: the independent path
    assert _values(at, label) == [fmt(core.participation_ratio(core.spectrum(sample))),
                                  fmt(core.participation_ratio(full))]
    assert _values(at, "Effective rank (singular values)")[1] == fmt(core.effective_rank(full))
    assert _values(at, "Coding rate (ε²=0.5)")[1] == fmt(core.coding_rate(X))
    assert _values(at, "Vendi (cosine, q=1)")[1] == fmt(core.vendi_score(X))
    assert any("Covariance: " in c.value and "n = 3,000" in c.value for c in at.caption)


def test_geometry_nc1_over_all_items_and_knn_purity_with_its_interval(big):
    root, X, _, labels = big
    at = run_app({"ds": "big", "view": "layer1", "geo_label": "label"}, page="app_pages/geometry.py")
    at = _all_items(at, "neural_collapse")
    nc = core.neural_collapse(X, labels)
    assert _values(at, "NC1 (4 classes)")[-1] == f"{nc.nc1:.3g}"
    at = _all_items(at, "knn_purity")  # from the exact neighbours (among all items) of a sample
    m = core.sampled_knn_metric(X, kind="knn_purity", labels=labels, k=15, metric="cosine", sample_size=2000,
                                seed=0, stratify=labels)
    card = [c for c in at.metric if c.label == "kNN purity (k=15, cosine)"][-1]
    assert (card.value, card.delta) == (f"{m.value:.3f}", f"± {m.se:.3f}")
    assert any("2,000 of 3,000 items (seed 0)" in c.value for c in at.caption)


def test_map_of_every_item_is_the_sample_fit_extended_by_transform(big):
    root, X, _, labels = big
    at = run_app({"ds": "big", "view": "layer1", "mm": "pca"}, page="app_pages/map.py")
    at = _all_items(at, "umap_extend", timeout=300)
    fig = json.loads(at.get("plotly_chart")[-1].proto.spec)
    m = core.sample_then_extend_umap(X, sample_size=SAMPLE, seed=0, n_neighbors=15, min_dist=0.1, metric="cosine")
    np.testing.assert_array_equal(m.sample_rows, _sample(root).sample.rows)  # fitted on the page's sample
    density = next(t for t in fig["data"] if t.get("name") == "density (all points)")
    z = density["z"]  # plotly's typed array of log(1 + count), float32
    counts = np.expm1(np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).astype(float))
    assert round(counts.sum()) == N  # every item placed: the density counts all 3,000
    expected, _, _ = np.histogram2d(m.coordinates[:, 0], m.coordinates[:, 1], bins=256)
    np.testing.assert_allclose(counts, expected.T.ravel(), atol=1e-3)  # core's map (seeded: deterministic)
    legend = {t["name"].split(" (")[0] for t in fig["data"] if t.get("name")}
    assert {"ant", "bee", "cat", "dog"} <= legend, legend  # the sample on top, coloured by the label column
    assert any("UMAP fitted on 400 of 3,000 rows (seed 0)" in c.value for c in at.caption)


def test_compare_over_all_items_is_exact_where_it_is_a_sum(big):
    _, X, Y, _ = big
    at = run_app({"ds": "big", "view": "layer1", "cv2": "layer2"}, page="app_pages/compare.py")
    at = _all_items(at, "comparisons")
    cka = core.cka(X, Y)  # numpy, in memory: the independent path
    proc = core.procrustes_distance(X, Y, kind="angular")
    cca = core.cca_similarity(X, Y)
    assert _values(at, cka.label)[-1] == f"{float(cka):.3f}"
    assert _values(at, proc.value.label)[-1] == f"{float(proc.value):.3f}"
    assert _values(at, cca.label)[-1] == f"{float(cca):.3f}"
    m = core.sampled_knn_metric(X, kind="mutual_knn", Y=Y, k=10, metric="cosine", sample_size=2000, seed=0)
    card = [c for c in at.metric if c.label == "Mutual kNN (k=10, cosine)"][-1]
    assert (card.value, card.delta) == (f"{m.value:.3f}", f"± {m.se:.3f}")
    sample_cka = core.cka(_sample(big[0]).view("layer1").X, _sample(big[0]).view("layer2").X)
    assert _values(at, cka.label)[0] == f"{float(sample_cka):.3f}"  # the page's own card: the sample


def test_data_page_lists_every_item_and_the_sample(big):
    at = run_app({"ds": "big", "view": "layer1"}, page="app_pages/data.py")
    table = next(d.value for d in at.dataframe if "in sample" in d.value.columns)
    assert table["n"].tolist() == [N, N] and table["in sample"].tolist() == [SAMPLE, SAMPLE]
    assert table["file"].tolist() == ["layer1", "layer2"]
    assert any(h.value.endswith(f"(the {SAMPLE} sampled items)") for h in at.subheader)


def test_links_say_rows_are_positions_in_the_sample(big):
    at = run_app({"ds": "big", "view": "layer1", "mi": "2999"}, page="app_pages/map.py")
    assert any("Ignored inspected item 2999: this dataset has rows 0 to 399 (positions in the pages' sample"
               in w.value for w in at.warning), [w.value for w in at.warning]
    at = run_app({"ds": "big", "view": "layer1", "fp": "deadbeef"}, page="app_pages/map.py")
    assert any("--sample-rows; this one draws 400) draws other items" in w.value for w in at.warning)
