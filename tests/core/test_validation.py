"""The one wording of a rejected parameter (core._validation.check_param)."""

import re

import numpy as np
import pytest

from core import diversity, entropy, intrinsic_dim, labels, neighbors, profile, selection, spectra
from core._validation import EmbedLensInputError

X = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
Y = np.repeat([0, 1], 20)
STYLE = re.compile(r"^[a-z_0-9]+(\[\d\])?=\S.* is invalid: expected (an integer|a number|one of|'|a pair)")

BAD_CALLS = [
    lambda: diversity.vendi_score(X, q=0),
    lambda: diversity.coding_rate(X, eps2=-1),
    lambda: diversity.class_diversity(X, Y, kernel="linear"),
    lambda: entropy.diffusion_spectral_entropy(X, sigma=0),
    lambda: entropy.diffusion_spectral_entropy(X, t=0.5),
    lambda: entropy.diffusion_spectral_entropy(X, max_n=1),
    lambda: entropy.diffusion_spectral_mutual_info(X, Y, n_draws=0),
    lambda: entropy.diffusion_spectral_mutual_info(X, Y, y_kind="ordinal"),
    lambda: intrinsic_dim.intrinsic_dimension(X, metric="manhattan"),
    lambda: intrinsic_dim.intrinsic_dimension(X, method="lpca"),
    lambda: intrinsic_dim.intrinsic_dimension(X, method="pca", variance=1.5),
    lambda: intrinsic_dim.intrinsic_dimension(X, discard_fraction=1.0),
    lambda: intrinsic_dim.intrinsic_dimension(X, method="mle", k_range=(5, 3)),
    lambda: intrinsic_dim.intrinsic_dimension(X, method="mle", k_range=5),
    lambda: intrinsic_dim.local_intrinsic_dimension(X, k=2),
    lambda: labels.knn_purity(neighbors.knn_graph(X, k=3), Y, k=4),
    lambda: neighbors.knn_graph(X, k=0),
    lambda: neighbors.knn_graph(X, k=3, metric="manhattan"),
    lambda: neighbors.knn_graph(X, k=3, method="fast"),
    lambda: neighbors.knn_graph(X, k=3).restrict(4),
    lambda: selection.stratified_sample(Y, -1),
    lambda: selection.compare_groups(X, Y == 0, metric="l1"),
    lambda: selection.item_neighbors(X, 40),
    lambda: spectra.spectrum(X, kernel="poly"),
    lambda: spectra.spectrum(X, precision="float16"),
    lambda: spectra.spectrum(X, kernel="rbf", approx="nystroem"),
    lambda: spectra.spectrum(X, kernel="rbf", bandwidth=-1.0),
    lambda: spectra.spectrum(X, form="rff"),
    lambda: spectra.pca_k(X, share=1.5),
    lambda: profile.spectral_profile(X, kernel="linear"),
    lambda: spectra.powerlaw_alpha(spectra.Spectrum.from_eigenvalues([4.0, 3.0, 2.0, 1.0]), fit_range=(0, 9)),
]


@pytest.mark.parametrize("call", BAD_CALLS, ids=range(len(BAD_CALLS)))
def test_kind_one_message_style_parameters(call):
    """Every rejected option reads ``name=value is invalid: expected ...`` (was 7+ wordings)."""
    with pytest.raises(EmbedLensInputError) as info:
        call()
    assert STYLE.match(str(info.value)), str(info.value)
