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

# --- map (issue 6) ---
from .cache import DiskCache, cache_key, default_cache_dir
from .projection import Projection, align_projections, graph_k, procrustes_align, project, project_cached, warm_up
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
# --- end map (issue 6) ---

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
    # --- map (issue 6) ---
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
    # --- end map (issue 6) ---
]
