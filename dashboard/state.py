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
    "widget_key",
    "sync_url",
    "link_warnings",
]

VERSION = 1


def _key(name: str, **extra) -> dict:
    return {"key": name, **extra}


@dataclass(frozen=True)
class ViewState:
    """Everything that defines a view. Field metadata: ``key`` (URL parameter), ``choices``."""

    dataset: str = field(default="", metadata=_key("ds"))
    view: str = field(default="", metadata=_key("view"))
    fingerprint: str = field(default="", metadata=_key("fp"))
    """The first 8 hex digits of the dataset's fingerprint when the link was made."""
    drop_nonfinite: bool = field(default=False, metadata=_key("nf"))
    """Leave out rows holding NaN / inf for this view (the files are never changed)."""
    search: str = field(default="", metadata=_key("q"))
    """Data page: text filter on the metadata table."""
    page: str = field(default="", metadata=_key("", path=True))
    """The page's URL path (e.g. ``"data"``); lives in the URL path, not the query."""

    # --- spectra ---
    spectra_panel: str = field(default="class", metadata=_key("sp", choices=("class", "training", "paired")))
    """Spectra page: the lower panel shown (per class, over training, paired views)."""
    spectra_kernel: str = field(default="cosine", metadata=_key("sk", choices=("cosine", "rbf")))
    """Spectra page: kernel of the Vendi score and the Hill curve."""
    spectra_q: float = field(default=1.0, metadata=_key("sq", bounds=(0.01, 1000.0)))
    """Spectra page: order q of the Vendi score."""
    spectra_eps2: float = field(default=0.5, metadata=_key("se", bounds=(1e-6, 1e6)))
    """Spectra page: eps^2 of the coding rate and rate reduction."""
    spectra_sigma: float = field(default=10.0, metadata=_key("ssig", bounds=(1e-6, 1e6)))
    """Spectra page: DSE / DSMI bandwidth (the paper's default 10) when the rule is "fixed"."""
    spectra_sigma_rule: str = field(default="fixed", metadata=_key("ssr", choices=("fixed", "median")))
    """Spectra page: DSE bandwidth rule; "median" (median pairwise distance) deviates from the paper."""
    spectra_t: int = field(default=1, metadata=_key("st", bounds=(1, 64)))
    """Spectra page: DSE diffusion steps t."""
    spectra_sample: int = field(default=3000, metadata=_key("sn", bounds=(50, 10000)))
    """Spectra page: largest sample for the n x n computations (DSE, DSMI, RBF Vendi)."""
    spectra_class: str = field(default="", metadata=_key("sc"))
    """Spectra page: the categorical metadata column used as the class ("" = the first one)."""
    spectra_metric: str = field(default="dse", metadata=_key("sm", choices=(
        "dse", "dsmi", "vendi", "coding_rate", "rate_reduction", "participation_ratio",
        "effective_rank", "rankme", "pca_95", "alpha")))
    """Spectra page: the metric drawn over training steps."""
    spectra_pair: str = field(default="", metadata=_key("spv"))
    """Spectra page: the view paired with the current one for SCE ("" = the first other modality)."""
    spectra_sce_kernel: str = field(default="linear", metadata=_key("ssk", choices=("linear", "rff")))
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
    geo_metric: str = field(default="cosine", metadata=_key("gm", choices=("cosine", "euclidean")))
    """Geometry page: the metric of the shared kNN graph and of every geometry metric."""
    geo_neighbors: int = field(default=15, metadata=_key("gk", choices=(5, 10, 15, 20, 30, 50)))
    """Geometry page: neighbours per point for kNN purity."""
    geo_id_method: str = field(default="twonn", metadata=_key("gid", choices=("twonn", "mle", "pca")))
    """Geometry page: the intrinsic-dimension estimator on the card."""
    geo_hub_k: int = field(default=10, metadata=_key("gh", choices=(5, 10, 20, 50)))
    """Geometry page: k of the k-occurrence (hubness)."""
    geo_label: str = field(default="label", metadata=_key("gl"))
    """Geometry page: the metadata column holding class labels (without one: the first usable)."""
    # --- map ---
    map_method: str = field(default="pca", metadata=_key("mm", choices=("pca", "umap", "tsne")))
    """Map page: projection method."""
    map_dims: int = field(default=2, metadata=_key("md", choices=(2, 3)))
    map_metric: str = field(default="cosine", metadata=_key("mx", choices=("cosine", "euclidean")))
    """Distance of the kNN graph behind UMAP / t-SNE and of the quality scores."""
    map_neighbors: int = field(default=15, metadata=_key("mk", bounds=(2, 200), label="UMAP n_neighbors"))
    """UMAP n_neighbors."""
    map_min_dist: float = field(default=0.1, metadata=_key("mmd", bounds=(0.0, 1.0), label="UMAP min_dist"))
    """UMAP min_dist."""
    map_perplexity: float = field(default=30.0, metadata=_key("mp", bounds=(2.0, 200.0), label="t-SNE perplexity"))
    """t-SNE perplexity."""
    map_seed: int = field(default=0, metadata=_key("ms", bounds=(0, 2**31 - 1), label="seed"))
    map_parallel: bool = field(default=False, metadata=_key("mpl"))
    """UMAP on every core, the seed ignored (faster; a recomputation gives another map)."""
    map_color: str = field(default="", metadata=_key("mc"))
    """"" (automatic), "none", a metadata column, or "metric:<key>" (a per-point metric)."""
    map_filter: tuple[str, ...] = field(default=(), metadata=_key("mf"))
    """Metadata filter clauses: "label=3" (alternatives within a column), "ink>=100"."""
    map_filter_mode: str = field(default="display", metadata=_key("mfm", choices=("display", "project")))
    """Filter only what is drawn ("display") or project only the kept items ("project")."""
    map_selection: str = field(default="", metadata=_key("msel"))
    """Selected items (dataset row numbers), encoded by :func:`encode_selection`."""
    map_item: int = field(default=-1, metadata=_key("mi"))
    """The inspected (clicked) item's row number; -1 for none."""
    map_view2: str = field(default="", metadata=_key("mv2"))
    """Side by side: the second view's name ("" for one map)."""
    map_render: str = field(default="auto", metadata=_key("mr", choices=("auto", "points", "density")))
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
    """
    import streamlit as st

    state = replace(st.session_state[_STATE], **changes)
    st.session_state[_STATE] = state
    for name, value in changes.items():
        key = _WIDGET + name
        if key in st.session_state and st.session_state[key] != value:
            st.session_state[key] = value
    return state


def _on_widget_change(name: str, then) -> None:
    import streamlit as st

    update(**{name: st.session_state[_WIDGET + name]})
    st.session_state[_WARNINGS] = []  # the user changed the view: the link's warnings are stale
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


