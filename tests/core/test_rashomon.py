"""core.rashomon: the Rashomon set of multiplier models, main effects, FIS, halo and swarm data.

Independent sources: the paper's toy case worked by hand (one point, f = x1 x2 + x1 + x2), closed
forms for an additive model under squared loss, scikit-learn's log_loss / predict_proba on the
permuted data, and a plain model-by-model loop (tests/core/rashomon_loop.py).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, StandardScaler

from core import (
    LOSSES,
    EmbedLensInputError,
    FeatureInteractions,
    RashomonSet,
    Stopped,
    empirical_rashomon_set,
    feature_interactions,
    fis_summary,
    fit_reference_model,
    halo_data,
    rashomon_set,
    swarm_data,
)
from core.rashomon import LEVELS, QUADRANTS

from . import rashomon_loop as loop

EPS = 0.1


class Toy:
    """The paper's toy model f(x) = x1 x2 + x1 + x2, a plain class with predict."""

    def predict(self, X):
        return X[:, 0] * X[:, 1] + X[:, 0] + X[:, 1]


class Additive:
    """f(x) = x1 + x2: no interaction."""

    def predict(self, X):
        return X[:, 0] + X[:, 1]


class Product:
    """f(x) = x1 x2: a pure interaction."""

    def predict(self, X):
        return X[:, 0] * X[:, 1]


class ProbaOnly:
    """Wraps a fitted classifier so that only predict_proba is seen (the batched-predict path)."""

    def __init__(self, model):
        self.model = model
        self.classes_ = model.classes_

    def predict_proba(self, X):
        return self.model.predict_proba(X)


class PredictOnly:
    """Wraps a fitted model so that only predict is seen (the batched-predict path)."""

    def __init__(self, model):
        self.model = model

    def predict(self, X):
        return self.model.predict(X)


class TemperedMLP(MLPClassifier):
    """An MLPClassifier whose predict_proba is not its weights' softmax (temperature 2)."""

    def predict_proba(self, X):
        P = np.sqrt(super().predict_proba(X))
        return P / P.sum(axis=1, keepdims=True)


def _toy_loss(feature, m):
    x = np.ones((1, 2))
    x[0, feature] = m
    return float((3.0 - Toy().predict(x)[0]) ** 2)


@pytest.fixture(scope="module")
def toy() -> RashomonSet:
    return rashomon_set(Toy(), np.array([[1.0, 1.0]]), np.array([3.0]), loss="mse", epsilon=EPS)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:, :6], y


@pytest.fixture(scope="module")
def cancer_model(cancer):
    return fit_reference_model(*cancer)


@pytest.fixture(scope="module")
def cancer_set(cancer, cancer_model):
    return rashomon_set(cancer_model, *cancer)


# --------------------------------------------------------------------------- the paper's toy case


def test_toy_single_multipliers_solve_the_budget_equation_to_the_search_precision(toy):
    """(2 - 2m)^2 = a eps: m = 1 +- sqrt(a eps) / 2, found from below the budget to 1e-4."""
    assert toy.reference_loss == 0.0 and toy.epsilon == EPS
    assert toy.features == (0, 1) and toy.pairs == ((0, 1),)
    for f in (0, 1):
        for s, sign in enumerate((1.0, -1.0)):
            for lv, a in enumerate(LEVELS):
                m = toy.level_multipliers[f, s, lv]
                exact = 1.0 + sign * np.sqrt(a * EPS) / 2
                assert abs(m - exact) <= 1e-4, (f, sign, a, m, exact)
                if a > 0:  # the loss (3 - f(m o x))^2 = (2 - 2m)^2, as the model computes it
                    assert _toy_loss(f, m) < a * EPS  # accepted: strictly within the budget
                    assert _toy_loss(f, m + sign * 1e-4) >= a * EPS  # the last step refused
    assert toy.level_multipliers[0, 0, 10] == pytest.approx(1 + np.sqrt(0.1) / 2, abs=1e-4)  # 1.1581


