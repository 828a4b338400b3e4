"""The real app (streamlit AppTest) on the Spectra page: sample data, parameters, links, panels."""

from __future__ import annotations

import base64
import json
import threading
import time

import numpy as np
import pytest

import core
from dashboard.figures.spectra import fmt

from .apptest import metric, run_app

PAGE = "app_pages/spectra.py"


@pytest.fixture(scope="module")
def mlp():
    return core.load(core.sample_data_dir() / "digits-mlp")


@pytest.fixture(scope="module")
def paired():
    return core.load(core.sample_data_dir() / "digits-paired")


@pytest.fixture(autouse=True)
def sample_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))  # the metric cache of this test only


def _chart(at, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def _array(value) -> np.ndarray:
    if isinstance(value, dict):  # plotly typed array
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def test_spectra_page_shows_every_metric_of_the_view(mlp):
    at = run_app({"ds": "digits-mlp", "view": "seed1/hidden1/epoch030"}, page=PAGE)
    X = mlp.view("seed1/hidden1/epoch030").X
    s = core.spectrum(X)
    assert at.title[0].value == "Spectra"
    assert metric(at, "Vendi (cosine, q=1)") == fmt(core.vendi_score(X))
    assert metric(at, "Participation ratio (covariance)") == fmt(core.participation_ratio(s))
    assert metric(at, "Effective rank (singular values)") == fmt(core.effective_rank(s))
    assert metric(at, "RankMe (uncentred, ε=1e-7)") == fmt(core.rankme(X))
    assert metric(at, "PCA-k (90% / 95%)") == f"{core.pca_k(s, share=0.9)} / {core.pca_k(s, share=0.95)}"
    fit = core.powerlaw_alpha(s)
    assert metric(at, f"Power-law α (i = {fit.start}–{fit.stop})") == fmt(fit.alpha)
    assert metric(at, "Coding rate (ε²=0.5)") == fmt(core.coding_rate(X))
    assert metric(at, "DSE (σ=10, t=1)") == fmt(core.diffusion_spectral_entropy(X).value)
    assert any("DSE: σ = 10 (given), t = 1, 1,797 of 1,797 rows (seed 0)" in c.value for c in at.caption)
    help_text = next(m for m in at.metric if m.label == "Vendi (cosine, q=1)").help
    assert "exp(H_q(λ(K/n)))" in help_text and "Friedman & Dieng" in help_text
    spectrum_fig = _chart(at, 0)
    assert spectrum_fig["layout"]["xaxis"]["type"] == "log" and spectrum_fig["layout"]["yaxis"]["type"] == "log"
    np.testing.assert_allclose(_array(spectrum_fig["data"][0]["y"]), s.nonzero, rtol=1e-12)
    assert spectrum_fig["data"][1]["name"].startswith("power-law fit<br>α = ")
    # per-class panel (the default) with the first categorical column
    labels = mlp.metadata["label"]
    assert at.query_params["sc"] == "label"
    assert metric(at, "Rate reduction ΔR (ε²=0.5)") == fmt(core.rate_reduction(X, labels).delta_r)
    assert metric(at, "DSMI with the label (σ=10, t=1)") == fmt(core.diffusion_spectral_mutual_info(X, labels).value)
    table = at.dataframe[0].value
    assert table["class"].tolist() == list(range(10))
    np.testing.assert_allclose(table["vendi"], core.class_diversity(X, labels)["vendi"], rtol=1e-12)


def test_changing_parameters_updates_values_and_link(mlp):
    at = run_app({"ds": "digits-mlp", "sn": "300"}, page=PAGE)  # small DSE / DSMI sample: fast
    X = mlp.views[0].X
    at.number_input(key="w.spectra_q").set_value(2.0).run()
    assert not at.exception
    assert at.query_params["sq"] == "2.0"
    assert metric(at, "Vendi (cosine, q=2)") == fmt(core.vendi_score(X, q=2.0))
    at.number_input(key="w.spectra_eps2").set_value(0.1).run()
    assert metric(at, "Coding rate (ε²=0.1)") == fmt(core.coding_rate(X, eps2=0.1))
    at.selectbox(key="w.spectra_class").set_value("split").run()
    assert at.query_params["sc"] == "split"
    assert at.dataframe[0].value["class"].tolist() == ["test", "train"]


def test_a_share_link_reopens_the_parameters(mlp):
    at = run_app({"ds": "digits-mlp", "sq": "0.5", "sk": "rbf", "sn": "400", "ssr": "median", "st": "2"}, page=PAGE)
    assert at.number_input(key="w.spectra_q").value == 0.5
    assert at.selectbox(key="w.spectra_kernel").value == "rbf"
    X = mlp.views[0].X
    assert metric(at, "Vendi (rbf, q=0.5)") == fmt(core.vendi_score(X, q=0.5, kernel="rbf", max_n=400))
    dse = core.diffusion_spectral_entropy(X, sigma="median", t=2, max_n=400)
    assert metric(at, "DSE (σ=median, t=2)") == fmt(dse.value)
    assert any("400 of 1,797 rows" in c.value and "deviation from the paper" in c.value for c in at.caption)
    assert not at.warning


def test_bad_parameters_in_the_link_fall_back_with_warnings(mlp):
    at = run_app({"ds": "digits-mlp", "sq": "-1", "sk": "poly", "st": "abc", "sn": "5"}, page=PAGE)
    texts = [w.value for w in at.warning]
    assert "Ignored sk='poly': spectra kernel must be one of ['cosine', 'rbf']." in texts
    assert "Ignored st='abc': not a valid spectra t." in texts
    assert "Ignored sq=-1.0: spectra q must be between 0.01 and 1000; using 1." in texts
    assert "Ignored sn=5: spectra sample must be between 50 and 10000; using 3000." in texts
    assert at.number_input(key="w.spectra_q").value == 1.0
    assert metric(at, "Vendi (cosine, q=1)") == fmt(core.vendi_score(mlp.views[0].X))
    assert "sq" not in at.query_params and "sn" not in at.query_params


def test_over_training_draws_a_line_per_run_and_layer(mlp):
    at = run_app({"ds": "digits-mlp", "sp": "training", "sm": "vendi", "sn": "300"}, page=PAGE)
    fig = _chart(at, -1)
    assert [t["name"] for t in fig["data"]] == [f"seed{r} · hidden{layer}" for r in range(3) for layer in (1, 2)]
    assert fig["layout"]["xaxis"]["type"] == "log"
    line = fig["data"][3]  # seed1 · hidden2
    np.testing.assert_array_equal(_array(line["x"]), [1, 3, 10, 30, 100])
    expected = [core.vendi_score(mlp.view(f"seed1/hidden2/epoch{e:03d}").X) for e in (1, 3, 10, 30, 100)]
    np.testing.assert_allclose(_array(line["y"]), expected, rtol=1e-12)
    at.selectbox(key="w.spectra_metric").set_value("rate_reduction").run()
    assert not at.exception and at.query_params["sm"] == "rate_reduction"
    y = _array(_chart(at, -1)["data"][0]["y"])
    X = mlp.view("seed0/hidden1/epoch001").X
    assert y[0] == pytest.approx(core.rate_reduction(X, mlp.metadata["label"]).delta_r, rel=1e-12)


def test_paired_views_show_the_sce_panel(paired):
    at = run_app({"ds": "digits-paired", "sp": "paired", "sn": "300"}, page=PAGE)
    image, text = paired.view("image").X, paired.view("text").X
    sce = core.schur_complement_entropy(image, text)
    assert metric(at, "SCE (linear) of image | text") == fmt(sce.score)
    assert metric(at, "tr S (not explained)") == fmt(sce.trace_s)
    assert metric(at, "Text-part score") == fmt(sce.text_score)
    fig = _chart(at, -1)
    assert fig["data"][0]["name"].startswith("S: not explained")
    at.radio(key="w.spectra_sce_kernel").set_value("rff").run()
    assert not at.exception and at.query_params["ssk"] == "rff"
    rff = core.schur_complement_entropy(image, text, kernel="rff", n_features=256)
    assert metric(at, "SCE (rff) of image | text") == fmt(rff.score)
    # the text view is conditioned on the image view the other way round
    at = run_app({"ds": "digits-paired", "view": "text", "sp": "paired", "sn": "300"}, page=PAGE)
    assert metric(at, "SCE (linear) of text | image") == fmt(core.schur_complement_entropy(text, image).score)


def test_a_single_matrix_without_metadata_shows_the_overview_only(isolated_env, rng):
    folder = isolated_env / "plain"
    folder.mkdir()
    X = rng.standard_normal((120, 10)).astype(np.float32)
    X[4] = 0.0  # a zero row: left out of the cosine kernel, and said so
    np.save(folder / "x.npy", X)
    at = run_app({"ds": "plain", "sp": "training"}, page=PAGE)
    assert metric(at, "Vendi (cosine, q=1)") == fmt(core.vendi_score(X))
    assert any("(1 zero row left out: cosine undefined)" in c.value for c in at.caption)
    assert not at.radio  # no class column, no training steps, no paired modality: no panels


@pytest.mark.parametrize(("view", "given"), [("image", "text"), ("text", "image")])
def test_kind_paired_labels_name_the_views_modality(paired, view, given):
    """Every label of the Paired views panel names the modality it is about: the given view's part is
    the explained one and the one removed; no label names the other modality in its place."""
    at = run_app({"ds": "digits-paired", "view": view, "sp": "paired", "sn": "300"}, page=PAGE)
    X, Y = paired.view(view).X, paired.view(given).X
    sce = core.schur_complement_entropy(X, Y)
    labels = [m.label for m in at.metric]
    assert metric(at, f"{given.capitalize()}-part score") == fmt(sce.text_score)
    removed = [lab for lab in labels if lab.endswith("removed")]
    assert removed == [f"Vendi (cosine, q=1), {given} removed"], labels
    assert not any(view in lab.split(" of ")[0] for lab in labels if "part score" in lab or "removed" in lab)
    assert [b.label for b in at.get("download_button")] == ["Metrics (CSV)",  # the overview's cards
                                                             f"{given.capitalize()}-removed embeddings (.npy)"]
    names = [t["name"] for t in _chart(at, -1)["data"]]
    assert names[0].startswith(f"S: not explained by {given}") and names[1].startswith(f"D: explained by {given}")


def _trajectories(at) -> dict[str, dict]:
    """Every trajectory chart by title: {title: {line name: (steps, values)}}."""
    out = {}
    for el in at.get("plotly_chart"):
        fig = json.loads(el.proto.spec)
        title = fig["layout"].get("title", {}).get("text", "")
        if title.endswith("over training"):
            out[title] = {t["name"]: (_array(t["x"]), _array(t["y"])) for t in fig["data"]}
    return out


def _view_name(line: str, step: float) -> str:
    run, layer = line.split(" · ")
    return f"{run}/{layer}/epoch{int(step):03d}"


def test_kind_expensive_trajectory_draws_cheap_first_and_reads_disk_cache(mlp, monkeypatch, tmp_path):
    """Over training with DSE: the first run computes no DSE (a background job does, view by view) and
    draws the cheap covariance metric at once; every DSE value lands in the disk cache, and a fresh
    server (in-memory caches cleared, DSE made to fail) reads the same numbers back from disk."""
    import streamlit as st

    from core.cache import DiskCache

    real, gate, calls = core.diffusion_spectral_entropy, threading.Event(), []

    def gated(X, **kw):
        in_job = threading.current_thread().name.startswith("embedlens-job")
        if in_job:
            gate.wait(300)  # the background job waits until the first run has been checked
        calls.append("job" if in_job else "page")
        return real(X, **kw)

    monkeypatch.setattr(core, "diffusion_spectral_entropy", gated)
    query = {"ds": "digits-mlp", "sp": "training", "sm": "dse", "sn": "120"}
    try:
        at = run_app(query, page=PAGE)
        assert calls == ["page"]  # only the overview card of the current view, no checkpoint's trajectory
        charts = _trajectories(at)
        cheap = next(v for k, v in charts.items() if k.startswith("Effective rank"))
        for line, (steps, values) in cheap.items():
            expected = [core.effective_rank(mlp.view(_view_name(line, s)).X) for s in steps]
            np.testing.assert_allclose(values, expected, rtol=1e-12)
        dse = next(v for k, v in charts.items() if k.startswith("DSE"))
        assert all(np.isnan(y).all() for _x, y in dse.values())  # drawn, empty, filled in as views finish
        assert any(p.proto.text.startswith("DSE") for p in at.get("progress"))
    finally:
        gate.set()
    end = time.monotonic() + 600
    while any(k.startswith("Effective rank") for k in _trajectories(at)):
        assert time.monotonic() < end, "the DSE job did not finish"
        time.sleep(0.5)
        at.run()
    assert not at.exception
    steps_views = [v for v in mlp.views if v.step is not None]
    assert calls.count("job") == len(steps_views)  # once per checkpoint, in the background job
    entries = DiskCache(tmp_path / "cache", namespace="metrics").entries()
    assert len(entries) == len(steps_views)
    first = next(v for k, v in _trajectories(at).items() if k.startswith("DSE"))
    for line, (steps, values) in first.items():
        expected = [real(mlp.view(_view_name(line, s)).X, sigma=10.0, t=1, max_n=120).value for s in steps]
        np.testing.assert_allclose(values, expected, rtol=1e-12)

    calls.clear()
    gate.clear()  # a job started now would block: the reload must not need one
    st.cache_data.clear()
    st.cache_resource.clear()  # a new server: no job registry, no memory of the values
    again = _trajectories(run_app(query, page=PAGE))
    gate.set()
    assert calls == ["page"]  # the overview card of the current view; no checkpoint's DSE again
    assert not any(k.startswith("Effective rank") for k in again)
    second = next(v for k, v in again.items() if k.startswith("DSE"))
    assert second.keys() == first.keys()
    for line in first:
        np.testing.assert_array_equal(second[line][1], first[line][1])


def test_kind_many_classes_spectra_class_column_is_offered(isolated_env):
    """A 200-class label column (over the old 50-level rule) is the Spectra page's class column,
    as on Geometry and the Map; the rate reduction it shows equals core's on those labels."""
    import core
    from tests.metadata_cases import write_many_classes

    X, labels = write_many_classes(isolated_env / "many")
    at = run_app({"sp": "class"}, page="app_pages/spectra.py")
    assert not at.error, [e.value for e in at.error]
    box = at.selectbox(key="w.spectra_class")
    assert box.options[0] == "label" and box.value == "label"
    rr = core.rate_reduction(X, labels, eps2=0.5)
    assert metric(at, [m.label for m in at.metric if m.label.startswith("Rate reduction")][0]) == fmt(rr.delta_r)


# --------------------------------------------------------------------------- kinds (fresh-eyes review)


def _odd_folder(root, rng):
    """The fresh-eyes reviewer's data folder: each .npy its own dataset (named after the file)."""
    Z = np.random.default_rng(0).standard_normal((60, 16))
    np.save(root / "constant.npy", np.ones((50, 8), dtype=np.float32) * 3)
    np.save(root / "big.npy", (Z * 1e20).astype(np.float32))
    np.save(root / "unit.npy", Z.astype(np.float32))
    return root


def test_kind_degenerate_input_label_spectra_page_identical_rows(isolated_env, rng):
    """50 identical rows: α "undefined" under a label with no empty range, DSE exactly 0, and
    the empty spectrum charts say "all rows are identical: nothing to plot"."""
    _odd_folder(isolated_env, rng)
    at = run_app({"ds": "constant.npy"}, page=PAGE)
    assert metric(at, "Power-law α") == "undefined"
    assert not any("i = 1–0" in m.label for m in at.metric)
    assert metric(at, "DSE (σ=10, t=1)") == "0"
    for i in (0, 1):
        notes = [a["text"] for a in _chart(at, i)["layout"].get("annotations", [])]
        assert notes == ["all rows are identical: nothing to plot"]
    assert not [w for w in at.warning if "DSE" in w.value]  # no pair apart: no bandwidth to judge


@pytest.mark.parametrize(("view", "warned"), [("big", True), ("unit", False)])
def test_kind_scale_dependent_bandwidth_spectra_page_warning(isolated_env, rng, view, warned):
    """sigma = 10 against a median pairwise distance of ~5e20: warned, naming the median rule;
    at unit scale no warning."""
    _odd_folder(isolated_env, rng)
    at = run_app({"ds": f"{view}.npy"}, page=PAGE)
    shown = [w.value for w in at.warning if w.value.startswith("DSE: ")]
    assert bool(shown) == warned
    if warned:
        assert "median" in shown[0] and "far below" in shown[0]


def test_kind_raw_column_names_spectra_class_table(mlp):
    """The per-class table has readable headers with help texts, and no column without information
    (seed: nothing sampled; n_class: equal to n); the values stay core.class_diversity's."""
    at = run_app({"ds": "digits-mlp", "sn": "300"}, page=PAGE)
    df = at.dataframe[0]
    assert list(df.value.columns) == ["class", "n", "vendi", "coding_rate", "vendi_method", "dse_class",
                                      "dse_random", "term"]
    X, labels = mlp.views[0].X, mlp.metadata["label"]
    expected = core.class_diversity(X, labels)
    assert expected["seed"].isna().all() and (expected["n"] == expected["n_class"]).all()  # why they are dropped
    np.testing.assert_allclose(df.value["vendi"], expected["vendi"], rtol=1e-12)
    config = {c: v for c, v in json.loads(df.proto.columns).items() if c != "_index"}
    headers = {c: config[c]["label"] for c in config}
    assert headers == {"class": "label", "n": "Rows", "vendi": "Vendi (cosine, q=1)",
                       "coding_rate": "Coding rate (ε²=0.5)", "vendi_method": "Vendi spectrum",
                       "dse_class": "DSE of the class (bits)", "dse_random": "DSE of random rows (bits)",
                       "term": "DSMI term (bits)"}
    assert all(config[c].get("help") for c in config)
