"""Per-page logic beside each page of :mod:`dashboard.app_pages`: what a page computes and draws
from the view state, through the cached calls of :mod:`dashboard.data` and the figures of
:mod:`dashboard.figures`, so the pages only wire widgets, state, cached calls and figures."""
