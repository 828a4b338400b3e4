"""EmbedLens core: pure computation over embedding matrices (no streamlit, no plotly).

Data positional, options keyword-only; every problem with the input is an
:class:`EmbedLensInputError` whose message names what was wrong and how to fix it.
"""

from ._validation import EmbedLensInputError, NonFiniteRowsError, check_embeddings, check_paired
from .catalog import (
    CatalogEntry,
    default_data_dir,
    list_datasets,
    resolve,
    sample_data_dir,
    remove_upload,
    save_upload,
    uploads_dir,
)
from .health import ViewHealth, health_report
from .readers import fingerprint_array, fingerprint_metadata, load
from .types import Dataset, DatasetSample, View
from .writing import EmbeddingWriter, writer

# --- spectra ---
from .diversity import (
    HillCurve,
    VendiScore,
    RateReduction,
    class_diversity,
    coding_rate,
    hill_curve,
    hill_number,
    rate_reduction,
    vendi_score,
    vendi_score_K,
)
from .entropy import (
    DiffusionEntropy,
    DiffusionMutualInfo,
    SchurComplementEntropy,
    defocus,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_info,
    schur_complement_entropy,
)
from .profile import SpectralProfile, spectral_profile
from .spectra import (
    PowerLawFit,
    Spectrum,
    effective_rank,
    participation_ratio,
    stable_rank,
    pca_k,
    powerlaw_alpha,
    rankme,
    spectrum,
)
# --- geometry ---
from .intrinsic_dim import (
    ID_METHODS,
    IDScaleCurve,
    IntrinsicDimension,
    id_scale_curve,
    intrinsic_dimension,
    local_intrinsic_dimension,
)
from .labels import Hubness, NeuralCollapse, Separability, hubness, knn_purity, neural_collapse, separability
from .neighbors import NeighborGraph, knn_graph, sampled_recall
# --- map ---
from .alignment import align_projections, procrustes_align
from .cache import DiskCache, cache_key, default_cache_dir
from .projection import Projection, graph_k, project, project_cached
from .quality import Trustworthiness, knn_preservation, trustworthiness
from .selection import (
    GroupComparison,
    compare_groups,
    filter_mask,
    item_neighbors,
    points_in_box,
    points_in_polygon,
    stratified_sample,
)
from .warmup import warm_up
# --- compare ---
from .matching import UnitMatch, match_units
from .similarity import (
    COMPARISON_METRICS,
    SINGLE_VIEW_METRICS,
    MutualKNN,
    PairwiseMatrix,
    ProcrustesResult,
    Similarity,
    cca_similarity,
    cka,
    linear_regression_r2,
    mutual_knn,
    pairwise_matrix,
    procrustes_distance,
    rsa,
    trajectory,
)
# --- rashomon ---
from .rashomon import (
    LOSSES,
    EmpiricalSet,
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
# --- scale-out (dask is imported only when used) ---
from .dataset_sample import sample_dataset
from .outofcore import (
    ExtendedMap,
    SampledMetric,
    ShardedView,
    fingerprint_chunked,
    open_sharded,
    read_rows,
    sample_then_extend_umap,
    sampled_knn_metric,
)

__all__ = [
    "CatalogEntry",
    "Dataset",
    "DatasetSample",
    "EmbedLensInputError",
    "NonFiniteRowsError",
    "View",
    "ViewHealth",
    "EmbeddingWriter",
    "check_embeddings",
    "check_paired",
    "default_data_dir",
    "fingerprint_array",
    "fingerprint_metadata",
    "health_report",
    "list_datasets",
    "load",
    "resolve",
    "sample_data_dir",
    "remove_upload",
    "save_upload",
    "uploads_dir",
    "writer",
    # --- spectra ---
    "DiffusionEntropy",
    "DiffusionMutualInfo",
    "HillCurve",
    "VendiScore",
    "PowerLawFit",
    "RateReduction",
    "SchurComplementEntropy",
    "SpectralProfile",
    "Spectrum",
    "class_diversity",
    "coding_rate",
    "defocus",
    "diffusion_spectral_entropy",
    "diffusion_spectral_mutual_info",
    "effective_rank",
    "hill_curve",
    "hill_number",
    "participation_ratio",
    "stable_rank",
    "pca_k",
    "powerlaw_alpha",
    "rankme",
    "rate_reduction",
    "schur_complement_entropy",
    "spectral_profile",
    "spectrum",
    "vendi_score",
    "vendi_score_K",
    # --- geometry ---
    "Hubness",
    "ID_METHODS",
    "IDScaleCurve",
    "IntrinsicDimension",
    "NeighborGraph",
    "NeuralCollapse",
    "Separability",
    "hubness",
    "id_scale_curve",
    "intrinsic_dimension",
    "knn_graph",
    "knn_purity",
    "local_intrinsic_dimension",
    "neural_collapse",
    "sampled_recall",
    "separability",
    # --- map ---
    "DiskCache",
    "GroupComparison",
    "Projection",
    "Trustworthiness",
    "align_projections",
    "cache_key",
    "compare_groups",
    "default_cache_dir",
    "filter_mask",
    "graph_k",
    "item_neighbors",
    "knn_preservation",
    "points_in_box",
    "points_in_polygon",
    "procrustes_align",
    "project",
    "project_cached",
    "stratified_sample",
    "trustworthiness",
    "warm_up",
    # --- compare ---
    "COMPARISON_METRICS",
    "MutualKNN",
    "PairwiseMatrix",
    "ProcrustesResult",
    "SINGLE_VIEW_METRICS",
    "Similarity",
    "UnitMatch",
    "cca_similarity",
    "cka",
    "linear_regression_r2",
    "match_units",
    "mutual_knn",
    "pairwise_matrix",
    "procrustes_distance",
    "rsa",
    "trajectory",
    # --- rashomon ---
    "EmpiricalSet",
    "FeatureInteractions",
    "LOSSES",
    "RashomonSet",
    "Stopped",
    "empirical_rashomon_set",
    "feature_interactions",
    "fis_summary",
    "fit_reference_model",
    "halo_data",
    "rashomon_set",
    "swarm_data",
    # --- scale-out ---
    "ExtendedMap",
    "SampledMetric",
    "ShardedView",
    "fingerprint_chunked",
    "open_sharded",
    "read_rows",
    "sample_dataset",
    "sample_then_extend_umap",
    "sampled_knn_metric",
]