def test_toy_joint_loss_rise_matches_direct_computation_and_bulges_in_same_sign_quadrants(toy):
    h = halo_data(toy, pair=(0, 1))
    assert len(h) == 36
    u = h["m_i"].to_numpy() - 1
    v = h["m_j"].to_numpy() - 1
    direct = (3 - ((1 + u) * (1 + v) + (1 + u) + (1 + v))) ** 2  # (3 - f(m1, m2))^2 at x = (1, 1)
    np.testing.assert_allclose(h["measured"], direct, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h["measured"], (2 * u + 2 * v + u * v) ** 2, rtol=1e-9, atol=1e-15)
    same = h["quadrant"].isin(["++", "--"]).to_numpy()
    assert (h.loc[same, "measured"] > EPS).all()
    assert (h.loc[~same, "measured"] < EPS).all()
    assert (h["expected"] == EPS).all()
    # the in_set flag says the same: the super-additive models are kept, flagged out of the set
    assert not h.loc[same, "in_set"].any() and h.loc[~same, "in_set"].all()
    # a value worked by hand: split (0.5, 0.5), "++": u = v = sqrt(0.05)/2 -> (2u + 2v + uv)^2 ~ 0.2139
    row = h[(h["alpha_i"] == 0.5) & (h["quadrant"] == "++")].iloc[0]
    w = np.sqrt(0.05) / 2
    assert row["measured"] == pytest.approx((4 * w + w * w) ** 2, abs=2e-3)


def test_toy_set_rows_and_pair_table(toy):
    assert toy.n_models == 1 + 44 + 36
    np.testing.assert_array_equal(toy.multipliers[0], [1.0, 1.0])
    t = toy.pair_table(0, 1)
    assert list(t.columns[:7]) == ["model", "alpha_i", "alpha_j", "quadrant", "m_i", "m_j", "loss"]
    assert list(t["quadrant"][:4]) == list(QUADRANTS)
    np.testing.assert_allclose(t["alpha_i"] + t["alpha_j"], 1.0)
    np.testing.assert_array_equal(toy.pair_multipliers(0, 1)[:, 0], t["m_i"])
    np.testing.assert_array_equal(toy.pair_losses("x0", "x1"), t["loss"])
    # signs of the moves follow the quadrant labels
    assert ((t["m_i"] > 1) == t["quadrant"].str[0].eq("+")).all()
    assert ((t["m_j"] > 1) == t["quadrant"].str[1].eq("+")).all()
    # swapped order: the roles (and labels) swap, the models are the same
    s = toy.pair_table(1, 0)
    np.testing.assert_array_equal(s["m_i"], t["m_j"])
    assert list(s["quadrant"][:4]) == ["++", "-+", "+-", "--"]
    models = toy.models
    assert list(models["kind"].value_counts().sort_index()) == [36, 1, 44]


def test_halo_theta_is_the_budget_angle_plus_a_quarter_turn_per_quadrant(toy):
    for pair in ((0, 1), (1, 0)):
        h = halo_data(toy, pair=pair)
        q = h["quadrant"].map({s: k for k, s in enumerate(QUADRANTS)})
        np.testing.assert_allclose(h["theta"], np.arctan2(h["alpha_i"], h["alpha_j"]) + q * np.pi / 2)
        assert sorted(h["theta"].round(9)) == sorted(set(h["theta"].round(9)))  # 36 distinct directions
    assert halo_data(toy, pair=(0, 1))["theta"].iloc[0] == pytest.approx(np.arctan2(0.1, 0.9))


# --------------------------------------------------------------------------- set membership


def test_every_accepted_model_is_within_its_budget_and_pair_models_are_flagged(cancer_set):
    r = cancer_set
    L, eps = r.reference_loss, r.epsilon
    models = r.models
    single = models[models["kind"] == "single"]
    # each single model is within its own budget level a eps (strict, as the search accepts)
    rise = single["loss"].to_numpy() - L
    assert np.all(rise < single["alpha_i"].to_numpy() * eps + 1e-12)
    assert np.all(single["loss"] <= L + eps) and single["in_set"].all()
    pairs = models[models["kind"] == "pair"]
    assert len(pairs) == 36 * 15
    np.testing.assert_array_equal(pairs["in_set"], pairs["loss"] <= L + eps)
    assert (~pairs["in_set"]).any() and pairs["in_set"].any()  # both kinds occur on this data
    assert (pairs.loc[~pairs["in_set"], "loss"] > L + eps).all()
    # the multipliers move monotonically with the budget level
    lm = r.level_multipliers
    assert np.all(np.diff(lm[:, 0, :], axis=1) >= 0) and np.all(np.diff(lm[:, 1, :], axis=1) <= 0)
    assert r.params["evaluation"] == "coefficients"
    assert r.epsilon == pytest.approx(0.1 * r.reference_loss)


def test_reference_loss_is_sklearns_log_loss(cancer, cancer_model, cancer_set):
    X, y = cancer
    assert cancer_set.reference_loss == pytest.approx(log_loss(y, cancer_model.predict_proba(X)), rel=1e-12)


