"""Rashomon page figures on real numbers: a logistic model of scikit-learn's iris data, its Rashomon
set and FIS (core.rashomon), checked against direct scikit-learn computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import log_loss

from core import rashomon as R
from dashboard.figures import rashomon as fr

PERMS = (6, 12)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    model = R.fit_reference_model(X, y, kind="logistic", seed=0)
    rset = R.rashomon_set(model, X, y, epsilon_rate=0.1, feature_names=["sl", "sw", "pl", "pw"])
    fi = R.feature_interactions(rset, X, y, n_permutations=PERMS, seed=3)
    return X, y, model, rset, fi


def _loss(model, X, y, m=None) -> float:
    """Log loss of f*(m o x), straight from scikit-learn."""
    Xm = X if m is None else X * np.asarray(m)
    return log_loss(y, model.predict_proba(Xm), labels=model.classes_)


def _phi(model, X, y, cols, perms) -> float:
    base = _loss(model, X, y)
    out = []
    for p in perms:
        Xp = X.copy()
        Xp[:, cols] = X[p][:, cols]  # every column of the set moved by the same permutation
        out.append(_loss(model, Xp, y) - base)
    return float(np.mean(out))


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_swarm_star_at_the_reference_fis_from_a_direct_computation(iris):
    X, y, model, rset, fi = iris
    info = fr.swarm_info(R.swarm_data(fi), loss_max=rset.reference_loss + rset.epsilon)
    fig = fr.swarm_figure(info)
    star = _trace(fig, "reference model")
    assert star.marker.symbol == "star"
    rng = np.random.default_rng(3)
    perms = [rng.permutation(len(X)) for _ in range(max(PERMS))]
    names = rset.feature_names
    expected = []
    for i, j in rset.pairs:
        joint = _phi(model, X, y, [i, j], perms[:PERMS[1]])
        expected.append(joint - _phi(model, X, y, [i], perms[:PERMS[0]]) - _phi(model, X, y, [j], perms[:PERMS[0]]))
    assert list(info.rows) == [f"{names[i]} × {names[j]}" for i, j in rset.pairs]
    np.testing.assert_allclose(star.x, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(star.y, np.arange(len(rset.pairs)))  # each star on its own row


def test_swarm_colour_range_is_min_loss_to_l_star_plus_epsilon(iris):
    X, y, model, rset, fi = iris
    data = R.swarm_data(fi)
    info = fr.swarm_info(data, loss_max=rset.reference_loss + rset.epsilon)
    fig = fr.swarm_figure(info)
    L_star = _loss(model, X, y)
    in_set_losses = [_loss(model, X, y, m) for m, ok in zip(rset.multipliers, rset.in_set, strict=True) if ok]
    fis_models = set(fi.fis["model"])  # the reference and the pair models drawn here
    drawn = [_loss(model, X, y, rset.multipliers[k]) for k in sorted(fis_models) if rset.in_set[k]]
    assert fig.layout.coloraxis.cmin == pytest.approx(min(drawn), rel=1e-9)
    assert fig.layout.coloraxis.cmax == pytest.approx(L_star + 0.1 * L_star, rel=1e-9)
    assert min(drawn) >= min(in_set_losses) - 1e-12
    assert fig.layout.coloraxis.colorscale[0][1].lower() == "#2166ac"  # blue ... purple ... red
    assert fig.layout.coloraxis.colorscale[-1][1].lower() == "#b2182b"
    assert fig.layout.coloraxis.colorbar.title.text == "loss"
    inside = _trace(fig, "models in the Rashomon set")
    n_in = int((data["in_set"] & ~data["reference"]).sum())
    assert len(inside.x) == n_in and info.n_hidden == int((~data["in_set"]).sum())
    np.testing.assert_allclose(inside.marker.color, data.loc[data["in_set"] & ~data["reference"], "loss"])
    # a model outside the set is drawn only when asked, as an open circle
    shown = fr.swarm_figure(fr.swarm_info(data, loss_max=rset.reference_loss + rset.epsilon, show_outside=True))
    if info.n_hidden:
        outside = _trace(shown, "joint models above L* + ε")
        assert len(outside.x) == info.n_hidden and outside.marker.symbol == "circle-open"
        assert (np.asarray(outside.marker.color) > rset.reference_loss + rset.epsilon).all()


def test_swarm_rows_clicks_boxes_and_absolute_values(iris):
    _X, _y, _model, rset, fi = iris
    data = R.swarm_data(fi, absolute=True)
    info = fr.swarm_info(data, loss_max=rset.reference_loss + rset.epsilon, absolute=True, box=True,
                         selected="sl × pl")
    fig = fr.swarm_figure(info)
    dots = _trace(fig, "models in the Rashomon set")
    rows = np.round(np.asarray(dots.y)).astype(int)
    assert [c[0] for c in dots.customdata] == [info.rows[r] for r in rows]  # a click names its row
    assert np.all(np.abs(np.asarray(dots.y) - rows) <= 0.4 + 1e-12)  # the beeswarm stays within its row
    assert (np.asarray(dots.x) >= 0).all() and info.x_title == "|FIS|"
    boxes = [t for t in fig.data if t.type == "box"]
    assert len(boxes) == len(info.rows) and boxes[1].orientation == "h"
    np.testing.assert_allclose(sorted(boxes[1].x), sorted(info.x[(info.row_of == 1)]))
    band = fig.layout.shapes[-1]
    k = info.rows.index("sl × pl")
    assert (band.y0, band.y1) == (k - 0.5, k + 0.5)


def test_main_effect_swarm_is_model_reliance_per_feature(iris):
    X, y, model, rset, fi = iris
    info = fr.swarm_info(R.swarm_data(fi, kind="main"), loss_max=rset.reference_loss + rset.epsilon, kind="main")
    assert list(info.rows) == list(rset.feature_names) and info.x_title == "main effect (model reliance)"
    rng = np.random.default_rng(3)
    perms = [rng.permutation(len(X)) for _ in range(PERMS[0])]
    np.testing.assert_allclose(info.reference, [_phi(model, X, y, [i], perms) for i in range(4)], rtol=1e-6)


def test_halo_radii_are_the_measured_loss_rises(iris):
    X, y, model, rset, _fi = iris
    halo = R.halo_data(rset, pair=("sl", "pw"))
    fig = fr.halo_figure(fr.halo_info([(rset.epsilon, halo)], pair=("sl", "pw")))
    blue = _trace(fig, f"measured: ε = {rset.epsilon:.4g}")
    red = _trace(fig, f"additive: ε = {rset.epsilon:.4g}")
    L_star = _loss(model, X, y)
    np.testing.assert_allclose(red.r, L_star * 0.1, rtol=1e-9)  # the additive circle at epsilon
    order = np.argsort(np.degrees(halo["theta"].to_numpy()) % 360, kind="stable")
    direct = []
    for k in order:
        m = np.ones(4)
        m[0], m[3] = halo["m_i"].iloc[k], halo["m_j"].iloc[k]
        direct.append(_loss(model, X, y, m) - L_star)
    assert len(blue.r) == 37  # 36 joint models, closed
    np.testing.assert_allclose(blue.r[:-1], direct, rtol=1e-7, atol=1e-12)
    assert blue.r[-1] == blue.r[0] and blue.theta[-1] == blue.theta[0]
    q = halo["quadrant"].map({s: n for n, s in enumerate(R.QUADRANTS)}).to_numpy()
    theta = np.degrees(np.arctan2(halo["alpha_i"], halo["alpha_j"]) + q * np.pi / 2) % 360
    np.testing.assert_allclose(blue.theta[:-1], np.sort(theta))
    ticks = dict(zip(fig.layout.polar.angularaxis.ticktext, fig.layout.polar.angularaxis.tickvals, strict=True))
    assert ticks == pytest.approx({"++": 45.0, "+-": 135.0, "-+": 225.0, "--": 315.0})


def test_nested_halos_each_at_their_own_epsilon(iris):
    X, y, model, rset, _fi = iris
    wider = R.rashomon_set(model, X, y, epsilon=2 * rset.epsilon, feature_names=rset.feature_names)
    parts = [(rset.epsilon, R.halo_data(rset, pair=(0, 1))), (wider.epsilon, R.halo_data(wider, pair=(0, 1)))]
    info = fr.halo_info(parts, pair=("sl", "sw"))
    fig = fr.halo_figure(info)
    reds = [t for t in fig.data if t.name.startswith("additive")]
    blues = [t for t in fig.data if t.name.startswith("measured")]
    assert [t.r[0] for t in reds] == pytest.approx([rset.epsilon, 2 * rset.epsilon])
    assert blues[0].line.dash == "solid" and blues[1].line.dash == "dash"
    # the wider set's joint models move further, so its halo lies outside on average
    assert np.mean(blues[1].r) > np.mean(blues[0].r)
    assert info.r_max == pytest.approx(max(2 * rset.epsilon, max(blues[1].r)))


def test_beeswarm_spreads_ties_and_leaves_lone_dots_on_the_line():
    off = fr.beeswarm_offsets([1.0, 1.0, 1.0, 1.0, 5.0], lo=1.0, hi=5.0, width=0.4)
    assert off[4] == 0.0 and len(set(np.round(off[:4], 9))) == 4 and np.abs(off).max() <= 0.4
    assert sorted(np.round(off[:4], 9)) == sorted(np.round([0.0, 0.08, -0.08, 0.16], 9))
    np.testing.assert_array_equal(fr.beeswarm_offsets([0.0, 10.0], lo=0.0, hi=10.0), [0.0, 0.0])


def test_runs_strip_puts_the_set_on_the_top_row():
    table = pd.DataFrame({"name": ["a", "b", "c"], "label": ["A", "B", "C"], "score": [0.1, 0.105, 0.4],
                          "value": [3.0, 3.5, 7.0], "member": [True, True, False]})
    info = fr.runs_info(table, metric_title="Effective rank", score_name="train_loss")
    fig = fr.runs_figure(info)
    top, rest = fig.data
    assert list(top.x) == [3.0, 3.5] and list(rest.x) == [7.0] and np.all(np.abs(top.y) < 0.5)
    assert [c[0] for c in top.customdata] == ["A", "B"] and fig.layout.xaxis.title.text == "Effective rank"
