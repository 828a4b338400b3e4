"""One source for the text of every metric a page shows: title, formula, reference and help.

The dashboard's cards, captions, colour-bar notes and "Formulas and references" expander read
their words from :data:`METRICS` (through :func:`metric_help`) instead of keeping copies of
their own. Each entry names the core function whose docstring gives the same formula and
source (``function``), so the two can be checked against each other.

Texts holding a parameter (the ``k`` of a per-point metric) are templates: ``{k}`` is filled in
by :func:`metric_help` / :func:`metric_title`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MetricText", "METRICS", "metric_title", "metric_help"]


@dataclass(frozen=True)
class MetricText:
    """The words of one metric.

    Attributes
    ----------
    title : str
        Its name on a card, before the variant's parameters.
    formula : str
        The formula, in the notation of METRICS.md.
    reference : str
        Where the formula comes from ("" for plain arithmetic).
    help : str
        One paragraph for a card's help / a caption; "" means ``formula`` then ``reference``,
        separated by a blank line.
    function : str
        The core function computing it (its docstring gives the same formula and source).
    """

    title: str
    formula: str
    reference: str = ""
    help: str = ""
    function: str = ""

    @property
    def text(self) -> str:
        """The help paragraph (``help``, or formula and reference)."""
        if self.help:
            return self.help
        return f"{self.formula}\n\n{self.reference}" if self.reference else self.formula


METRICS: dict[str, MetricText] = {
    # --- Spectra page ---
    "participation_ratio": MetricText(
        "Participation ratio (covariance)", "PR = (Σ λᵢ)² / Σ λᵢ², λ = eigenvalues of the centred covariance",
        "Gao et al., 'A theory of multineuronal dimensionality, dynamics and measurement', 2017",
        function="core.participation_ratio"),
    "stable_rank": MetricText(
        "Stable rank (covariance)", "srank = Σ λᵢ / λ₁ = ‖X_c‖_F² / ‖X_c‖₂², λ = eigenvalues of the centred covariance",
        "Rudelson & Vershynin, 'Sampling from large matrices: an approach through geometric functional "
        "analysis', 2007",
        function="core.stable_rank"),
    "effective_rank": MetricText(
        "Effective rank (singular values)",
        "exp(−Σ pᵢ log pᵢ), pᵢ = sᵢ / Σ s, s = singular values of the centred X (∝ √λ; Vendi uses λ)",
        "Roy & Vetterli, 'The effective rank: a measure of effective dimensionality', EUSIPCO 2007",
        function="core.effective_rank"),
    "rankme": MetricText(
        "RankMe (uncentred, ε=1e-7)", "exp(−Σ pₖ log pₖ), pₖ = σₖ / ‖σ‖₁ + ε, σ = singular values of the uncentred X",
        "Garrido et al., 'RankMe: Assessing the downstream performance of pretrained self-supervised "
        "representations by their rank', ICML 2023", function="core.rankme"),
    "pca_95": MetricText(
        "PCA-k (95%)", "smallest k with Σᵢ≤ₖ λᵢ / Σ λ ≥ 0.95 (and 0.90)", "Principal component analysis",
        function="core.pca_k"),
    "pca_90": MetricText(
        "PCA-k (90%)", "smallest k with Σᵢ≤ₖ λᵢ / Σ λ ≥ 0.90", "Principal component analysis",
        function="core.pca_k"),
    "alpha": MetricText(
        "Power-law α", "least-squares slope of log λᵢ = c − α log i over i = 1 … PCA-99 index (λ > 1e-12 λ₁)",
        "Agrawal et al., 'α-ReQ: Assessing representation quality in self-supervised learning by "
        "measuring eigenspectrum decay', NeurIPS 2022", function="core.powerlaw_alpha"),
    "vendi": MetricText(
        "Vendi", "VS_q = exp(H_q(λ(K/n))), K = kernel matrix with k(x, x) = 1; H_1 = −Σ λ log λ, "
        "H_q = log(Σ λ^q)/(1−q), H_∞ = −log max λ",
        "Friedman & Dieng, 'The Vendi Score: A Diversity Evaluation Metric for Machine Learning', TMLR 2023",
        function="core.vendi_score"),
    "coding_rate": MetricText(
        "Coding rate", "R = ½ log det(I + d/(n ε²) Z Zᵀ) = ½ Σ log(1 + d λᵢ/ε²), Z = unit-length rows (nats)",
        "Yu et al., 'Learning Diverse and Discriminative Representations via the Principle of Maximal "
        "Coding Rate Reduction', NeurIPS 2020", function="core.coding_rate"),
    "rate_reduction": MetricText(
        "Rate reduction ΔR", "ΔR = R(Z) − Σⱼ (nⱼ/n) R(Zⱼ) over the classes j (nats)",
        "Yu et al., NeurIPS 2020 (MCR²)", function="core.rate_reduction"),
    "coding_rate_all": MetricText(
        "Coding rate R (all)", "R(Z) of every labelled row (nats)", function="core.rate_reduction"),
    "class_conditional_rate": MetricText(
        "Class-conditional Rc", "Σⱼ (nⱼ/n) R(Zⱼ) (nats)", function="core.rate_reduction"),
    "dse": MetricText(
        "DSE", "G = exp(−‖xᵢ−xⱼ‖²/2σ²), K = D^−½ G D^−½, aᵢ = |λᵢ|ᵗ / Σ|λ|ᵗ, DSE = −Σ aᵢ log₂ aᵢ (bits)",
        "Liao, Liu et al., 'Assessing Neural Network Representations During Training Using "
        "Noise-Resilient Diffusion Spectral Entropy', 2023", function="core.diffusion_spectral_entropy"),
    "dsmi": MetricText(
        "DSMI with the label", "Σ_c p(c) [DSE(random subset of n_c) − DSE(Z | Y = c)] (bits; 5 draws)",
        "Liao, Liu et al., 2023 (diffusion spectral mutual information)",
        function="core.diffusion_spectral_mutual_info"),
    "sce": MetricText(
        "SCE", "S = C_II − C_TIᵀ C_TT⁺ C_TI; SCE = exp(−Σ λᵢ log(λᵢ / tr S)), λ = eig(S) ≥ 1e-10",
        "Ospanov, Jalali & Farnia, 'Dissecting CLIP: Decomposition with a Schur Complement-based "
        "Approach', 2024", function="core.schur_complement_entropy"),
    "sce_unexplained": MetricText(
        "tr S (not explained)", "tr S, S = C_II − C_TIᵀ C_TT⁺ C_TI",
        help="Share of {view}'s variance that {other} does not explain", function="core.schur_complement_entropy"),
    "sce_explained": MetricText(
        "{given}-part score", "SCE of D = C_TIᵀ C_TT⁺ C_TI",
        help="The SCE formula on D = C_TIᵀ C_TT⁺ C_TI: the part of {view} explained by {other}",
        function="core.schur_complement_entropy"),
    "defocused_vendi": MetricText(
        "Vendi, {given} removed", "Vendi of φ_I(x) − φ_T(t) A*, A* = C_TT⁺ C_TI",
        help="Of the defocused embeddings φ_I(x) − φ_T(t) A*, A* = C_TT⁺ C_TI: {view} with its "
             "{given}-explained part removed", function="core.defocus"),
    # --- Geometry page ---
    "intrinsic_dimension": MetricText(
        "ID", "TwoNN: slope of -log(1-F(μ)) against log μ, μ = r₂/r₁; MLE: [mean log(r_k/r_j)]⁻¹",
        "Facco et al. 2017; Levina & Bickel 2004",
        help="TwoNN (Facco et al. 2017): slope of -log(1-F(μ)) against log μ, μ = r₂/r₁. MLE (Levina & "
             "Bickel 2004): [mean log(r_k/r_j)]⁻¹, averaged over k = 5..20. PCA: components holding 95% of "
             "the variance. ± is the bootstrap standard error; duplicates are left out.",
        function="core.intrinsic_dimension"),
    "hubness": MetricText(
        "Hubness skew", "skewness of N_k", "Radovanović et al. 2010",
        help="Skewness of N_k, how often each point is among others' k nearest neighbours (Radovanović "
             "et al. 2010). Near 0: even; large: a few hubs are everyone's neighbours.",
        function="core.hubness"),
    "knn_purity": MetricText(
        "kNN purity", "mean over points of the share of its k nearest neighbours with its label",
        help="Mean share of each point's k nearest neighbours that carry its label.",
        function="core.knn_purity"),
    "nc1": MetricText(
        "NC1", "NC1 = tr(Σ_W Σ_B⁺)/K", "Papyan et al. 2020",
        help="NC1 = tr(Σ_W Σ_B⁺)/K (Papyan et al. 2020): within-class spread relative to the spread of "
             "the class means; 0 at full collapse. Computed exactly via the K×K Gram of the class means.",
        function="core.neural_collapse"),
    # --- Map page: per-point colours (templates in k) ---
    "point_norm": MetricText(
        "Row norm (L2)", "||x_i||_2",
        help="||x_i||_2, the Euclidean length of the item's embedding. Cost O(n d).",
        function="core.health_report"),
    "point_lid": MetricText(
        "Local intrinsic dimension (MLE, k={k})", "[1/(k-1) Σ_j log(r_k/r_j)]⁻¹", "Levina & Bickel 2004",
        help="[1/(k-1) Σ_j log(r_k/r_j)]⁻¹ over the item's k={k} nearest neighbours, in the map's metric "
             "(Levina & Bickel 2004). High: the item sits where the data spreads in many directions; NaN for "
             "zero rows under cosine. Cost: the kNN graph, then O(n k).",
        function="core.local_intrinsic_dimension"),
    "point_hub": MetricText(
        "k-occurrence (hubness, k={k})", "N_k(i)", "Radovanović et al. 2010",
        help="N_k(i): how many items have this one among their k={k} nearest neighbours (mean k). Hubs "
             "(large N_k) are everyone's neighbour, anti-hubs (0) nobody's (Radovanović et al. 2010). "
             "Cost: the kNN graph, then O(n k).",
        function="core.hubness"),
    "point_purity": MetricText(
        "kNN purity (k={k})", "share of the item's k nearest neighbours with its label",
        help="Share of the item's k={k} nearest neighbours that carry its label, in the column named "
             "'label' or else the first label-like metadata column. Low: the item sits among another class. "
             "Cost: the kNN graph, then O(n k).",
        function="core.knn_purity"),
    "point_knn_preservation": MetricText(
        "kNN preservation (k={k})", "|N_X(i) ∩ N_Y(i)| / k", "Lee & Verleysen 2009",
        help="Share of the item's {k} nearest neighbours in the embedding (the shared kNN graph, in the "
             "map's metric) that are also among its {k} nearest in the map: |N_X(i) ∩ N_Y(i)| / {k}. "
             "Low values mark items the map misplaces (Lee & Verleysen 2009). Cost O(n log n) given the graph.",
        function="core.knn_preservation"),
    # --- Map page: map quality and the selection panel ---
    "trustworthiness": MetricText(
        "Trustworthiness", "1 − penalty for map neighbours that are not embedding neighbours",
        "Venna & Kaski 2001",
        help="Venna & Kaski 2001 (scikit-learn): 1 − penalty for map neighbours that are "
             "not embedding neighbours, weighted by their embedding rank.",
        function="core.quality.trustworthiness"),
    "knn_preservation": MetricText(
        "kNN preservation (k={k})", "mean over items of |N_X(i) ∩ N_Y(i)| / k",
        help="Mean over items of |N_X(i) ∩ N_Y(i)| / k; colour by it to see where.",
        function="core.knn_preservation"),
    "selection_groups": MetricText(
        "Selection against the rest", "(‖Σ u_i‖² − Σ‖u_i‖²) / (m(m−1))",
        "Friedman & Dieng 2023; Facco et al. 2017",
        help="Mean cosine within a group = "
             "(‖Σ u_i‖² − Σ‖u_i‖²) / (m(m−1)) over unit rows u_i: high means a tight, one-directional "
             "group. Vendi score (Friedman & Dieng 2023): the effective number of distinct items. TwoNN "
             "(Facco et al. 2017) on distinct rows, ± bootstrap standard error; — below 20 usable rows.",
        function="core.selection.group_diversity"),
    # --- Compare page ---
    "cka": MetricText(
        "CKA (linear, biased)", "CKA = ‖Y_cᵀX_c‖_F² / (‖X_cᵀX_c‖_F ‖Y_cᵀY_c‖_F), X_c, Y_c centred",
        "Kornblith et al., 'Similarity of Neural Network Representations Revisited', ICML 2019",
        help="Centred kernel alignment (Kornblith et al. 2019): ‖Y_cᵀX_c‖_F² / (‖X_cᵀX_c‖_F ‖Y_cᵀY_c‖_F) "
             "on the centred views, computed in feature space. 1: the same geometry up to rotation and "
             "scale; invariant to orthogonal maps and isotropic scaling, not to other linear maps. The "
             "biased estimator reads high for unrelated views when n is not much larger than d: use the "
             "debiased variant there.",
        function="core.cka"),
    "cka_debiased": MetricText(
        "CKA (linear, debiased)", "HSIC_u(K, L) / √(HSIC_u(K, K) HSIC_u(L, L)), K = X_c X_cᵀ, L = Y_c Y_cᵀ",
        "Song et al., 'Feature Selection via Dependence Maximization', JMLR 2012 (unbiased HSIC)",
        help="CKA with the unbiased HSIC estimator of Song et al. (2012) in every term: HSIC_u = "
             "[tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)), K̃ = K with a zero "
             "diagonal. Near 0 for independent views even when n is close to d; can be slightly negative.",
        function="core.cka"),
    "procrustes": MetricText(
        "Procrustes distance (angular)", "θ = arccos ‖X_cᵀY_c‖_*, X_c, Y_c centred, ‖·‖_F = 1, zero-padded",
        "Williams et al., 'Generalized Shape Metrics on Neural Representations', NeurIPS 2021",
        help="Orthogonal Procrustes distance (Williams et al. 2021, netrep's LinearMetric(alpha=1)): centre, "
             "scale to unit Frobenius norm, zero-pad the narrower view; angular θ = arccos ‖X_cᵀY_c‖_* "
             "(nuclear norm, radians, 0 to π/2), euclidean min_Q ‖X_c − Y_c Q‖_F = √(2 − 2‖X_cᵀY_c‖_*). "
             "0: the same up to rotation, shift and scale. A distance: lower is more similar; the angular "
             "form obeys the triangle inequality.",
        function="core.procrustes_distance"),
    "mutual_knn": MetricText(
        "Mutual kNN (k={k})", "mean over items of |N_k^X(i) ∩ N_k^Y(i)| / k",
        "Huh et al., 'The Platonic Representation Hypothesis', ICML 2024",
        help="Mean over items of |N_k^X(i) ∩ N_k^Y(i)| / k with k={k} (Huh et al. 2024): the share of each "
             "item's nearest neighbours that the two views have in common. 1: the same neighbourhoods; "
             "1 − the per-item overlap is how much an item's neighbourhood moved.",
        function="core.mutual_knn"),
    "unit_matching": MetricText(
        "Unit matching", "C = A_zᵀ B_z / n (column z-scores); one-to-one: max Σᵢ C_{i,π(i)}; semi: argmax_j C_ij",
        "Li et al., 'Convergent Learning: Do different neural networks learn the same representations?', "
        "ICLR 2016",
        help="Correlation of every unit of A with every unit of B (Li et al. 2016). One-to-one matching "
             "maximises the summed correlation (linear_sum_assignment); the semi-matching takes each unit's "
             "best partner. High matched correlations: the same basis; CKA high but matching low: the same "
             "subspace in a different basis. Dead units (zero variance) are flagged and left out.",
        function="core.match_units"),
    "rsa": MetricText(
        "RSA (Spearman)", "ρ_S(d_X(xᵢ, xⱼ), d_Y(yᵢ, yⱼ)) over the pairs i < j",
        "Kriegeskorte et al., 'Representational similarity analysis', Frontiers in Systems Neuroscience 2008",
        help="Spearman correlation of the two views' condensed distance matrices (Kriegeskorte et al. 2008): "
             "do the views rank the pairs of items by distance the same way? Above the row limit, a seeded "
             "subsample of items is used in both views.",
        function="core.rsa"),
    "cca": MetricText(
        "CCA (mean ρ²)", "mean of ρᵢ², ρ = singular values of (X_cᵀX_c)^−½ X_cᵀY_c (Y_cᵀY_c)^−½",
        "Hotelling, 'Relations between two sets of variates', Biometrika 1936",
        help="Mean squared canonical correlation (Hotelling 1936): how well the best linear combinations of "
             "one view match the other's. Invariant to any invertible linear map of either view; tends to 1 "
             "when d approaches n (over-fitting).",
        function="core.cca_similarity"),
    "linreg_r2": MetricText(
        "Linear R² (Y from X)", "R² = 1 − min_B ‖Y_c − X_c B‖_F² / ‖Y_c‖_F²",
        help="Share of Y's variance that a linear map of X explains (least squares with an intercept, pooled "
             "over Y's columns). Not symmetric.",
        function="core.linear_regression_r2"),
    # --- Rashomon page (issue 13) ---
    "rashomon_set": MetricText(
        "Rashomon set", "R(ε) = {f_m : L(f_m) ≤ L* + ε}, f_m(x) = f*(m ∘ x), ε = rate · L* unless given",
        "Li, Wang, Deng & Barnard, 'Exploring the cloud of feature interaction scores in a Rashomon set', "
        "ICLR 2024",
        help="Models almost as good as the reference f*: f*(m ∘ x) with one multiplier per feature, kept while "
             "the loss stays within L* + ε. A greedy search moves each multiplier up and down (step 0.1, divided "
             "by 10 on each rejection, 4 rejections) for budgets a ε, a = 0, 0.1, …, 1; each pair of features "
             "combines two of them (9 budget splits × 4 sign quadrants = 36 models). Li, Wang, Deng & Barnard, "
             "ICLR 2024.",
        function="core.rashomon.rashomon_set"),
    "model_reliance": MetricText(
        "Main effect (model reliance)", "φᵢ(f) = mean over permutations π of L(f(X with column i permuted)) − L(f(X))",
        "Fisher, Rudin & Dominici, 'All models are wrong, but many are useful', JMLR 2019; Li et al., ICLR 2024",
        help="How much the loss rises when feature i is shuffled: φᵢ(f) = mean over 30 permutations of "
             "L(f(X with column i permuted)) − L(f(X)), for each model of the Rashomon set (the same permutations "
             "for every model). Model reliance in Fisher, Rudin & Dominici (JMLR 2019).",
        function="core.rashomon.feature_interactions"),
    "fis": MetricText(
        "Feature interaction score (FIS)", "FISᵢⱼ(f) = φᵢⱼ(f) − φᵢ(f) − φⱼ(f), φᵢⱼ: columns i and j permuted together",
        "Li, Wang, Deng & Barnard, ICLR 2024",
        help="What shuffling features i and j together costs beyond shuffling each alone: FISᵢⱼ(f) = φᵢⱼ(f) − "
             "φᵢ(f) − φⱼ(f), all on the same model f, with both columns moved by one permutation (100 of them; "
             "the reference code moves only the second column). 0: the two act additively. Li, Wang, Deng & "
             "Barnard, ICLR 2024.",
        function="core.rashomon.feature_interactions"),
    "fisc": MetricText(
        "FIS cloud (FISC)", "{FISᵢⱼ(f) : f ∈ R(ε)}: reference, min, max and the share of models flipping the sign",
        "Li, Wang, Deng & Barnard, ICLR 2024",
        help="The spread of one pair's interaction score over every model of the Rashomon set: one dot per model, "
             "coloured by its loss, the reference model as a star. A wide cloud, or one straddling 0, means "
             "equally good models disagree about the interaction. Li, Wang, Deng & Barnard, ICLR 2024.",
        function="core.rashomon.fis_summary"),
    "halo": MetricText(
        "Halo plot", "θ = atan2(aᵢ, aⱼ) + q π/2; red radius ε, blue radius L(f_{mᵢ,mⱼ}) − L*",
        "Li, Wang, Deng & Barnard, ICLR 2024",
        help="One pair: each direction is a budget split (aᵢ, aⱼ), aᵢ + aⱼ = 1, in one of the 4 sign quadrants. "
             "Red: radius ε, the loss rise if the two features' effects simply added. Blue: the loss rise "
             "measured for the joint model. Blue outside red: the two moves reinforce each other (super-additive); "
             "inside: they cancel. Li, Wang, Deng & Barnard, ICLR 2024.",
        function="core.rashomon.halo_data"),
    "empirical_rashomon_set": MetricText(
        "Empirical Rashomon set of runs", "{runs r : L(r) ≤ min L + ε}, ε = rate · min L unless given",
        help="The runs of this dataset whose recorded loss (or accuracy) is within ε of the best run's: equally "
             "good runs. A metric drawn across them shows how much the geometry differs between them.",
        function="core.rashomon.empirical_rashomon_set"),
}
"""Every metric a page shows, by key."""


def metric_title(key: str, **params) -> str:
    """The title of metric ``key`` with its template parameters (e.g. ``k``) filled in.

    Parameters
    ----------
    key : str
        A key of :data:`METRICS`.
    **params
        Values for the ``{name}`` fields of the title.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        An unknown ``key``, or a template field missing from ``params``.
    """
    return METRICS[key].title.format(**params) if params else METRICS[key].title


def metric_help(key: str, **params) -> str:
    """The help paragraph of metric ``key`` (:attr:`MetricText.text`), template fields filled in.

    Parameters
    ----------
    key : str
        A key of :data:`METRICS`.
    **params
        Values for the ``{name}`` fields of the help.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        An unknown ``key``, or a template field missing from ``params``.
    """
    text = METRICS[key].text
    return text.format(**params) if params else text