def test_a_feature_the_model_ignores_leaves_the_set():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(200)
    r = rashomon_set(Additive(), X, y, loss="mse")
    assert r.features == (0, 1) and r.params["dropped"] == ("x2",)
    assert np.isnan(r.level_multipliers[2]).all()
    assert r.pairs == ((0, 1),)
    # the ignored feature's chain did move (loss flat) but its models are not in the set
    assert r.n_models == 1 + 44 + 36


# --------------------------------------------------------------------------- the batched search = the loop


def _compare_with_loop(model, X, y, loss, *, epsilon=None, n_permutations=(2, 3)):
    r = rashomon_set(model, X, y, loss=loss, epsilon=epsilon)
    M, losses, in_set, L_star, eps, kept, pairs = loop.search(model, X, y, loss=loss, epsilon=epsilon)
    assert r.reference_loss == pytest.approx(L_star, rel=1e-12, abs=1e-15)
    assert list(r.features) == kept and list(r.pairs) == pairs
    np.testing.assert_array_equal(r.multipliers, M)  # the same decisions, bit for bit
    np.testing.assert_allclose(r.losses, losses, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(r.in_set, in_set)
    fi = feature_interactions(r, X, y, n_permutations=n_permutations, seed=3)
    main, fis = loop.interactions(model, X, y, M, kept, pairs, loss=loss, n_permutations=n_permutations, seed=3)
    names = list(r.feature_names)
    want = [main[(names.index(f), m)] for f, m in zip(fi.main["feature"], fi.main["model"])]
    np.testing.assert_allclose(fi.main["effect"], want, rtol=1e-9, atol=1e-12)
    want = np.array([fis[(names.index(i), names.index(j), m)] for i, j, m in zip(fi.fis["i"], fi.fis["j"],
                                                                                  fi.fis["model"])])
    np.testing.assert_allclose(fi.fis[["fis", "joint", "main_i", "main_j"]], want, rtol=1e-9, atol=1e-12)
    return r, fi


def test_batched_search_equals_the_model_by_model_loop_logistic_pipeline(cancer):
    X, y = cancer
    X, y = X[:200, :3], y[:200]
    r, _ = _compare_with_loop(fit_reference_model(X, y), X, y, "log_loss")
    assert r.params["evaluation"] == "coefficients"


def test_batched_search_equals_the_loop_multiclass_and_plain_predict_proba():
    X, y = load_iris(return_X_y=True)
    X = X[:, 1:]  # 3 features, 3 classes
    model = fit_reference_model(X, y)
    r, _ = _compare_with_loop(model, X, y, "log_loss")
    assert r.params["evaluation"] == "coefficients"
    r2, _ = _compare_with_loop(ProbaOnly(model), X, y, "log_loss")
    assert r2.params["evaluation"] == "batched predict"
    # the two evaluation paths find the same set
    np.testing.assert_array_equal(r.multipliers, r2.multipliers)
    np.testing.assert_allclose(r.losses, r2.losses, rtol=1e-12)


def test_batched_search_equals_the_loop_toy_and_regression():
    _compare_with_loop(Toy(), np.array([[1.0, 1.0]]), np.array([3.0]), "mse", epsilon=EPS)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 3)) * [1.0, 3.0, 0.5] + [0.0, 2.0, -1.0]
    y = X @ [1.0, -0.5, 2.0] + 0.3 * rng.standard_normal(150)
    model = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    r, _ = _compare_with_loop(model, X, y, "mse")
    assert r.params["evaluation"] == "coefficients"
    r, _ = _compare_with_loop(LinearRegression().fit(X, y), X, y, "mae")


def test_large_logits_take_the_direct_formula_and_the_clip_matches_the_loop():
    """Logits spanning more than 300 (the factorised kernel's safe range) and probabilities below
    1e-15 (clipped): the batched set still equals the loop's. Three classes, so predict_proba is
    a softmax (accurate for tiny probabilities, unlike a binary model's 1 - expit(z))."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((120, 3))
    y = np.digitize(X[:, 0] + 0.3 * rng.standard_normal(120), [-0.5, 0.5])
    clf = LogisticRegression().fit(X, y)
    clf.coef_ = np.array([[-150.0, 1.0, 0.0], [0.0, -1.0, 1.0], [150.0, 0.0, -1.0]])
    r, _ = _compare_with_loop(clf, X, y, "log_loss", n_permutations=(2, 2))
    assert r.params["evaluation"] == "coefficients"
    assert np.ptp(X[:, 0] * 150) > 300 and np.min(clf.predict_proba(X)[np.arange(120), y]) < 1e-15


def test_multipliers_act_on_the_raw_features_before_the_scaler(cancer):
    """A Pipeline's logits for m: the scaler sees m o x (not m o the scaled x)."""
    X, y = cancer
    model = fit_reference_model(X, y)
    r = rashomon_set(model, X, y)
    k = r.single_offset(2) + 10  # feature 2, "+", level 1
    m = r.multipliers[k]
    assert m[2] > 1.0
    assert r.losses[k] == pytest.approx(log_loss(y, model.predict_proba(X * m)), rel=1e-10)


