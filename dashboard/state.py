"""The view state: every choice that defines what the user sees, and its share link.

:class:`ViewState` is a frozen dataclass. Each field declares its URL key; ``to_query``
writes the non-default fields, ``from_query`` reads them back and turns anything unknown or
malformed into the default plus a warning (never an exception). The page is the URL's
path (Streamlit's navigation owns it); :func:`share_url` joins path and query.

Pure: no Streamlit here (``import dashboard.state`` works without it). :func:`validate` checks
every field (type, choices, bounds, and with a dataset the values that name its rows, columns and
views), once per session for the whole link. The session glue (the canonical state in
``st.session_state``, widget binding, the address bar) is :mod:`dashboard.session`.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from urllib.parse import unquote, urlencode

__all__ = [
    "ViewState",
    "VERSION",
    "SCOPES",
    "PAGES",
    "share_url",
    "rescope",
    "rescope_note",
    "validate",
    "drop_row_fields",
    "spectra_panels",
    "page_fields",
    "encode_selection",
    "decode_selection",
    "COMPARISON_METRICS",
    "TRAJECTORY_METRICS",
]

VERSION = 1


SCOPES = ("app", "dataset", "view")
"""What a field belongs to: the whole app (a method or setting), one dataset (a column, rows, the
view), or one view of it (a second view paired with it). When the dataset changes, every
dataset- and view-scoped field goes back to its default; when the view changes, every
view-scoped one (:func:`rescope`)."""


PAGES = {"": "", "data": "data_", "spectra": "spectra_", "geometry": "geo_", "map": "map_", "compare": "cmp_", "rashomon": "rsh_"}
"""The page a field belongs to, and the prefix every field of that page's name carries ("": shared by
every page: the dataset, the view, the page itself)."""


COMPARISON_METRICS = ("cka", "cka_debiased", "procrustes", "mutual_knn", "rsa", "cca")
"""The Compare page's matrix / reference metrics: ``core.similarity.COMPARISON_METRICS`` (a test checks
they agree; spelled out here because this module does not import core)."""

TRAJECTORY_METRICS = ("effective_rank", "participation_ratio", "stable_rank", "rankme", "alpha", "vendi",
                      "intrinsic_dimension", "nc1")
"""Single-view metrics the Compare page draws against step (``core.similarity.SINGLE_VIEW_METRICS``)."""


def _key(name: str, *, page: str, scope: str, **extra) -> dict:
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {SCOPES}")
    if page not in PAGES:
        raise ValueError(f"page {page!r} is not one of {list(PAGES)}")
    return {"key": name, "page": page, "scope": scope, **extra}


@dataclass(frozen=True)
class ViewState:
    """Everything that defines a view. Field metadata: ``key`` (URL parameter), ``page`` (see
    :data:`PAGES`; the field's name starts with that page's prefix), ``scope`` (see :data:`SCOPES`),
    and optionally ``choices``, ``item_choices`` (of each item of a tuple), ``size`` (of a tuple: that
    many items or none), ``bounds``, ``label``.
    :func:`validate` checks them all."""

    dataset: str = field(default="", metadata=_key("ds", page="", scope="app"))
    view: str = field(default="", metadata=_key("view", page="", scope="dataset"))
    fingerprint: str = field(default="", metadata=_key("fp", page="", scope="dataset"))
    """The first 8 hex digits of the dataset's fingerprint when the link was made."""
    drop_nonfinite: bool = field(default=False, metadata=_key("nf", page="", scope="dataset"))
    """Leave out rows holding NaN / inf for this view (the files are never changed)."""
    data_search: str = field(default="", metadata=_key("q", page="data", scope="dataset"))
    """Data page: text filter on the metadata table (URL key ``q``, as before the page prefix)."""
    data_health_all: bool = field(default=False, metadata=_key("dha", page="data", scope="app"))
    """Data page: the health table of every view ("Check every view") under the current view's report."""
    page: str = field(default="", metadata=_key("", page="", scope="app", path=True))
    """The page's URL path (e.g. ``"data"``); lives in the URL path, not the query."""

    # --- spectra ---
    spectra_panel: str = field(default="class", metadata=_key("sp", page="spectra", scope="app", choices=("class", "training", "paired")))
    """Spectra page: the lower panel shown (per class, over training, paired views)."""
    spectra_kernel: str = field(default="cosine", metadata=_key("sk", page="spectra", scope="app", choices=("cosine", "rbf")))
    """Spectra page: kernel of the Vendi score and the Hill curve."""
    spectra_q: float = field(default=1.0, metadata=_key("sq", page="spectra", scope="app", bounds=(0.01, 1000.0)))
    """Spectra page: order q of the Vendi score."""
    spectra_eps2: float = field(default=0.5, metadata=_key("se", page="spectra", scope="app", bounds=(1e-6, 1e6)))
    """Spectra page: eps^2 of the coding rate and rate reduction."""
    spectra_sigma: float = field(default=10.0, metadata=_key("ssig", page="spectra", scope="app", bounds=(1e-6, 1e6)))
    """Spectra page: DSE / DSMI bandwidth (the paper's default 10) when the rule is "fixed"."""
    spectra_sigma_rule: str = field(default="fixed", metadata=_key("ssr", page="spectra", scope="app", choices=("fixed", "median")))
    """Spectra page: DSE bandwidth rule; "median" (median pairwise distance) deviates from the paper."""
    spectra_t: int = field(default=1, metadata=_key("st", page="spectra", scope="app", bounds=(1, 64)))
    """Spectra page: DSE diffusion steps t."""
    spectra_sample: int = field(default=3000, metadata=_key("sn", page="spectra", scope="app", bounds=(50, 10000)))
    """Spectra page: largest sample for the n x n computations (DSE, DSMI, RBF Vendi)."""
    spectra_class: str = field(default="", metadata=_key("sc", page="spectra", scope="dataset"))
    """Spectra page: the categorical metadata column used as the class ("" = the first one)."""
    spectra_metric: str = field(default="dse", metadata=_key("sm", page="spectra", scope="app", choices=(
        "dse", "dsmi", "vendi", "coding_rate", "rate_reduction", "participation_ratio",
        "effective_rank", "rankme", "pca_95", "alpha")))
    """Spectra page: the metric drawn over training steps."""
    spectra_pair: str = field(default="", metadata=_key("spv", page="spectra", scope="view"))
    """Spectra page: the view paired with the current one for SCE ("" = the first other modality)."""
    spectra_sce_kernel: str = field(default="linear", metadata=_key("ssk", page="spectra", scope="app", choices=("linear", "rff")))
    """Spectra page: SCE feature map."""

    # --- geometry ---
    geo_metric: str = field(default="cosine", metadata=_key("gm", page="geometry", scope="app", choices=("cosine", "euclidean")))
    """Geometry page: the metric of the shared kNN graph and of every geometry metric."""
    geo_neighbors: int = field(default=15, metadata=_key("gk", page="geometry", scope="app", choices=(5, 10, 15, 20, 30, 50)))
    """Geometry page: neighbours per point for kNN purity."""
    geo_id_method: str = field(default="twonn", metadata=_key("gid", page="geometry", scope="app", choices=("twonn", "mle", "pca")))
    """Geometry page: the intrinsic-dimension estimator on the card."""
    geo_hub_k: int = field(default=10, metadata=_key("gh", page="geometry", scope="app", choices=(5, 10, 20, 50)))
    """Geometry page: k of the k-occurrence (hubness)."""
    geo_label: str = field(default="label", metadata=_key("gl", page="geometry", scope="dataset"))
    """Geometry page: the metadata column holding class labels (without one: the first usable)."""
    # --- map ---
    map_method: str = field(default="pca", metadata=_key("mm", page="map", scope="app", choices=("pca", "umap", "tsne")))
    """Map page: projection method."""
    map_dims: int = field(default=2, metadata=_key("md", page="map", scope="app", choices=(2, 3)))
    map_metric: str = field(default="cosine", metadata=_key("mx", page="map", scope="app", choices=("cosine", "euclidean")))
    """Distance of the kNN graph behind UMAP / t-SNE and of the quality scores."""
    map_neighbors: int = field(default=15, metadata=_key("mk", page="map", scope="app", bounds=(2, 200), label="UMAP n_neighbors"))
    """UMAP n_neighbors."""
    map_min_dist: float = field(default=0.1, metadata=_key("mmd", page="map", scope="app", bounds=(0.0, 1.0), label="UMAP min_dist"))
    """UMAP min_dist."""
    map_perplexity: float = field(default=30.0, metadata=_key("mp", page="map", scope="app", bounds=(2.0, 200.0), label="t-SNE perplexity"))
    """t-SNE perplexity."""
    map_seed: int = field(default=0, metadata=_key("ms", page="map", scope="app", bounds=(0, 2**31 - 1), label="seed"))
    map_parallel: bool = field(default=False, metadata=_key("mpl", page="map", scope="app"))
    """UMAP on every core, the seed ignored (faster; a recomputation gives another map)."""
    map_color: str = field(default="", metadata=_key("mc", page="map", scope="dataset"))
    """"" (automatic), "none", a metadata column, or "metric:<key>" (a per-point metric)."""
    map_filter: tuple[str, ...] = field(default=(), metadata=_key("mf", page="map", scope="dataset"))
    """Metadata filter clauses: "label=3" (alternatives within a column), "ink>=100"."""
    map_filter_mode: str = field(default="display", metadata=_key("mfm", page="map", scope="app", choices=("display", "project")))
    """Filter only what is drawn ("display") or project only the kept items ("project")."""
    map_selection: str = field(default="", metadata=_key("msel", page="map", scope="dataset", rows=True))
    """Selected items (dataset row numbers), encoded by :func:`encode_selection`."""
    map_item: int = field(default=-1, metadata=_key("mi", page="map", scope="dataset", rows=True))
    """The inspected (clicked) item's row number; -1 for none."""
    map_view2: str = field(default="", metadata=_key("mv2", page="map", scope="view"))
    """Side by side: the second view's name ("" for one map)."""
    map_render: str = field(default="auto", metadata=_key("mr", page="map", scope="app", choices=("auto", "points", "density")))
    """Draw every point, or a density image with a declared sample on top ("auto": by size)."""
    map_tab: str = field(default="Selection", metadata=_key("mt", page="map", scope="app", choices=(
        "Selection", "Item", "Details")))
    """Map page: the side panel's tab (its label: Streamlit's stateful tabs hold the label)."""

    # --- compare ---
    cmp_view2: str = field(default="", metadata=_key("cv2", page="compare", scope="dataset"))
    """Compare page: the view compared with the sidebar's ("" or the sidebar's own: the default second
    view, :func:`dashboard.views.compare.default_second`). Dataset-scoped: it names a view of the
    dataset, so it stays when the sidebar's view changes."""
    cmp_cka_kernel: str = field(default="linear", metadata=_key("cck", page="compare", scope="app", choices=("linear", "rbf")))
    """Compare page: CKA kernel (RBF: bandwidth 0.5 x the median distance, sampled above ``cmp_sample`` rows)."""
    cmp_cka_debiased: bool = field(default=False, metadata=_key("ccd", page="compare", scope="app"))
    """Compare page: CKA with the unbiased HSIC estimator (Song et al. 2012)."""
    cmp_k: int = field(default=10, metadata=_key("ck", page="compare", scope="app", choices=(5, 10, 15, 20, 30, 50)))
    """Compare page: neighbours k of the mutual kNN alignment (and of "what moved")."""
    cmp_metric: str = field(default="cosine", metadata=_key("cm", page="compare", scope="app", choices=("cosine", "euclidean")))
    """Compare page: distance of the mutual kNN graphs and of RSA's distance matrices."""
    cmp_sample: int = field(default=2000, metadata=_key("cn", page="compare", scope="app", bounds=(50, 20000), label="sample size"))
    """Compare page: largest sample for the n x n computations (RSA, RBF CKA); above it a seeded subsample."""
    cmp_seed: int = field(default=0, metadata=_key("cs", page="compare", scope="app", bounds=(0, 2**31 - 1), label="seed"))
    """Compare page: seed of those subsamples."""
    cmp_panel: str = field(default="matrix", metadata=_key("cp", page="compare", scope="app", choices=(
        "units", "matrix", "moved", "trajectories")))
    """Compare page: the section shown below the cards (one at a time: each computes on its own)."""
    cmp_matrix_metric: str = field(default="cka", metadata=_key("cmx", page="compare", scope="app", choices=COMPARISON_METRICS))
    """Compare page: the comparison metric of the matrix over every view."""
    cmp_order: str = field(default="run", metadata=_key("co", page="compare", scope="app", choices=("run", "layer", "step")))
    """Compare page: the matrix's order: by run, layer, step (or layer first, or step first)."""
    cmp_traj_metrics: tuple[str, ...] = field(default=("effective_rank",), metadata=_key(
        "ctm", page="compare", scope="app", item_choices=TRAJECTORY_METRICS))
    """Compare page: single-view metrics drawn against step, one line per run / layer."""
    cmp_traj_compare: str = field(default="cka", metadata=_key("ctc", page="compare", scope="app", choices=("", *COMPARISON_METRICS)))
    """Compare page: the comparison metric of each view against the reference ("" for none)."""
    cmp_reference: str = field(default="", metadata=_key("cref", page="compare", scope="dataset"))
    """Compare page: the trajectories' reference view ("" = each line's own final checkpoint)."""
    cmp_moved_method: str = field(default="pca", metadata=_key("cmm", page="compare", scope="app", choices=("pca", "umap", "tsne")))
    """Compare page: the projection of the two aligned "what moved" maps (the Map page's)."""
    cmp_moved_top: int = field(default=50, metadata=_key("cmt", page="compare", scope="app", choices=(10, 25, 50, 100, 250, 500)))
    """Compare page: how many of the items that moved most are listed (and opened on the Map)."""
    # --- rashomon ---
    rsh_target: str = field(default="", metadata=_key("rt", page="rashomon", scope="dataset"))
    """Rashomon page: the label column the reference model predicts ("" = the first label-like one)."""
    rsh_source: str = field(default="pcs", metadata=_key("rsrc", page="rashomon", scope="app", choices=("pcs", "metadata")))
    """Rashomon page: the model's inputs: the top principal components of the view, or numeric metadata columns."""
    rsh_p: int = field(default=6, metadata=_key("rp", page="rashomon", scope="app", bounds=(2, 12), label="number of PCs"))
    """Rashomon page: how many principal components are the features (source "pcs")."""
    rsh_features: tuple[str, ...] = field(default=(), metadata=_key("rf", page="rashomon", scope="dataset"))
    """Rashomon page: the numeric metadata columns used as features (source "metadata"; () = all of them)."""
    rsh_model: str = field(default="logistic", metadata=_key("rm", page="rashomon", scope="app", choices=("logistic", "mlp")))
    """Rashomon page: the reference model (logistic regression or a small MLP, scikit-learn)."""
    rsh_eps_rate: float = field(default=0.1, metadata=_key("rer", page="rashomon", scope="app", bounds=(0.001, 10.0), label="epsilon rate"))
    """Rashomon page: epsilon = rate x L* (the paper's default 0.1), unless an absolute epsilon is set."""
    rsh_epsilon: float = field(default=0.0, metadata=_key("rea", page="rashomon", scope="app", bounds=(0.0, 1e6), label="absolute epsilon"))
    """Rashomon page: absolute epsilon (0 = use the rate); needed when L* = 0."""
    rsh_perms: int = field(default=30, metadata=_key("rnp", page="rashomon", scope="app", choices=(5, 10, 30, 100)))
    """Rashomon page: permutations per feature for the main effects (the paper's 30)."""
    rsh_pair_perms: int = field(default=100, metadata=_key("rnpp", page="rashomon", scope="app", choices=(10, 30, 100, 300)))
    """Rashomon page: permutations per pair for the FIS (the paper's 100)."""
    rsh_seed: int = field(default=0, metadata=_key("rs", page="rashomon", scope="app", bounds=(0, 2**31 - 1), label="Rashomon seed"))
    """Rashomon page: seed of the model fit, the row sample and the permutations."""
    rsh_rows: int = field(default=2000, metadata=_key("rn", page="rashomon", scope="app", bounds=(50, 100_000), label="Rashomon rows"))
    """Rashomon page: the most rows used (a seeded, declared sample above)."""
    rsh_pair: tuple[str, ...] = field(default=(), metadata=_key("rpr", page="rashomon", scope="dataset", size=2))
    """Rashomon page: the pair of feature names the halo plot shows (() = the first pair)."""
    rsh_abs: bool = field(default=False, metadata=_key("rab", page="rashomon", scope="app"))
    """Rashomon page: draw |FIS| (and |main effect|) in the swarms."""
    rsh_box: bool = field(default=False, metadata=_key("rbx", page="rashomon", scope="app"))
    """Rashomon page: a box plot over each swarm row."""
    rsh_outside: bool = field(default=False, metadata=_key("rout", page="rashomon", scope="app"))
    """Rashomon page: also draw the joint models whose loss exceeds L* + epsilon (in_set False)."""
    rsh_nested: tuple[float, ...] = field(default=(), metadata=_key("rne", page="rashomon", scope="app"))
    """Rashomon page: further halos at these multiples of epsilon (each its own Rashomon set)."""
    rsh_run_score: str = field(default="", metadata=_key("rrs", page="rashomon", scope="dataset"))
    """Rashomon page: the recorded per-view score (manifest ``extra``) of the runs' set ("" = the first)."""
    rsh_run_dir: str = field(default="auto", metadata=_key("rrd", page="rashomon", scope="app", choices=("auto", "lower", "higher")))
    """Rashomon page: whether a lower or higher score is better ("auto": by the score's name)."""
    rsh_run_eps: float = field(default=0.1, metadata=_key("rre", page="rashomon", scope="app", bounds=(0.0, 10.0), label="runs epsilon rate"))
    """Rashomon page: runs within this rate of the best score form the empirical Rashomon set."""
    rsh_run_metric: str = field(default="effective_rank", metadata=_key("rrm", page="rashomon", scope="app", choices=("effective_rank", "vendi", "twonn", "nc1")))
    """Rashomon page: the single-view metric drawn across the runs of the set."""

    def with_valid_bounds(self, *, prefix: str = "") -> tuple[ViewState, list[str]]:
        """Fields (named ``prefix...``) outside their metadata ``bounds`` reset to the default, with a
        warning each. Part of :func:`validate`, which the app runs once per session for every field;
        kept for callers that check one page's numbers."""
        return _check_fields(self, [f for f in fields(self) if f.name.startswith(prefix)], types=False)

    # ------------------------------------------------------------------ encoding

    def to_query(self) -> dict[str, str]:
        """Short, stable URL parameters: version ``v`` plus every field that is not default."""
        out = {"v": str(VERSION)}
        for f in fields(self):
            if f.metadata.get("path"):
                continue
            value = getattr(self, f.name)
            if value == f.default:
                continue
            out[f.metadata["key"]] = _encode(value)
        return out

    @classmethod
    def from_query(cls, query: Mapping[str, str | list[str]], *, page: str = "") -> tuple[ViewState, list[str]]:
        """Read URL parameters; returns the state and human-readable warnings.

        Unknown keys, malformed values and values outside a field's choices are dropped
        (the field keeps its default) with a warning each; nothing here raises.
        """
        warnings: list[str] = []
        by_key = {f.metadata["key"]: f for f in fields(cls) if not f.metadata.get("path")}
        values: dict[str, object] = {}
        for key, raw in query.items():
            if isinstance(raw, (list, tuple)):
                raw = raw[-1] if raw else ""
            raw = str(raw)
            if key == "v":
                if raw != str(VERSION):
                    warnings.append(
                        f"This link was made by a different EmbedLens link version (v={_short(raw)}); "
                        f"reading it as v={VERSION}, settings that no longer exist are ignored."
                    )
                continue
            f = by_key.get(key)
            if f is None:
                warnings.append(f"Ignored unknown link parameter {_short(key)!r}.")
                continue
            try:
                value = _decode(raw, _field_type(cls, f))
            except ValueError:
                warnings.append(f"Ignored {key}={_short(raw)!r}: not a valid {f.name.replace('_', ' ')}.")
                continue
            choices = f.metadata.get("choices")
            if choices is not None and value not in choices:
                warnings.append(
                    f"Ignored {key}={_short(raw)!r}: {f.name.replace('_', ' ')} must be one of {list(choices)}."
                )
                continue
            values[f.name] = value
        return cls(page=page, **values), warnings


