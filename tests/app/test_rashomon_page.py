"""The real app (streamlit AppTest) on the Rashomon page: the swarm, halo and table against direct core
calls, the pair, the link, Stop, and data without labels."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from sklearn.decomposition import PCA

import core
from core import rashomon as R

from .apptest import run_app

PAGE = "app_pages/rashomon.py"
QUICK = {"ds": "digits-mlp", "rnp": "5", "rnpp": "10"}  # 5 / 10 permutations: the page's numbers, quickly
NAMES = tuple(f"PC{i + 1}" for i in range(6))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rashomon-cache")


@pytest.fixture(autouse=True)
def rash_env(monkeypatch, tmp_path, cache_dir):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(cache_dir))  # shared by this module's tests: one set per setting


@pytest.fixture(scope="module")
def digits():
    return core.load(core.sample_data_dir() / "digits-mlp")


@pytest.fixture(scope="module")
def expected(digits):
    """The page's default computation made here with core calls: PCA (scikit-learn, as the page),
    the logistic reference model, its Rashomon set and the FIS with 5 / 10 permutations."""
    X = digits.views[0].X
    F = PCA(n_components=6, random_state=0).fit(X).transform(X).astype(np.float64)
    y = digits.metadata["label"].to_numpy()
    model = R.fit_reference_model(F, y, kind="logistic", seed=0)
    rset = R.rashomon_set(model, F, y, epsilon_rate=0.1, seed=0, feature_names=NAMES)
    fi = R.feature_interactions(rset, F, y, n_permutations=(5, 10), seed=0)
    return rset, fi


def _settle(at, timeout: float = 400.0):
    """Rerun while the Rashomon job computes (the page shows its progress and a Stop button)."""
    end = time.monotonic() + timeout
    while any(b.label == "Stop" for b in at.button):
        if time.monotonic() > end:
            raise AssertionError("the Rashomon job did not finish")
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    if isinstance(value, dict):  # plotly typed array
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def _swarm(at, rows) -> dict:
    return next(c for c in _charts(at) if c["layout"].get("yaxis", {}).get("ticktext") == list(rows))


def _halo(at) -> dict:
    return next(c for c in _charts(at) if "polar" in c["layout"])


def _trace(chart, name) -> dict:
    return next(t for t in chart["data"] if t.get("name") == name)


def _measured(rset, pair) -> np.ndarray:
    h = R.halo_data(rset, pair=pair)
    order = np.argsort(np.degrees(h["theta"].to_numpy()) % 360, kind="stable")
    return h["measured"].to_numpy()[order]


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_swarm_halo_and_table_equal_the_core_calls(expected):
    rset, fi = expected
    at = _settle(run_app(QUICK, page=PAGE))
    summary = R.fis_summary(fi)
    table = at.dataframe[0].value
    assert table["pair"].tolist() == summary["pair"].tolist() and len(table) == 15
    for col in ("reference", "min", "max", "sign_flip_share"):
        np.testing.assert_allclose(table[col].to_numpy(float), summary[col].to_numpy(float), rtol=1e-9, err_msg=col)
    assert table["n_models"].tolist() == summary["n_models"].tolist()
    swarm = _swarm(at, summary["pair"])
    np.testing.assert_allclose(_array(_trace(swarm, "reference model")["x"]), summary["reference"], rtol=1e-9)
    dots = _trace(swarm, "models in the Rashomon set")
    fis = fi.fis[fi.fis["in_set"] & ~fi.fis["reference"]]
    np.testing.assert_allclose(np.sort(_array(dots["x"])), np.sort(fis["fis"]), rtol=1e-9)
    axis = swarm["layout"]["coloraxis"]
    assert axis["cmax"] == pytest.approx(rset.reference_loss + rset.epsilon, rel=1e-12)
    assert axis["cmin"] == pytest.approx(rset.losses[rset.in_set].min(), rel=1e-12)
    halo = _halo(at)
    blue = _trace(halo, f"measured: ε = {rset.epsilon:.4g}")
    np.testing.assert_allclose(_array(blue["r"])[:-1], _measured(rset, ("PC1", "PC2")), rtol=1e-9, atol=1e-12)
    main = _swarm(at, NAMES)
    np.testing.assert_allclose(_array(_trace(main, "reference model")["x"]),
                               fi.main[fi.main["reference"]]["effect"], rtol=1e-9)
    text = _captions(at)
    assert (f"log loss L* = {rset.reference_loss:.5g}, ε = 0.1 × L* = {rset.epsilon:.4g}; 5 / 10 permutations "
            "(features / pairs), seed 0; 1,797 of 1,797 rows.") in text
    assert ("Reference model: logistic regression (scikit-learn, standardised inputs, seed 0) predicting "
            "'label'") in text
    assert rset.label in text
    assert at.query_params["rpr"] == "PC1,PC2" and "rm" not in at.query_params


def test_changing_the_pair_changes_the_halo_and_the_link(expected):
    rset, _fi = expected
    at = _settle(run_app(QUICK, page=PAGE))
    before = _array(_trace(_halo(at), f"measured: ε = {rset.epsilon:.4g}")["r"])
    at.selectbox(key="w.rsh_pair").set_value(("PC2", "PC5")).run()
    halo = _halo(at)
    after = _array(_trace(halo, f"measured: ε = {rset.epsilon:.4g}")["r"])
    np.testing.assert_allclose(after[:-1], _measured(rset, ("PC2", "PC5")), rtol=1e-9, atol=1e-12)
    assert not np.allclose(before, after) and "PC2 × PC5" in halo["layout"]["title"]["text"]
    assert at.query_params["rpr"] == "PC2,PC5"
    band = _swarm(at, R.fis_summary(_fi)["pair"])["layout"]["shapes"][-1]
    k = R.fis_summary(_fi)["pair"].tolist().index("PC2 × PC5")
    assert (band["y0"], band["y1"]) == (k - 0.5, k + 0.5)


def test_a_click_on_a_swarm_row_names_its_pair():
    from dashboard.views.rashomon import pair_from_click

    pairs = [("PC1", "PC2"), ("PC2", "PC5")]
    event = {"selection": {"points": [{"customdata": ["PC2 × PC5", 7, 0.61], "x": 0.1, "y": 1.0}],
                           "point_indices": [3], "box": [], "lasso": []}}
    assert pair_from_click(event, pairs) == ("PC2", "PC5")
    box_first = {"selection": {"points": [{"x": 1.0}, {"customdata": ["PC1 × PC2"]}]}}
    assert pair_from_click(box_first, pairs) == ("PC1", "PC2")  # a box trace's point carries no row
    assert pair_from_click({"selection": {"points": []}}, pairs) is None
    assert pair_from_click({"selection": {"points": [{"customdata": ["PC9 × PC1"]}]}}, pairs) is None
    assert pair_from_click(None, pairs) is None


def test_a_link_reopens_every_rashomon_setting(digits):
    link = {**QUICK, "rp": "4", "rpr": "PC2,PC4", "rab": "1", "rbx": "1", "rout": "1", "rne": "0.5", "rer": "0.2",
            "rs": "3", "rn": "1000", "rrm": "vendi", "rrd": "lower", "rre": "0.5", "rrs": "train_loss"}
    at = _settle(run_app(link, page=PAGE))
    assert not at.warning and not at.error
    for key, value in link.items():
        assert at.query_params[key] == value, key
    assert at.slider(key="w.rsh_p").value == 4 and at.selectbox(key="w.rsh_pair").value == ("PC2", "PC4")
    assert at.checkbox(key="w.rsh_abs").value and at.checkbox(key="w.rsh_box").value
    assert at.multiselect(key="w.rsh_nested").value == [0.5]
    assert at.number_input(key="w.rsh_rows").value == 1000 and at.number_input(key="w.rsh_seed").value == 3
    assert at.selectbox(key="w.rsh_run_metric").value == "vendi"
    pairs = [f"PC{i} × PC{j}" for i in range(1, 5) for j in range(i + 1, 5)]
    swarm = _swarm(at, pairs)
    assert swarm["layout"]["xaxis"]["title"]["text"] == "|FIS|"
    assert sum(t["type"] == "box" for t in swarm["data"]) == 6
    halo = _halo(at)
    measured = [t for t in halo["data"] if t["name"].startswith("measured")]
    assert len(measured) == 2 and measured[1]["line"]["dash"] == "dash"
    eps = float(measured[0]["name"].split("= ")[1])
    assert float(measured[1]["name"].split("= ")[1]) == pytest.approx(eps / 2, rel=1e-3)
    assert "1,000 of 1,797 rows (seeded uniform sample" in _captions(at)
    assert "ε = 0.2 × L*" in _captions(at) and "seed 3" in _captions(at)


def test_bad_link_values_fall_back_with_warnings():
    at = _settle(run_app({**QUICK, "rpr": "PC9,PC1", "rt": "nope", "rm": "svm", "rne": "3.0,0.5", "rf": "nope"},
                         page=PAGE))
    texts = [w.value for w in at.warning]
    assert "Ignored nested ε multiple(s) 3: the page offers 0.25, 0.5, 2, 4." in texts
    assert "Ignored feature column(s) 'nope': not numeric metadata columns of this dataset." in texts
    assert "Ignored rm='svm': rsh model must be one of ['logistic', 'mlp']." in texts
    assert "This dataset has no label column 'nope'; using 'label'." in texts
    assert "The link's pair PC9 × PC1 is not in this set; showing PC1 × PC2." in texts
    assert at.query_params["rpr"] == "PC1,PC2" and at.query_params["rt"] == "label"
    assert at.query_params["rne"] == "0.5" and "rf" not in at.query_params
    assert len([t for t in _halo(at)["data"] if t["name"].startswith("measured")]) == 2


def test_a_link_repeating_a_feature_column_uses_it_once():
    """Found by a new user: rf=ink,ink ended in the error box "feature_names repeats a name"."""
    at = _settle(run_app({**QUICK, "rsrc": "metadata", "rf": "ink,ink", "rt": "split"}, page=PAGE))
    assert "Ignored the repeats of feature column(s) 'ink': each is used once." in [w.value for w in at.warning]
    assert at.query_params["rf"] == "ink" and not at.exception
    # digits-mlp offers one numeric feature column (ink), so the page asks for another, in its own words
    assert [e.value for e in at.error] == ["1 numeric metadata column(s) chosen as features (ink); pick at least 2, "
                                          "or use the view's principal components"]


def test_the_runs_set_and_its_metric_equal_the_core_calls(digits):
    at = _settle(run_app(QUICK, page=PAGE))
    views = [v for v in digits.views if v.layer == "hidden1"]
    eset = R.empirical_rashomon_set({v.name: v.extra["train_loss"] for v in views}, epsilon_rate=0.1)
    chart = next(c for c in _charts(at)
                 if c["layout"].get("xaxis", {}).get("title", {}).get("text") == "Effective rank (singular values)")
    inside = _trace(chart, "within ε of the best")
    members = [digits.view(name) for name in eset.members]
    np.testing.assert_allclose(np.sort(_array(inside["x"])), np.sort([core.effective_rank(v.X) for v in members]),
                               rtol=1e-6)
    assert len(_array(_trace(chart, "the other runs")["x"])) == len(views) - len(members)
    assert eset.label in _captions(at) and "train_loss read as lower is better (by its name)" in _captions(at)
    at.selectbox(key="w.rsh_run_score").set_value("test_accuracy").run()
    eset = R.empirical_rashomon_set({v.name: v.extra["test_accuracy"] for v in views}, epsilon_rate=0.1,
                                    higher_is_better=True)
    assert eset.label in _captions(at) and "test_accuracy read as higher is better" in _captions(at)


def test_stop_then_run_again():
    at = run_app({**QUICK, "rnp": "100", "rnpp": "300", "rs": "11"}, page=PAGE)  # long enough to stop
    at.button(key=next(b.key for b in at.button if b.label == "Stop")).click().run()
    end = time.monotonic() + 60
    while any(b.label == "Stop" for b in at.button) and time.monotonic() < end:
        time.sleep(0.5)
        at.run()
    assert any("cancelled: stopped" in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("plotly_chart") or not any("polar" in c["layout"] for c in _charts(at))
    at.button(key=next(b.key for b in at.button if b.label == "Run again")).click().run()
    stop = [b for b in at.button if b.label == "Stop"]
    assert stop and not any("cancelled" in e.value for e in at.error)  # computing again
    stop[0].click().run()  # and leave the worker free for the next test


def test_metadata_features_need_two_numeric_columns():
    at = run_app({**QUICK, "rsrc": "metadata"}, page=PAGE)
    assert [e.value for e in at.error] == ["1 numeric metadata column(s) chosen as features (ink); pick at least 2, "
                                           "or use the view's principal components"]
    assert at.multiselect(key="w.rsh_features").options == ["ink"]


def test_a_dataset_without_a_label_column_says_so(isolated_env):
    X = np.random.default_rng(0).standard_normal((60, 5)).astype(np.float32)
    np.save(isolated_env / "plain.npy", X)
    at = run_app(page=PAGE)
    assert any("no metadata column to use as the target" in i.value for i in at.info)
    assert any("records a loss or accuracy" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.error
