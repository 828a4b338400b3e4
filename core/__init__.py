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
]