# --------------------------------------------------------------------------- the MLP path


def _fit_quiet(model, X, y):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def iris3():
    X, y = load_iris(return_X_y=True)
    return X[:, 1:], y  # 3 features, 3 classes


def _mlp_three_ways(model, X, y, loss, *, n_permutations=(2, 3)):
    """The MLP path against the plain loop (set, losses, main effects, FIS) and against the
    batched-predict path forced on by a wrapper that hides the MLP."""
    r, fi = _compare_with_loop(model, X, y, loss, n_permutations=n_permutations)
    assert r.params["evaluation"] == "MLP weights" and r.params["fallback"] is None
    assert "MLP weights" in r.label and fi.params["evaluation"] == "MLP weights"
    rb = rashomon_set(ProbaOnly(model) if loss == "log_loss" else PredictOnly(model), X, y, loss=loss)
    assert rb.params["evaluation"] == "batched predict" and rb.params["fallback"] is None
    np.testing.assert_array_equal(r.multipliers, rb.multipliers)
    np.testing.assert_allclose(r.losses, rb.losses, rtol=0, atol=1e-10)
    fb = feature_interactions(rb, X, y, n_permutations=n_permutations, seed=3)
    np.testing.assert_allclose(fi.main["effect"], fb.main["effect"], rtol=0, atol=1e-10)
    cols = ["fis", "joint", "main_i", "main_j"]
    np.testing.assert_allclose(fi.fis[cols], fb.fis[cols], rtol=0, atol=1e-10)
    return r, fi


def test_mlp_path_equals_the_loop_and_batched_predict_multiclass_relu(iris3):
    X, y = iris3
    model = _fit_quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0), X, y)
    r, fi = _mlp_three_ways(model, X, y, "log_loss")
    assert len(r.features) == 3 and (~r.in_set).any()  # pair models beyond L* + eps occur


def test_mlp_path_equals_the_loop_and_batched_predict_scaler_pipeline_tanh(iris3):
    X, y = iris3
    X = X * [1.0, 10.0, 0.1] + [0.0, -20.0, 3.0]  # the scaler matters
    mlp = MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", max_iter=300, random_state=1)
    model = _fit_quiet(make_pipeline(StandardScaler(), mlp), X, y)
    _mlp_three_ways(model, X, y, "log_loss")


def test_mlp_path_equals_the_loop_and_batched_predict_regressor_mse():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 3)) * [1.0, 3.0, 0.5] + [0.0, 2.0, -1.0]
    y = X[:, 0] * X[:, 1] - np.abs(X[:, 2]) + 0.3 * rng.standard_normal(120)
    model = _fit_quiet(make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(8,), max_iter=400,
                                                                    random_state=0)), X, y)
    _mlp_three_ways(model, X, y, "mse")
    bare = _fit_quiet(MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", max_iter=300, random_state=0),
                      X, y)
    r = rashomon_set(bare, X, y, loss="mae")
    assert r.params["evaluation"] == "MLP weights"
    rb = rashomon_set(PredictOnly(bare), X, y, loss="mae")
    np.testing.assert_array_equal(r.multipliers, rb.multipliers)
    np.testing.assert_allclose(r.losses, rb.losses, rtol=0, atol=1e-10)


