"""A tampered link on every page (issue 14): the page opens a valid view, a warning names each value
ignored, nothing raises, the dataset shown is one of the data folder's, and the address bar written
back holds none of the tampered values."""

from __future__ import annotations

from pathlib import Path

import pytest

import core
from dashboard.literal import md

from .apptest import run_app

# page script -> (a tampered query, the starts of the warnings it must produce)
CASES = {
    "data": (
        {"ds": "../..", "q": "<script>alert(1)</script>", "dha": "maybe", "zz": "1", "v": "0"},
        ["Ignored dha='maybe'", "Ignored unknown link parameter 'zz'", "This link was made by a different "
         "EmbedLens link version (v=0)", "The link's dataset '../..' is not in this data folder; showing "
         "'digits-mlp'", "Switched from dataset '../..' to 'digits-mlp': dropped the metadata search"],
    ),
    "spectra": (
        {"ds": "digits-mlp", "sp": "paired", "sq": "1e400", "ssr": "<img src=x onerror=alert(1)>",
         "sc": "/etc/passwd", "spv": "%2e%2e%2f"},
        ["Ignored sq='1e400'", "Ignored ssr='<img src=x onerror=alert(1)>'", "Ignored the paired view '%2e%2e%2f'",
         "Ignored sp='paired'", "Ignored the class column '/etc/passwd'"],
    ),
    "geometry": (
        {"ds": "digits-mlp", "gm": "manhattan", "gk": "7", "gl": "../../x", "gid": "\x00"},
        ["Ignored gm='manhattan'", "Ignored gk='7'", "Ignored gid='\\x00'", "This dataset has no label column "
         "'../../x'; using 'label'"],
    ),
    "map": (
        {"ds": "digits-mlp", "msel": "r99999999999999999999999", "mi": "-5", "mf": "nope=3", "mt": "<b>x</b>",
         "mv2": "../x", "mc": "metric:../../etc"},
        ["Ignored mt='<b>x</b>'", "Ignored colour 'metric:../../etc'", "Ignored the link's filter",
         "Ignored the link's selection", "Ignored inspected item -5", "Ignored the second view '../x'"],
    ),
    "compare": (
        {"ds": "digits-mlp", "cv2": "../gone", "cmx": "bogus", "ctm": "vendi,evil", "cp": "x", "cref": "/abs/path",
         "ck": "7"},
        ["Ignored cmx='bogus'", "Ignored cp='x'", "Ignored ck='7'", "Ignored ctm='evil'",
         "Ignored the compared view '../gone'", "Ignored the reference view '/abs/path'"],
    ),
    "rashomon": (  # 5 / 10 permutations on 300 rows: the set's background job ends in seconds
        {"ds": "digits-mlp", "rnp": "5", "rnpp": "10", "rn": "300", "rt": "nope", "rf": "<script>,x", "rpr": "PC1",
         "rne": "0.3", "rrs": "nosuch", "rrm": "x", "rsrc": "metadata"},
        ["Ignored rrm='x'", "Ignored rpr='PC1'", "This dataset has no label column 'nope'; using 'label'",
         "Ignored feature column(s) '<script>', 'x'", "Ignored nested ε multiple(s) 0.3", "No view records 'nosuch'"],
    ),
}


@pytest.fixture
def app_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("page", list(CASES))
def test_a_tampered_link_opens_a_valid_view_with_a_warning_per_value(app_env, page):
    query, expected = CASES[page]
    at = run_app(query, page=None if page == "data" else f"app_pages/{page}.py")  # fails on any exception
    notes = [w.value for w in at.warning]  # shown through dashboard.literal.md: the link's text escaped
    for start in expected:
        assert sum(n.startswith(md(start)) for n in notes) == 1, (start, notes)
    # the dataset shown is the data folder's own, read from inside it
    ctx = at.session_state["embedlens.context"]
    assert ctx.dataset is not None and ctx.entry.name == "digits-mlp"
    root = core.sample_data_dir().resolve()
    assert Path(ctx.entry.path).resolve().is_relative_to(root)
    # the address bar written back: only known keys, none of the tampered values
    written = dict(at.query_params)
    assert written["ds"] == "digits-mlp" and written["v"] == "1"
    tampered = {k: v for k, v in query.items() if k not in ("ds", "v", "rnp", "rnpp", "rn", "rsrc")}
    assert {k: v for k, v in written.items() if tampered.get(k) == v} == {}, written
