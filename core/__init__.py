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
    save_upload,
    uploads_dir,
)
from .health import ViewHealth, health_report
from .io import fingerprint_array, fingerprint_metadata, load
from .types import Dataset, View

# --- geometry (issue 5) ---
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
# --- end geometry (issue 5) ---

__all__ = [
    "CatalogEntry",
    "Dataset",
    "EmbedLensInputError",
    "NonFiniteRowsError",
    "View",
    "ViewHealth",
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
    "save_upload",
    "uploads_dir",
    # --- geometry (issue 5) ---
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
    # --- end geometry (issue 5) ---
]