def test_mlp_path_two_hidden_layers_binary_zero_one_and_logistic_activation(cancer):
    X, y = cancer
    X, y = X[:150, :3], y[:150]
    mlp = MLPClassifier(hidden_layer_sizes=(5, 4), activation="logistic", solver="lbfgs", max_iter=500,
                        random_state=0)
    model = _fit_quiet(make_pipeline(MinMaxScaler(), mlp), X, y)
    assert model.score(X, y) > 0.9
    for loss in ("log_loss", "zero_one"):
        r = rashomon_set(model, X, y, loss=loss, epsilon=0.05 if loss == "zero_one" else None)
        assert r.params["evaluation"] == "MLP weights", r.params["fallback"]
        wrapped = ProbaOnly(model) if loss == "log_loss" else PredictOnly(model)
        rb = rashomon_set(wrapped, X, y, loss=loss, epsilon=0.05 if loss == "zero_one" else None)
        np.testing.assert_array_equal(r.multipliers, rb.multipliers)
        # a saturated binary MLP (scikit-learn 1.5 fits one here: reference log loss ~4.1) has rows with
        # p below ~1e-8, which predict_proba forms as 1 - expit(z) and the weights path from the logit;
        # their logs then differ in the digits predict_proba cannot resolve (DESIGN section 12)
        tol = dict(rtol=1e-4, atol=1e-6) if loss == "log_loss" else dict(rtol=0, atol=1e-10)
        np.testing.assert_allclose(r.losses, rb.losses, **tol)
        fi = feature_interactions(r, X, y, n_permutations=(3, 4), pairs=[(0, 2)])
        fb = feature_interactions(rb, X, y, n_permutations=(3, 4), pairs=[(0, 2)])
        np.testing.assert_allclose(fi.main["effect"], fb.main["effect"], **tol)
        np.testing.assert_allclose(fi.fis["fis"], fb.fis["fis"], **tol)
    assert fi.fis["fis"].abs().max() > 0  # zero-one effects that do not vanish


def test_mlp_multipliers_act_on_the_raw_features_before_two_scalers(cancer):
    """Pipeline(MinMaxScaler, StandardScaler, MLP): the losses of the set's models and the
    reference's permutation effects equal scikit-learn's log_loss of predict_proba(m o x)."""
    X, y = cancer
    model = _fit_quiet(make_pipeline(MinMaxScaler(), StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(7,), max_iter=300, random_state=0)), X, y)
    r = rashomon_set(model, X, y)
    assert r.params["evaluation"] == "MLP weights"
    for k in (r.single_offset(2) + 10, r.single_offset(4) + 21, r.pair_offset(1, 3) + 5):
        m = r.multipliers[k]
        assert not np.all(m == 1.0)
        assert r.losses[k] == pytest.approx(log_loss(y, model.predict_proba(X * m)), rel=1e-10)
    fi = feature_interactions(r, X, y, pairs=[(1, 3)], n_permutations=(4, 4), seed=5)
    rng = np.random.default_rng(5)
    perms = [rng.permutation(len(X)) for _ in range(4)]
    k = r.pair_offset(1, 3) + 5
    m = r.multipliers[k]
    joint = []
    for pi in perms:
        Xp = X.copy()
        Xp[:, [1, 3]] = X[pi][:, [1, 3]]
        joint.append(log_loss(y, model.predict_proba(Xp * m)))
    row = fi.fis[fi.fis["model"] == k].iloc[0]
    assert row["joint"] == pytest.approx(np.mean(joint) - log_loss(y, model.predict_proba(X * m)), rel=1e-9)


def test_mlp_fallbacks_are_taken_and_recorded(iris3):
    X, y = iris3
    tempered = _fit_quiet(TemperedMLP(hidden_layer_sizes=(6,), max_iter=300, random_state=0), X, y)
    r, fi = _compare_with_loop(tempered, X, y, "log_loss")  # still the loop's set, by predict_proba
    assert r.params["evaluation"] == "batched predict" and fi.params["evaluation"] == "batched predict"
    assert "predict_proba differs from the forward pass on its weights" in r.params["fallback"]
    assert r.params["fallback"] in r.label and fi.params["fallback"] == r.params["fallback"]
    # predict is the plain MLP's, so zero-one loss still takes the weights
    assert rashomon_set(tempered, X, y, loss="zero_one", epsilon=0.05).params["evaluation"] == "MLP weights"
    quantile = _fit_quiet(make_pipeline(QuantileTransformer(n_quantiles=50), MLPClassifier(
        hidden_layer_sizes=(4,), max_iter=200, random_state=0)), X, y)
    q = rashomon_set(quantile, X, y)
    assert q.params["evaluation"] == "batched predict"
    assert "QuantileTransformer is not a per-column scaler" in q.params["fallback"]
    # a model EmbedLens does not read at all is no fallback
    assert rashomon_set(ProbaOnly(tempered), X, y).params["fallback"] is None
    # the same for the logistic path
    lq = make_pipeline(QuantileTransformer(n_quantiles=50), LogisticRegression()).fit(X, y)
    r = rashomon_set(lq, X, y)
    assert r.params["evaluation"] == "batched predict"
    assert r.params["fallback"] == ("not read from its weights: LogisticRegression in a Pipeline where its step "
                                    "QuantileTransformer is not a per-column scaler (StandardScaler, RobustScaler, "
                                    "MaxAbsScaler, MinMaxScaler)")


