"""Figures out of the app: the modebar's image button (every chart) and images rendered on the server.

In the browser, every ``st.plotly_chart`` passes :func:`chart_config`: plotly's modebar camera
button then downloads a PNG at twice the screen resolution, named after the figure (plotly's
``toImageButtonOptions``). The HTML report (:mod:`dashboard.report`) adds a PNG and an SVG
button under each figure (``Plotly.downloadImage``). On the server, :func:`figure_image` renders
PNG / SVG / PDF with kaleido (the ``export`` extra); kaleido >= 1 drives a Chrome or Chromium
already on the machine (found on the PATH, or named by ``BROWSER_PATH``; Debian's
``/usr/bin/chromium`` works) and downloads none.
"""

from __future__ import annotations

import contextlib
import re

import plotly.graph_objects as go

__all__ = ["chart_config", "figure_image", "write_images", "ExportUnavailable", "IMAGE_FORMATS"]

IMAGE_FORMATS = ("png", "svg", "pdf")


class ExportUnavailable(RuntimeError):
    """Server-side images cannot be made here (kaleido or a Chrome / Chromium is missing)."""


def _filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "figure"


def _require_kaleido(fmt: str) -> None:
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"format {fmt!r}; expected one of {IMAGE_FORMATS}")
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise ExportUnavailable("server-side images need kaleido: pip install 'embedlens[export]'") from None


@contextlib.contextmanager
def _rendering(what: str):
    """kaleido's failures while rendering ``what`` as :class:`ExportUnavailable` naming the fix."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - kaleido / choreographer raise their own types
        raise ExportUnavailable(
            f"kaleido could not render {what} ({type(exc).__name__}: {exc}); it needs a Chrome or "
            "Chromium on this machine (Debian: apt-get install chromium; or set BROWSER_PATH)"
        ) from None


def chart_config(name: str, *, fmt: str = "png", scale: float = 2) -> dict:
    """The ``config`` of ``st.plotly_chart`` / ``plotly.io.to_html``: what the modebar's image button downloads.

    Parameters
    ----------
    name : str
        The file name (without extension); characters outside ``[A-Za-z0-9._-]`` become ``_``.
    fmt : {"png", "svg", "jpeg", "webp"}, default="png"
    scale : float, default=2
        Pixels per CSS pixel of the PNG (2: sharp on slides and high-density screens).

    Returns
    -------
    dict
        ``{"toImageButtonOptions": {...}, "displaylogo": False}``.

    Raises
    ------
    Nothing
        Of its own.
    """
    return {"toImageButtonOptions": {"format": fmt, "filename": _filename(name), "scale": scale},
            "displaylogo": False}


def figure_image(fig: go.Figure, fmt: str = "png", *, scale: float = 2) -> bytes:
    """``fig`` as PNG / SVG / PDF bytes, rendered on this machine by kaleido.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    fmt : {"png", "svg", "pdf"}, default="png"
    scale : float, default=2
        PNG resolution multiplier.

    Returns
    -------
    bytes

    Raises
    ------
    ExportUnavailable
        kaleido is not installed (``pip install 'embedlens[export]'``), or it found no Chrome /
        Chromium to drive (install one, or set ``BROWSER_PATH``); the message says which.
    ValueError
        ``fmt`` not one of :data:`IMAGE_FORMATS`.
    """
    _require_kaleido(fmt)
    with _rendering("the figure"):
        return fig.to_image(format=fmt, scale=scale)


def write_images(figures: dict, folder, fmt: str = "png", *, scale: float = 2) -> list:
    """Write each figure of ``figures`` (file stem -> Figure) as ``folder/<stem>.<fmt>`` in one
    kaleido session (``plotly.io.write_images``: one browser start for all, not one per figure).

    Parameters
    ----------
    figures : dict of str to plotly.graph_objects.Figure
    folder : path-like
        Created if missing.
    fmt : {"png", "svg", "pdf"}, default="png"
    scale : float, default=2

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``figures``.

    Raises
    ------
    ExportUnavailable
        As :func:`figure_image`.
    ValueError
        ``fmt`` not one of :data:`IMAGE_FORMATS`.
    """
    from pathlib import Path

    import plotly.io as pio

    _require_kaleido(fmt)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{_filename(stem)}.{fmt}" for stem in figures]
    with _rendering("the figures"):
        if hasattr(pio, "write_images"):  # plotly >= 6.1
            pio.write_images(list(figures.values()), paths, format=fmt, scale=scale)
        else:
            for fig, path in zip(figures.values(), paths):
                path.write_bytes(fig.to_image(format=fmt, scale=scale))
    return paths
