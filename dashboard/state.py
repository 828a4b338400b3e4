"""The view state: every choice that defines what the user sees, and its share link.

:class:`ViewState` is a frozen dataclass. Each field declares its URL key; ``to_query``
writes the non-default fields, ``from_query`` reads them back and turns anything unknown or
malformed into the default plus a warning (never an exception). The page is the URL's
path (Streamlit's navigation owns it); :func:`share_url` joins path and query.

The session keeps one canonical ``ViewState`` (widgets come and go with pages, and Streamlit
forgets a widget's value when it is not drawn); widgets are seeded from it and write back
to it from their ``on_change`` callbacks, and the app writes it to the URL on every run, so
the address bar always holds the current view.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from urllib.parse import quote, unquote, urlencode

__all__ = [
    "ViewState",
    "VERSION",
    "share_url",
    "current",
    "init",
    "update",
    "SCOPES",
    "rescope",
    "widget_key",
    "sync_url",
    "link_warnings",
]

VERSION = 1


SCOPES = ("app", "dataset", "view")
"""What a field belongs to: the whole app (a method or setting), one dataset (a column, rows, the
view), or one view of it (a second view paired with it). When the dataset changes, every
dataset- and view-scoped field goes back to its default; when the view changes, every
view-scoped one (:func:`rescope`)."""


def _key(name: str, *, scope: str, **extra) -> dict:
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {SCOPES}")
    return {"key": name, "scope": scope, **extra}


@dataclass(frozen=True)
class ViewState:
    """Everything that defines a view. Field metadata: ``key`` (URL parameter), ``scope`` (see
    :data:`SCOPES`), and optionally ``choices``, ``bounds``, ``label``."""

    dataset: str = field(default="", metadata=_key("ds", scope="app"))
    view: str = field(default="", metadata=_key("view", scope="dataset"))
    fingerprint: str = field(default="", metadata=_key("fp", scope="dataset"))
    """The first 8 hex digits of the dataset's fingerprint when the link was made."""
    drop_nonfinite: bool = field(default=False, metadata=_key("nf", scope="dataset"))
    """Leave out rows holding NaN / inf for this view (the files are never changed)."""
    search: str = field(default="", metadata=_key("q", scope="dataset"))
    """Data page: text filter on the metadata table."""
    page: str = field(default="", metadata=_key("", scope="app", path=True))
    """The page's URL path (e.g. ``"data"``); lives in the URL path, not the query."""

    # --- spectra ---
    spectra_panel: str = field(default="class", metadata=_key("sp", scope="app", choices=("class", "training", "paired")))
    """Spectra page: the lower panel shown (per class, over training, paired views)."""
    spectra_kernel: str = field(default="cosine", metadata=_key("sk", scope="app", choices=("cosine", "rbf")))
    """Spectra page: kernel of the Vendi score and the Hill curve."""
    spectra_q: float = field(default=1.0, metadata=_key("sq", scope="app", bounds=(0.01, 1000.0)))
    """Spectra page: order q of the Vendi score."""
    spectra_eps2: float = field(default=0.5, metadata=_key("se", scope="app", bounds=(1e-6, 1e6)))
    """Spectra page: eps^2 of the coding rate and rate reduction."""
    spectra_sigma: float = field(default=10.0, metadata=_key("ssig", scope="app", bounds=(1e-6, 1e6)))
    """Spectra page: DSE / DSMI bandwidth (the paper's default 10) when the rule is "fixed"."""
    spectra_sigma_rule: str = field(default="fixed", metadata=_key("ssr", scope="app", choices=("fixed", "median")))
    """Spectra page: DSE bandwidth rule; "median" (median pairwise distance) deviates from the paper."""
    spectra_t: int = field(default=1, metadata=_key("st", scope="app", bounds=(1, 64)))
    """Spectra page: DSE diffusion steps t."""
    spectra_sample: int = field(default=3000, metadata=_key("sn", scope="app", bounds=(50, 10000)))
    """Spectra page: largest sample for the n x n computations (DSE, DSMI, RBF Vendi)."""
    spectra_class: str = field(default="", metadata=_key("sc", scope="dataset"))
    """Spectra page: the categorical metadata column used as the class ("" = the first one)."""
    spectra_metric: str = field(default="dse", metadata=_key("sm", scope="app", choices=(
        "dse", "dsmi", "vendi", "coding_rate", "rate_reduction", "participation_ratio",
        "effective_rank", "rankme", "pca_95", "alpha")))
    """Spectra page: the metric drawn over training steps."""
    spectra_pair: str = field(default="", metadata=_key("spv", scope="view"))
    """Spectra page: the view paired with the current one for SCE ("" = the first other modality)."""
    spectra_sce_kernel: str = field(default="linear", metadata=_key("ssk", scope="app", choices=("linear", "rff")))
    """Spectra page: SCE feature map."""

    def with_valid_bounds(self, *, prefix: str = "") -> tuple[ViewState, list[str]]:
        """Fields (named ``prefix...``) outside their metadata ``bounds`` (inclusive) reset to the
        default, with a warning each, naming the field by its metadata ``label`` or URL key.

        ``from_query`` checks types and choices; numbers in range are checked here (pages call it).
        """
        changes, warnings = {}, []
        for f in fields(self):
            bounds = f.metadata.get("bounds")
            value = getattr(self, f.name)
            if bounds is None or not f.name.startswith(prefix) or bounds[0] <= value <= bounds[1]:
                continue
            changes[f.name] = f.default
            label = f.metadata.get("label")
            subject, what = (label, "it") if label else (f.metadata["key"], f.name.replace("_", " "))
            warnings.append(f"Ignored {subject}={_encode(value)}: {what} must be between {_num(bounds[0])} "
                            f"and {_num(bounds[1])}; using {_num(f.default)}.")
        return (replace(self, **changes) if changes else self), warnings
    # --- geometry ---
    geo_metric: str = field(default="cosine", metadata=_key("gm", scope="app", choices=("cosine", "euclidean")))
    """Geometry page: the metric of the shared kNN graph and of every geometry metric."""
    geo_neighbors: int = field(default=15, metadata=_key("gk", scope="app", choices=(5, 10, 15, 20, 30, 50)))
    """Geometry page: neighbours per point for kNN purity."""
    geo_id_method: str = field(default="twonn", metadata=_key("gid", scope="app", choices=("twonn", "mle", "pca")))
    """Geometry page: the intrinsic-dimension estimator on the card."""
    geo_hub_k: int = field(default=10, metadata=_key("gh", scope="app", choices=(5, 10, 20, 50)))
    """Geometry page: k of the k-occurrence (hubness)."""
    geo_label: str = field(default="label", metadata=_key("gl", scope="dataset"))
    """Geometry page: the metadata column holding class labels (without one: the first usable)."""
    # --- map ---
    map_method: str = field(default="pca", metadata=_key("mm", scope="app", choices=("pca", "umap", "tsne")))
    """Map page: projection method."""
    map_dims: int = field(default=2, metadata=_key("md", scope="app", choices=(2, 3)))
    map_metric: str = field(default="cosine", metadata=_key("mx", scope="app", choices=("cosine", "euclidean")))
    """Distance of the kNN graph behind UMAP / t-SNE and of the quality scores."""
    map_neighbors: int = field(default=15, metadata=_key("mk", scope="app", bounds=(2, 200), label="UMAP n_neighbors"))
    """UMAP n_neighbors."""
    map_min_dist: float = field(default=0.1, metadata=_key("mmd", scope="app", bounds=(0.0, 1.0), label="UMAP min_dist"))
    """UMAP min_dist."""
    map_perplexity: float = field(default=30.0, metadata=_key("mp", scope="app", bounds=(2.0, 200.0), label="t-SNE perplexity"))
    """t-SNE perplexity."""
    map_seed: int = field(default=0, metadata=_key("ms", scope="app", bounds=(0, 2**31 - 1), label="seed"))
    map_parallel: bool = field(default=False, metadata=_key("mpl", scope="app"))
    """UMAP on every core, the seed ignored (faster; a recomputation gives another map)."""
    map_color: str = field(default="", metadata=_key("mc", scope="dataset"))
    """"" (automatic), "none", a metadata column, or "metric:<key>" (a per-point metric)."""
    map_filter: tuple[str, ...] = field(default=(), metadata=_key("mf", scope="dataset"))
    """Metadata filter clauses: "label=3" (alternatives within a column), "ink>=100"."""
    map_filter_mode: str = field(default="display", metadata=_key("mfm", scope="app", choices=("display", "project")))
    """Filter only what is drawn ("display") or project only the kept items ("project")."""
    map_selection: str = field(default="", metadata=_key("msel", scope="dataset"))
    """Selected items (dataset row numbers), encoded by :func:`encode_selection`."""
    map_item: int = field(default=-1, metadata=_key("mi", scope="dataset"))
    """The inspected (clicked) item's row number; -1 for none."""
    map_view2: str = field(default="", metadata=_key("mv2", scope="view"))
    """Side by side: the second view's name ("" for one map)."""
    map_render: str = field(default="auto", metadata=_key("mr", scope="app", choices=("auto", "points", "density")))
    """Draw every point, or a density image with a declared sample on top ("auto": by size)."""

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
                        f"This link was made by a different EmbedLens link version (v={raw}); "
                        f"reading it as v={VERSION}, settings that no longer exist are ignored."
                    )
                continue
            f = by_key.get(key)
            if f is None:
                warnings.append(f"Ignored unknown link parameter {key!r}.")
                continue
            try:
                value = _decode(raw, _field_type(cls, f))
            except ValueError:
                warnings.append(f"Ignored {key}={raw!r}: not a valid {f.name.replace('_', ' ')}.")
                continue
            choices = f.metadata.get("choices")
            if choices is not None and value not in choices:
                warnings.append(
                    f"Ignored {key}={raw!r}: {f.name.replace('_', ' ')} must be one of {list(choices)}."
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
        if value == ("",):  # "" means (); a bare "%" is never produced by quote()
            return "%"
        return ",".join(quote(str(v), safe="") for v in value)
    return str(value)


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
    "drop_nonfinite": "rows with NaN / inf left out", "search": "the metadata search",
    "spectra_class": "the class column", "spectra_pair": "the paired view", "geo_label": "the label column",
    "map_color": "the map colour", "map_filter": "the map filter", "map_selection": "the map selection",
    "map_item": "the inspected item", "map_view2": "the second map view",
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


# --------------------------------------------------------------------------- session glue
# Everything below needs a running Streamlit script; the dataclass above does not.

_STATE = "embedlens.state"
_WARNINGS = "embedlens.link_warnings"
_WIDGET = "w."


def init(page: str) -> ViewState:
    """Read the URL once per session into the canonical state; afterwards keep it, set the page."""
    import streamlit as st

    if _STATE not in st.session_state:
        query = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
        state, warnings = ViewState.from_query(query, page=page)
        st.session_state[_STATE] = state
        st.session_state[_WARNINGS] = warnings
    elif st.session_state[_STATE].page != page:
        st.session_state[_STATE] = replace(st.session_state[_STATE], page=page)
    return st.session_state[_STATE]


def current() -> ViewState:
    import streamlit as st

    return st.session_state[_STATE]


def link_warnings() -> list[str]:
    """Warnings about the link this session was opened with (shown until the view changes)."""
    import streamlit as st

    return st.session_state.get(_WARNINGS, [])


def add_warning(message: str) -> None:
    import streamlit as st

    st.session_state.setdefault(_WARNINGS, []).append(message)


def update(**changes) -> ViewState:
    """Change fields of the canonical state; mirrors them into any widget bound to them.

    Call from widget callbacks or before the bound widgets are drawn in this run.
    A change of dataset (or of view) also resets the fields scoped to the old one
    (:func:`rescope`), with a note among the link warnings naming what was dropped.
    """
    import streamlit as st

    old = st.session_state[_STATE]
    state, dropped = rescope(old, replace(old, **changes))
    st.session_state[_STATE] = state
    changed = {f.name: getattr(state, f.name) for f in fields(state)
               if f.name in changes or getattr(state, f.name) != getattr(old, f.name)}
    for name, value in changed.items():
        key = _WIDGET + name
        if key in st.session_state and st.session_state[key] != value:
            st.session_state[key] = value
    for name in dropped:  # widgets that hold parts of a reset field (the map filter's, "w.mf.<column>")
        prefix = _WIDGET + _field(name).metadata["key"] + "."
        for key in [k for k in st.session_state if str(k).startswith(prefix)]:
            del st.session_state[key]
    if dropped:
        add_warning(rescope_note(old, state, dropped))
    return state


def _on_widget_change(name: str, then) -> None:
    import streamlit as st

    st.session_state[_WARNINGS] = []  # the user changed the view: the link's warnings are stale
    update(**{name: st.session_state[_WIDGET + name]})  # (after: its own note, if any, stays)
    if then is not None:
        then()


def widget_key(name: str, *, options=None, then=None) -> dict:
    """Keyword arguments binding a widget to state field ``name``: ``key`` and ``on_change``.

    The widget's value is seeded from the state when the widget is (re)drawn; its changes
    go back to the state, after which ``then()`` runs (e.g. to reset dependent fields).
    ``options``: when given and the state's value is not among them, the first option is
    used instead (the caller decides whether that deserves a warning).
    """
    import streamlit as st

    key = _WIDGET + name
    value = getattr(current(), name)
    if options is not None and value not in options and len(options):
        value = options[0]
        update(**{name: value})
    if key not in st.session_state:
        st.session_state[key] = value
    return {"key": key, "on_change": _on_widget_change, "args": (name, then)}


def sync_url() -> None:
    """Write the canonical state to the address bar (only when it differs)."""
    import streamlit as st

    wanted = current().to_query()
    have = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if have != wanted:
        st.query_params.from_dict(wanted)


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
        if rows.min() < 0 or rows.max() >= n:
            raise ValueError(f"the selection names rows outside 0..{n - 1}; it was made for other data")
        return np.unique(rows)
    if text[0] == "b":
        head, _, payload = text[1:].partition(".")
        if not head.isdigit() or int(head) != n:
            raise ValueError(f"the selection was made for {head} items; this data has {n}")
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, zlib.error, ValueError):
            raise ValueError("the selection's bitmap is damaged") from None
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
        if len(bits) != (n + 7) // 8 * 8 or bits[n:].any():
            raise ValueError("the selection's bitmap has the wrong length")
        return np.flatnonzero(bits[:n]).astype(np.int64)
    raise ValueError("a selection starts with 'r' (row list) or 'b' (bitmap)")