def test_logistic_path_folds_a_chain_of_per_column_scalers(cancer):
    X, y = cancer
    model = make_pipeline(MinMaxScaler(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    r = rashomon_set(model, X, y)
    assert r.params["evaluation"] == "coefficients" and r.params["fallback"] is None
    for k in (r.single_offset(1) + 7, r.pair_offset(0, 5) + 30):
        m = r.multipliers[k]
        assert not np.all(m == 1.0)
        assert r.losses[k] == pytest.approx(log_loss(y, model.predict_proba(X * m)), rel=1e-10)


def test_mlp_exponential_is_within_two_ulp_of_numpys():
    from core._rashomon_kernels import _exp_nonpos

    x = -np.concatenate([np.linspace(0.0, 750.0, 200_001), np.random.default_rng(0).exponential(2.0, 100_000),
                         [0.0, 1e-300, 0.5 * np.log(2), 708.0, 745.0, 1e4]])
    got = x.copy()
    _exp_nonpos(got, len(got), np.empty(len(got)))
    want = np.exp(np.maximum(x, -700.0))
    assert np.max(np.abs(got - want) / want) <= 2 * np.finfo(float).eps
    assert got[-6] == 1.0 and got[-1] == np.exp(-700.0)


def test_warm_up_compiles_the_rashomon_kernels_with_the_types_of_real_calls(cancer):
    from core._rashomon_kernels import linear_log_loss, mlp_loss, permuted_log_loss
    from core.warmup import warm_up

    timings = warm_up(steps=("rashomon",))
    assert set(timings) <= {"rashomon"}  # empty when an earlier test of this process warmed it
    kernels = (linear_log_loss, permuted_log_loss, mlp_loss)
    compiled = [len(k.signatures) for k in kernels]
    assert all(compiled)
    X, y = cancer
    for kind in ("logistic", "mlp"):
        r = rashomon_set(fit_reference_model(X[:100], y[:100], kind=kind), X[:100], y[:100])
        feature_interactions(r, X[:100], y[:100], pairs=[(0, 1)], n_permutations=(2, 2))
    assert [len(k.signatures) for k in kernels] == compiled  # nothing compiled again
    assert warm_up(steps=("rashomon",)) == {}
    with pytest.raises(EmbedLensInputError, match="unknown warm-up step"):
        warm_up(steps=("rashomon", "nope"))


# --------------------------------------------------------------------------- effects and FIS


def test_main_effects_of_the_reference_equal_a_direct_permutation_computation(cancer, cancer_model, cancer_set):
    X, y = cancer
    fi = feature_interactions(cancer_set, X, y, pairs=[(0, 1)], seed=7)
    rng = np.random.default_rng(7)
    perms = [rng.permutation(len(X)) for _ in range(100)]
    base = log_loss(y, cancer_model.predict_proba(X))
    ref = fi.main[fi.main["reference"]].set_index("feature")["effect"]
    for f in range(6):
        losses = []
        for pi in perms[:30]:
            Xp = X.copy()
            Xp[:, f] = X[pi, f]
            losses.append(log_loss(y, cancer_model.predict_proba(Xp)))
        assert ref[f"x{f}"] == pytest.approx(np.mean(losses) - base, rel=1e-9, abs=1e-12)
    # the joint effect permutes both columns of the pair with one permutation
    joint = []
    for pi in perms:
        Xp = X.copy()
        Xp[:, [0, 1]] = X[pi][:, [0, 1]]
        joint.append(log_loss(y, cancer_model.predict_proba(Xp)))
    row = fi.fis[fi.fis["reference"]].iloc[0]
    assert row["joint"] == pytest.approx(np.mean(joint) - base, rel=1e-9)
    assert row["fis"] == pytest.approx(row["joint"] - ref["x0"] - ref["x1"], rel=1e-12)


def test_no_interaction_gives_fis_near_zero_for_every_model_and_a_product_does_not():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 2))
    X -= X.mean(axis=0)
    X[:, 1] -= X[:, 0] * (X[:, 0] @ X[:, 1]) / (X[:, 0] @ X[:, 0])  # sample-uncorrelated columns
    y = X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(2000)
    r = rashomon_set(Additive(), X, y, loss="mse")
    fi = feature_interactions(r, X, y, n_permutations=(100, 100), seed=0)
    fis = fi.fis
    assert len(fis) == 37
    mains = fis[["main_i", "main_j"]].min(axis=1)
    assert (mains > 1.5).all()  # phi_i ~ 2 m_i^2 var(x_i)
    assert (fis["fis"].abs() < 0.02 * mains).all()
    # closed form: with mse and f additive, FIS = 2 m_i m_j mean_pi mean_r (dx_i dx_j), dx = x[pi] - x
    rg = np.random.default_rng(0)
    perms = [rg.permutation(2000) for _ in range(100)]
    cross = np.mean([np.mean((X[p, 0] - X[:, 0]) * (X[p, 1] - X[:, 1])) for p in perms])
    M = r.multipliers[fis["model"].to_numpy()]
    np.testing.assert_allclose(fis["fis"], 2 * M[:, 0] * M[:, 1] * cross, rtol=1e-7, atol=1e-12)
    # a product model: FIS = phi_12 - phi_1 - phi_2 ~ 2 - 2 - 2 = -2 for standard normal inputs
    yp = X[:, 0] * X[:, 1] + 0.5 * rng.standard_normal(2000)
    rp = rashomon_set(Product(), X, yp, loss="mse")
    fp = feature_interactions(rp, X, yp, n_permutations=(30, 30))
    assert fp.fis.loc[fp.fis["reference"], "fis"].iloc[0] == pytest.approx(-2.0, abs=0.3)


