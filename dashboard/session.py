"""The view state in a running Streamlit session: the canonical state, widget binding, the address bar.

The session keeps one canonical :class:`~dashboard.state.ViewState` (widgets come and go with
pages, and Streamlit forgets a widget's value when it is not drawn); widgets are seeded from it
and write back to it from their ``on_change`` callbacks, and the app writes it to the URL on
every run, so the address bar always holds the current view.

The dataclass, its codecs and its checks are :mod:`dashboard.state` (no Streamlit there); the
names pages use from it are re-exported here, so a page needs one import::

    from dashboard import session as vs
"""

from __future__ import annotations

from dataclasses import fields, replace

import streamlit as st

from . import testhooks
from .state import (
    PAGES,
    SCOPES,
    VERSION,
    ViewState,
    decode_selection,
    encode_selection,
    page_fields,
    rescope,
    rescope_note,
    share_url,
    validate,
)

__all__ = [
    # the session
    "init",
    "current",
    "update",
    "widget_key",
    "sync_url",
    "link_warnings",
    "add_warning",
    "WIDGET_PREFIX",
    # re-exported from dashboard.state
    "ViewState",
    "VERSION",
    "SCOPES",
    "PAGES",
    "share_url",
    "rescope",
    "rescope_note",
    "validate",
    "page_fields",
    "encode_selection",
    "decode_selection",
]

_STATE = "embedlens.state"
_WARNINGS = "embedlens.link_warnings"
WIDGET_PREFIX = "w."
"""A widget bound to field ``name`` has the Streamlit key ``"w." + name``."""
_WIDGET = WIDGET_PREFIX


def init(page: str) -> ViewState:
    """Read the URL once per session into the canonical state; afterwards keep it, set the page.

    The link's values are checked there and then (types, choices, bounds: :func:`validate` without
    a dataset), one warning per dropped value; the dataset-dependent checks follow when the dataset
    loads (``dashboard.context.check_link``).
    """
    testhooks.install()  # no-op unless EMBEDLENS_TEST_HOOKS=1 (the browser tests' servers)
    if _STATE not in st.session_state:
        query = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
        state, warnings = ViewState.from_query(query, page=page)
        state, more = validate(state)
        st.session_state[_STATE] = state
        st.session_state[_WARNINGS] = warnings + more
    elif st.session_state[_STATE].page != page:
        st.session_state[_STATE] = replace(st.session_state[_STATE], page=page)
    return st.session_state[_STATE]


def current() -> ViewState:
    return st.session_state[_STATE]


def link_warnings() -> list[str]:
    """Warnings about the link this session was opened with (shown until the view changes)."""
    return st.session_state.get(_WARNINGS, [])


def add_warning(message: str) -> None:
    st.session_state.setdefault(_WARNINGS, []).append(message)


def update(**changes) -> ViewState:
    """Change fields of the canonical state; mirrors them into any widget bound to them.

    Call from widget callbacks or before the bound widgets are drawn in this run.
    A change of dataset (or of view) also resets the fields scoped to the old one
    (:func:`rescope`), with a note among the link warnings naming what was dropped.
    """
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
        prefix = _WIDGET + next(f for f in fields(state) if f.name == name).metadata["key"] + "."
        for key in [k for k in st.session_state if str(k).startswith(prefix)]:
            del st.session_state[key]
    if dropped:
        add_warning(rescope_note(old, state, dropped))
    return state


def _on_widget_change(name: str, then) -> None:
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
    wanted = current().to_query()
    have = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if have != wanted:
        st.query_params.from_dict(wanted)
