"""EmbedLens entry point: page config, navigation, the shared sidebar, then the page."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import context, sidebar  # noqa: E402
from dashboard import data  # noqa: E402  (map, issue 6)
from dashboard import session as vs  # noqa: E402
from dashboard.literal import md  # noqa: E402
from dashboard.views import outofcore as view_ooc  # noqa: E402

st.set_page_config(page_title="EmbedLens", page_icon=":material/scatter_plot:", layout="wide")

PAGES = [
    st.Page("app_pages/data.py", title="Data", icon=":material/dataset:", url_path="data", default=True),
    st.Page("app_pages/spectra.py", title="Spectra", icon=":material/ssid_chart:", url_path="spectra"),
    st.Page("app_pages/geometry.py", title="Geometry", icon=":material/hub:", url_path="geometry"),
    st.Page("app_pages/map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("app_pages/rashomon.py", title="Rashomon", icon=":material/grain:", url_path="rashomon"),
]

page = st.navigation(PAGES)
vs.init(page=page.url_path)
ctx = context.resolve()

# Compile umap-learn / pynndescent code in a background thread once per server, off the user's path.
if _warm_steps := data.map_warm_up_steps(ctx.dataset):
    data.map_warm_up(_warm_steps)
sidebar.render(ctx)
vs.sync_url()
for message in vs.link_warnings():
    st.warning(md(message), icon=":material/link_off:")  # quotes the link's values: shown as written
view_ooc.banner(ctx.dataset)  # an out-of-core dataset: which sample the page shows, what is exact
try:
    page.run()
finally:
    vs.sync_url()