def test_common_random_numbers_and_seed(cancer, cancer_set):
    X, y = cancer
    a = feature_interactions(cancer_set, X, y, pairs=[(0, 1)], n_permutations=(5, 5), seed=1)
    b = feature_interactions(cancer_set, X, y, pairs=[("x1", "x0")], n_permutations=(5, 5), seed=1)
    c = feature_interactions(cancer_set, X, y, pairs=[(0, 1)], n_permutations=(5, 5), seed=2)
    pd.testing.assert_frame_equal(a.fis, b.fis)
    assert not np.allclose(a.fis["fis"], c.fis["fis"])
    # identical multipliers give identical effects (the same permutations for every model)
    m = a.main
    ref = m[m["reference"]].set_index("feature")["effect"]
    ones = [k for k in range(1, 1 + cancer_set.n_single) if np.all(cancer_set.multipliers[k] == 1.0)]
    assert ones  # e.g. level 0 of a feature whose loss does not fall below L*
    lvl0 = m[m["model"] == ones[0]].set_index("feature")["effect"]
    pd.testing.assert_series_equal(ref, lvl0)


def test_swarm_data_and_summary(cancer, cancer_set):
    X, y = cancer
    fi = feature_interactions(cancer_set, X, y, pairs=[(0, 2), (1, 3)], n_permutations=(5, 5))
    s = swarm_data(fi)
    assert list(s.columns) == ["row", "value", "loss", "reference", "in_set", "model"]
    assert set(s["row"]) == {"x0 × x2", "x1 × x3"} and len(s) == 74
    sa = swarm_data(fi, absolute=True)
    np.testing.assert_allclose(sa["value"], s["value"].abs())
    sm = swarm_data(fi, kind="main")
    assert set(sm["row"]) == {f"x{i}" for i in range(6)} and sm["in_set"].all()
    assert len(sm) == 6 * (1 + 22 * 6)
    summ = fis_summary(fi)
    assert list(summ["pair"]) == ["x0 × x2", "x1 × x3"]
    t = fi.fis[(fi.fis["i"] == "x0") & fi.fis["in_set"]]
    assert summ["min"].iloc[0] == t["fis"].min() and summ["max"].iloc[0] == t["fis"].max()


def test_fis_summary_sign_flip_share_on_a_constructed_case(toy):
    fis = pd.DataFrame({
        "i": "a", "j": "b", "model": [0, 1, 2, 3, 4, 5],
        "fis": [0.5, 0.2, -0.1, -0.3, 0.4, -1.0],
        "loss": [1.0, 1.01, 1.02, 1.03, 1.04, 2.0],
        "in_set": [True, True, True, True, True, False],
        "reference": [True, False, False, False, False, False]})
    fi = FeatureInteractions(main=pd.DataFrame(), fis=fis, rset=toy, params={}, label="")
    s = fis_summary(fi).iloc[0]
    assert s["pair"] == "a × b"
    assert s["reference"] == 0.5 and s["min"] == -0.3 and s["max"] == 0.5  # -1.0 is out of the set
    assert s["sign_flip_share"] == 0.5  # 2 of the 4 in-set models flip
    assert s["n_models"] == 5


# --------------------------------------------------------------------------- empirical set of runs


