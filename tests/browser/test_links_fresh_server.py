"""Share links on a second server with an empty cache (issue 14): a link of each page, opened on the
server it was made on and on a server started afterwards on a new, empty cache folder (nothing
computed, every number recomputed: the Map's UMAP, the Compare matrix, the Rashomon set), shows the
same widgets, cards, captions and plotted data."""

from __future__ import annotations

import pytest

from .links import (VIEWPORT, artefacts, check_link, fresh_server, links_server, open_link, rebase,  # noqa: F401
                    screenshot, settle, snapshot, stop_server)

pytestmark = pytest.mark.browser

LINKS = {
    "data": ("/?ds=digits-mlp&view=seed1/hidden2/epoch030&q=7+test&dha=1", {"q", "dha"}),
    "spectra": ("/spectra?ds=digits-mlp&sn=1000&sq=2.0&ssr=median&sp=training&sm=participation_ratio",
                {"sn", "sq", "ssr", "sp", "sm"}),
    "geometry": ("/geometry?ds=digits-mlp&view=seed2/hidden2/epoch100&gm=euclidean&gk=5&gid=mle&gh=20",
                 {"gm", "gk", "gid", "gh"}),
    # UMAP of the 357 items labelled 3 or 8 only (mfm=project): seeded, so recomputed byte for byte
    "map": ("/map?ds=digits-mlp&mm=umap&mc=ink&mf=label%3D3,label%3D8&mfm=project&mi=42&mt=Item",
            {"mm", "mc", "mf", "mfm", "mi", "mt"}),
    "compare": ("/compare?ds=digits-mlp&cv2=seed2/hidden1/epoch001&ccd=1&ck=15&cmx=procrustes&co=step",
                {"cv2", "ccd", "ck", "cmx", "co"}),
    "rashomon": ("/rashomon?ds=digits-mlp&rnp=5&rnpp=10&rp=4&rab=1&rpr=PC2,PC3", {"rnp", "rnpp", "rp", "rab", "rpr"}),
}
TIMINGS = {"Computed in"}
"""Cards that time the computation (differ between servers by design)."""


@pytest.fixture(scope="module")
def empty_cache_server(tmp_path_factory):
    proc, url = fresh_server(tmp_path_factory, "empty-cache")
    yield url
    stop_server(proc)


def _open(browser, url: str) -> tuple[dict, str]:
    """The page's snapshot once every background job (UMAP, the Rashomon set) has finished, and its URL."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        open_link(page, url)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stProgress\"]')", timeout=600_000)
        settle(page)
        shot = snapshot(page)
        shot["metrics"] = [m for m in shot["metrics"] if m[0] not in TIMINGS]
        return shot, page.url
    finally:
        context.close()


@pytest.mark.parametrize("name", list(LINKS))
def test_a_link_shows_the_same_on_a_server_with_an_empty_cache(links_server, empty_cache_server, browser, name):
    path, keys = LINKS[name]
    made, made_url = _open(browser, links_server + path)
    again, again_url = _open(browser, rebase(made_url, empty_cache_server))
    check_link(None, made_url, keys)
    assert again_url == rebase(made_url, empty_cache_server)
    assert made["digests"] and again["digests"] == made["digests"]
    assert again["metrics"] == made["metrics"]
    assert again["captions"] == made["captions"]
    assert again["widgets"] == made["widgets"]