def _field_type(cls, f: dataclasses.Field) -> type:
    return typing.get_type_hints(cls)[f.name]


def _num(x) -> str:
    """A bound or default in a message: integers as they are, floats without trailing zeros."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def _encode(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        if value == ("",):  # "" means (); a bare "%" is never produced by _escape_item
            return "%"
        return ",".join(_escape_item(str(v)) for v in value)
    return str(value)


def _escape_item(text: str) -> str:
    """One item of a tuple field in the link: only the separator "," and the escape "%" itself are
    percent-encoded (``unquote`` reads them back; links made when every character was quoted read the
    same). The address bar encodes the rest once: "label=3" travels as ``label%3D3``, not ``label%253D3``."""
    return text.replace("%", "%25").replace(",", "%2C")


def _decode(raw: str, typ) -> object:
    origin = typing.get_origin(typ)
    if typ is bool:
        if raw in {"1", "true", "True"}:
            return True
        if raw in {"0", "false", "False"}:
            return False
        raise ValueError(raw)
    if typ is int:
        return int(raw)
    if typ is float:
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(raw)
        return value
    if origin is tuple:
        (inner, *_rest) = typing.get_args(typ)
        if raw == "":
            return ()
        if raw == "%":
            return ("",)
        return tuple(_decode(unquote(part), inner) for part in raw.split(","))
    if typ is str:
        return raw
    raise ValueError(f"no codec for {typ}")


_WHAT = {
    "drop_nonfinite": "rows with NaN / inf left out", "data_search": "the metadata search",
    "spectra_class": "the class column", "spectra_pair": "the paired view", "geo_label": "the label column",
    "map_color": "the map colour", "map_filter": "the map filter", "map_selection": "the map selection",
    "map_item": "the inspected item", "map_view2": "the second map view",
    "cmp_view2": "the compared view", "cmp_reference": "the trajectories' reference view",
    "rsh_target": "the Rashomon target column", "rsh_features": "the Rashomon feature columns",
    "rsh_pair": "the Rashomon pair", "rsh_run_score": "the runs' score",
}
_ROUTINE = {"view", "fingerprint"}  # re-resolved for the new dataset; not worth a note


def rescope(old: ViewState, new: ViewState) -> tuple[ViewState, list[str]]:
    """``new`` with the fields that belonged to ``old``'s dataset / view reset, and what was dropped.

    When ``new.dataset`` differs from a set ``old.dataset``, every field whose metadata
    ``scope`` is "dataset" or "view" goes back to its default unless it was changed together
    with the dataset (``new`` differs from ``old`` there); when only ``new.view`` differs from
    a set ``old.view``, every "view" field does. An empty old value means "not resolved yet"
    (a link without it), and resets nothing. Returns the state and the names of the fields
    reset from a non-default value, for a note.

    >>> old = ViewState(dataset="a", view="v", map_selection="r3.17", map_method="umap")
    >>> new, dropped = rescope(old, replace(old, dataset="b"))
    >>> (new.map_selection, new.view, new.map_method, dropped)
    ('', '', 'umap', ['map_selection'])
    """
    if old.dataset and new.dataset != old.dataset:
        scopes = {"dataset", "view"}
    elif old.view and new.view != old.view and new.dataset == old.dataset:
        scopes = {"view"}
    else:
        return new, []
    reset, dropped = {}, []
    for f in fields(new):
        if f.metadata["scope"] not in scopes or getattr(new, f.name) != getattr(old, f.name):
            continue  # another scope, or set together with the dataset / view (e.g. an upload's)
        if getattr(new, f.name) != f.default:
            reset[f.name] = f.default
            if f.name not in _ROUTINE:
                dropped.append(f.name)
    return (replace(new, **reset) if reset else new), dropped


def rescope_note(old: ViewState, new: ViewState, dropped: list[str]) -> str:
    """The note shown when a dataset or view change dropped fields that belonged to the old one."""
    what = ", ".join(f"{_WHAT.get(n, n.replace('_', ' '))} ({_field(n).metadata['key']}="
                     f"{_short(_encode(getattr(old, n)))})" for n in dropped)
    if not new.dataset:
        return f"Closed dataset {old.dataset!r}: dropped {what}, which belonged to it."
    if new.dataset != old.dataset:
        return (f"Switched from dataset {old.dataset!r} to {new.dataset!r}: dropped {what}, which belonged "
                f"to {old.dataset!r}.")
    return f"Switched from view {old.view!r} to {new.view!r}: dropped {what}, which belonged to {old.view!r}."


def _field(name: str) -> dataclasses.Field:
    return next(f for f in fields(ViewState) if f.name == name)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def share_url(state: ViewState, base: str | None = None) -> str:
    """The link that reopens ``state``: ``base`` (scheme://host[:port]) + page path + query.

    Without ``base`` the link is relative (``/data?v=1&ds=...``).
    """
    root = (base or "").rstrip("/")
    path = f"/{state.page}" if state.page else "/"
    return f"{root}{path}?{urlencode(state.to_query())}"


# --------------------------------------------------------------------------- validation


def page_fields(page: str) -> list[str]:
    """Names of the fields of ``page`` (a key of :data:`PAGES`; "" for the shared ones), in order."""
    return [f.name for f in fields(ViewState) if f.metadata["page"] == page]


def _type_ok(value, typ) -> bool:
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and value == value and value not in (float("inf"), float("-inf")))
    if typing.get_origin(typ) is tuple:
        (inner, *_rest) = typing.get_args(typ)
        return isinstance(value, tuple) and all(_type_ok(v, inner) for v in value)
    return isinstance(value, typ)


def _check_fields(state: ViewState, fs, *, types: bool = True) -> tuple[ViewState, list[str]]:
    """Fields of ``fs`` of the wrong type, outside their ``choices`` or their ``bounds`` (inclusive),
    back to the default, with a warning each (naming the field by its ``label`` or URL key)."""
    changes, warnings = {}, []
    hints = typing.get_type_hints(ViewState)
    for f in fs:
        value, key, name = getattr(state, f.name), f.metadata["key"], f.name.replace("_", " ")
        if types and not _type_ok(value, hints[f.name]):
            changes[f.name] = f.default
            warnings.append(f"Ignored {key}={_short(str(value))!r}: not a valid {name}.")
            continue
        items = f.metadata.get("item_choices")
        if types and items is not None and any(v not in items for v in value):
            kept = tuple(v for v in value if v in items)
            changes[f.name] = kept if kept or not value else f.default  # none left: the default, not nothing
            warnings.append(f"Ignored {key}={_encode(tuple(v for v in value if v not in items))!r}: each "
                            f"{name} must be one of {list(items)}.")
            continue
        size = f.metadata.get("size")
        if types and size is not None and value and len(value) != size:
            changes[f.name] = f.default
            warnings.append(f"Ignored {key}={_short(_encode(value))!r}: {name} must name {size} items.")
            continue
        choices, bounds = f.metadata.get("choices"), f.metadata.get("bounds")
        if types and choices is not None and value not in choices:
            changes[f.name] = f.default
            warnings.append(f"Ignored {key}={_encode(value)!r}: {name} must be one of {list(choices)}.")
        elif bounds is not None and not bounds[0] <= value <= bounds[1]:
            changes[f.name] = f.default
            label = f.metadata.get("label")
            subject, what = (label, "it") if label else (key, name)
            warnings.append(f"Ignored {subject}={_encode(value)}: {what} must be between {_num(bounds[0])} "
                            f"and {_num(bounds[1])}; using {_num(f.default)}.")
    return (replace(state, **changes) if changes else state), warnings


def validate(state: ViewState, dataset=None, *, options: Mapping[str, typing.Collection] | None = None,
             fallbacks: Mapping[str, str] | None = None) -> tuple[ViewState, list[str]]:
    """``state`` with every value that does not hold back at its default, and one warning per value dropped.

    Without ``dataset``: each field's type, ``choices`` and ``bounds`` (field metadata). With a
    :class:`core.Dataset` also what names its rows, columns and views: the map's selection
    (:func:`decode_selection` for ``dataset.n`` rows), inspected item (``-1 <= map_item < n``),
    filter (parsed and applied to the metadata), second view, the paired view and the panel
    (:func:`spectra_panels`) of the Spectra page, the compared and reference views of the Compare
    page, and UMAP / t-SNE on fewer than 5 items. ``options`` gives, per field name, the values the dataset
    allows that only the caller can list (the map colours, label and class columns: their lists go
    through the app's caches); ``fallbacks`` names, for the message, what a page shows instead (the
    label column used when the linked one is missing). The app runs this once per session for the
    whole link, whatever the page (``dashboard.context.check_link``). Never raises on bad values.

    >>> validate(ViewState(spectra_q=-1.0))[1]
    ['Ignored sq=-1.0: spectra q must be between 0.01 and 1000; using 1.']
    """
    state, warnings = _check_fields(state, fields(state))
    if dataset is None:
        return state, warnings
    from core import EmbedLensInputError
    from core.selection import filter_mask, parse_filter

    options, fallbacks = options or {}, fallbacks or {}
    ds, changes = dataset, {}
    if "map_color" in options and state.map_color and state.map_color not in options["map_color"]:
        changes["map_color"] = ""
        warnings.append(f"Ignored colour {_short(state.map_color)!r}: this dataset has no such column or metric.")
    if state.map_filter:
        try:
            parse_filter(state.map_filter)
            filter_mask(ds.metadata, state.map_filter)
        except EmbedLensInputError as exc:
            changes["map_filter"] = ()
            warnings.append(f"Ignored the link's filter: {exc}")
    if state.map_selection:
        try:
            decode_selection(state.map_selection, ds.n)
        except ValueError as exc:
            changes["map_selection"] = ""
            warnings.append(f"Ignored the link's selection: {exc}.")
    if not -1 <= state.map_item < ds.n:
        changes["map_item"] = -1
        warnings.append(f"Ignored inspected item {state.map_item}: this dataset has rows 0 to {ds.n - 1}"
                        + (" (positions in the pages' sample of the out-of-core dataset; the id column names each "
                           "item)." if getattr(ds, "sample", None) is not None else "."))
    if state.map_view2 and (state.map_view2 not in ds.view_names or state.map_view2 == state.view):
        changes["map_view2"] = ""
        if state.map_view2 not in ds.view_names:
            warnings.append(f"Ignored the second view {_short(state.map_view2)!r}: dataset {ds.name!r} has no "
                            "such view.")
    if state.map_method != "pca" and ds.n < 5:
        changes["map_method"] = "pca"
        warnings.append(f"{state.map_method.upper()} needs at least 5 items; showing PCA.")
    if state.spectra_pair and state.spectra_pair not in ds.view_names:
        changes["spectra_pair"] = ""
        warnings.append(f"Ignored the paired view {_short(state.spectra_pair)!r}: dataset {ds.name!r} has no such view.")
    if state.spectra_panel != "class":
        view = ds.view(state.view) if state.view in ds.view_names else ds.views[0]
        if not spectra_panels(ds, view).get(state.spectra_panel, True):
            changes["spectra_panel"] = "class"
            warnings.append(f"Ignored sp={state.spectra_panel!r}: view {view.name!r} of dataset {ds.name!r} "
                            f"has no {_PANEL_NEEDS[state.spectra_panel]}; showing the per-class panel.")
    if "spectra_class" in options and state.spectra_class and state.spectra_class not in options["spectra_class"]:
        changes["spectra_class"] = ""
        warnings.append(f"Ignored the class column {_short(state.spectra_class)!r}: dataset {ds.name!r} has no such "
                        "column that can serve as classes.")
    for name, what in (("cmp_view2", "compared view"), ("cmp_reference", "reference view")):
        if getattr(state, name) and getattr(state, name) not in ds.view_names:
            changes[name] = ""
            warnings.append(f"Ignored the {what} {getattr(state, name)!r}: dataset {ds.name!r} has no such view.")
    default_label = _field("geo_label").default
    if "geo_label" in options and state.geo_label != default_label and state.geo_label not in options["geo_label"]:
        changes["geo_label"] = default_label
        warnings.append(f"This dataset has no label column {_short(state.geo_label)!r}; using "
                        f"{fallbacks.get('geo_label', 'none')!r}.")
    return (replace(state, **changes) if changes else state), warnings


def drop_row_fields(state: ViewState) -> tuple[ViewState, str]:
    """``state`` without the values that name dataset row numbers (field metadata ``rows``: the map
    selection, the inspected item), and a note naming what was dropped ("" when nothing was set).

    Used when the link's dataset fingerprint differs from the data's: the same row numbers may name
    other items now. The other settings are kept.

    >>> drop_row_fields(ViewState(map_selection="r3.17", map_method="umap"))[0].map_method
    'umap'
    """
    reset = {f.name: f.default for f in fields(state)
             if f.metadata.get("rows") and getattr(state, f.name) != f.default}
    if not reset:
        return state, ""
    what = ", ".join(f"{_WHAT.get(n, n.replace('_', ' '))} ({_field(n).metadata['key']}="
                     f"{_short(_encode(getattr(state, n)))})" for n in reset)
    return replace(state, **reset), (f"Dropped {what}: row numbers of changed data may name other items. "
                                     "The other settings are kept.")


def spectra_panels(ds, view=None) -> dict[str, bool]:
    """Which lower panels of the Spectra page ``ds`` (a :class:`core.Dataset`) offers for ``view`` (its
    first view by default): "training" needs more than one view with a step, "paired" a modality on
    ``view`` and another view of another modality. "class" is listed as True (its class columns are the
    page's to check). The Spectra page uses the same rule."""
    view = ds.views[0] if view is None else view
    return {"class": True,
            "training": sum(v.step is not None for v in ds.views) > 1,
            "paired": bool(view.modality) and any(v.modality and v.modality != view.modality for v in ds.views)}


_PANEL_NEEDS = {"training": "views at more than one training step", "paired": "second view of another modality"}


# --- map ---
# Selections travel in the link as dataset row numbers (the fingerprint in the link pins the
# row order): "r3.17.40" lists them when few; "b<n>.<base64url of zlib of the packed bitmap>"
# otherwise. The shorter of the two is used, so a link stays short for a handful of items
# and bounded (n / 6 characters at worst) for any selection.


def encode_selection(rows, n: int) -> str:
    """The shortest link form of the row numbers ``rows`` (any order, repeats ignored) out of ``n``.

    >>> encode_selection([40, 3, 17], 1797)
    'r3.17.40'
    >>> encode_selection(range(1000), 1797)[:6]
    'b1797.'
    >>> encode_selection([], 10)
    ''
    """
    import base64
    import zlib

    import numpy as np

    rows = np.unique(np.asarray(rows, dtype=np.int64).ravel())
    if rows.size == 0:
        return ""
    if rows[0] < 0 or rows[-1] >= n:
        raise ValueError(f"selected rows must lie in 0..{n - 1}")
    listed = "r" + ".".join(map(str, rows.tolist())) if rows.size <= 4096 else None
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    packed = zlib.compress(np.packbits(mask).tobytes(), 9)
    bitmap = f"b{n}." + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    return listed if listed is not None and len(listed) <= len(bitmap) else bitmap


def decode_selection(text: str, n: int):
    """Row numbers (sorted int64 array) of an :func:`encode_selection` string for ``n`` items.

    Raises ``ValueError`` naming the problem for anything malformed or made for another n.

    >>> decode_selection("r3.17.40", 1797).tolist()
    [3, 17, 40]
    """
    import base64
    import binascii
    import zlib

    import numpy as np

    if not text:
        return np.empty(0, dtype=np.int64)
    if text[0] == "r":
        try:
            rows = np.array([int(part) for part in text[1:].split(".")], dtype=np.int64)
        except ValueError:
            raise ValueError("the selection's row list is not numbers separated by dots") from None
        except OverflowError:  # beyond int64
            raise ValueError(f"the selection names rows outside 0..{n - 1}; it was made for other data") from None
        if rows.min() < 0 or rows.max() >= n:
            raise ValueError(f"the selection names rows outside 0..{n - 1}; it was made for other data")
        return np.unique(rows)
    if text[0] == "b":
        head, _, payload = text[1:].partition(".")
        if not head.isdigit() or int(head) != n:
            raise ValueError(f"the selection was made for {head} items; this data has {n}")
        size = (n + 7) // 8
        try:  # bounded: a few kB of link must not inflate into megabytes on the server
            inflate = zlib.decompressobj()
            raw = inflate.decompress(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)), size + 1)
        except (binascii.Error, zlib.error, ValueError):
            raise ValueError("the selection's bitmap is damaged") from None
        if len(raw) > size or inflate.unconsumed_tail:
            raise ValueError(f"the selection's bitmap decompressed beyond the {size} bytes {n} items need")
        if not inflate.eof:  # a truncated stream (zlib.decompress raised for it)
            raise ValueError("the selection's bitmap is damaged")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
        if len(bits) != (n + 7) // 8 * 8 or bits[n:].any():
            raise ValueError("the selection's bitmap has the wrong length")
        return np.flatnonzero(bits[:n]).astype(np.int64)
    raise ValueError("a selection starts with 'r' (row list) or 'b' (bitmap)")