def test_empirical_rashomon_set_on_a_hand_made_dict():
    e = empirical_rashomon_set({"a": 1.0, "b": 1.05, "c": 1.2, "d": 1.09})
    assert e.best == "a" and e.epsilon == pytest.approx(0.1) and e.members == ("a", "b", "d")
    e = empirical_rashomon_set({"a": 1.0, "b": 1.05, "c": 1.2}, epsilon=0.01)
    assert e.members == ("a",)
    acc = empirical_rashomon_set({"r1": 0.90, "r2": 0.895, "r3": 0.85}, higher_is_better=True)
    assert acc.best == "r1" and acc.epsilon == pytest.approx(0.01) and acc.members == ("r1", "r2")
    assert acc.threshold == pytest.approx(0.89)
    for bad, kw in [({}, {}), ({"a": float("nan")}, {}), ({"a": 0.0, "b": 1.0}, {}),
                    ({"a": 80.0}, {"higher_is_better": True})]:
        with pytest.raises(EmbedLensInputError):
            empirical_rashomon_set(bad, **kw)


# --------------------------------------------------------------------------- validation, hooks


def test_input_errors_name_the_problem(cancer, cancer_model):
    X, y = cancer
    with pytest.raises(EmbedLensInputError, match="y has 10 values but X has 569 rows"):
        rashomon_set(cancer_model, X, y[:10])
    Xn = X.copy()
    Xn[5, 1] = np.nan
    with pytest.raises(EmbedLensInputError, match="NaN"):
        rashomon_set(cancer_model, Xn, y)
    with pytest.raises(EmbedLensInputError, match="missing"):
        rashomon_set(Additive(), X[:, :2], np.where(np.arange(569) == 3, np.nan, 1.0), loss="mse")
    with pytest.raises(EmbedLensInputError, match="at least 2 features"):
        rashomon_set(Additive(), X[:, :1], y, loss="mse")
    with pytest.raises(EmbedLensInputError, match="without predict or predict_proba"):
        rashomon_set(object(), X, y)
    with pytest.raises(EmbedLensInputError, match="needs model.predict_proba"):
        rashomon_set(Additive(), X[:, :2], y)
    with pytest.raises(EmbedLensInputError, match="L\\* is 0"):
        rashomon_set(Toy(), np.array([[1.0, 1.0]]), np.array([3.0]), loss="mse")
    with pytest.raises(EmbedLensInputError, match="loss='hinge' is invalid"):
        rashomon_set(cancer_model, X, y, loss="hinge")
    with pytest.raises(EmbedLensInputError, match="labels the model does not know"):
        rashomon_set(cancer_model, X, np.where(y == 1, 1, 7))
    with pytest.raises(EmbedLensInputError, match="fitted on 6 features"):
        rashomon_set(cancer_model, X[:, :5], y)
    with pytest.raises(EmbedLensInputError, match="not fitted"):
        rashomon_set(make_pipeline(StandardScaler(), LogisticRegression()), X, y)
    with pytest.raises(EmbedLensInputError, match="epsilon=0 is invalid"):
        rashomon_set(cancer_model, X, y, epsilon=0)
    assert set(LOSSES) >= {"log_loss", "mse"}


def test_progress_and_stop(cancer, cancer_model, cancer_set):
    X, y = cancer
    seen = []
    rashomon_set(cancer_model, X[:100], y[:100], progress=lambda f, t: seen.append((f, t)))
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)
    assert fractions == sorted(fractions)
    with pytest.raises(Stopped):
        rashomon_set(cancer_model, X, y, should_stop=lambda: True)
    calls = []

    def stop_later():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Stopped):
        feature_interactions(cancer_set, X, y, should_stop=stop_later)


def test_fit_reference_model_kinds(cancer):
    X, y = cancer
    m = fit_reference_model(X, y, kind="mlp", seed=0)
    r = rashomon_set(m, X[:80], y[:80])
    assert r.params["evaluation"] == "MLP weights" and r.params["fallback"] is None
    assert r.in_set[: 1 + r.n_single].all()
    with pytest.raises(EmbedLensInputError, match="fractional"):
        fit_reference_model(X, X[:, 0])
    reg = fit_reference_model(X[:, :3], X[:, 3], kind="mlp")
    from sklearn.neural_network import MLPRegressor

    assert isinstance(reg.steps[-1][1], MLPRegressor)
    with pytest.raises(EmbedLensInputError, match="single class"):
        fit_reference_model(X, np.zeros(len(X), dtype=int))


def test_feature_names_and_pairs_argument(cancer, cancer_model):
    X, y = cancer
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(6)])
    r = rashomon_set(cancer_model, df, y)
    assert r.feature_names == tuple(df.columns)
    with pytest.raises(EmbedLensInputError, match="not a pair"):
        r.pair_offset(0, 0)
    with pytest.raises(EmbedLensInputError, match="no feature named"):
        halo_data(r, pair=("c0", "zz"))
    assert len(list(combinations(r.features, 2))) == len(r.pairs) == 15
