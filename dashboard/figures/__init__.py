"""Pure figure functions: ``*_info(...)`` returns plain data, ``*_figure(info)`` a plotly Figure.

No streamlit, no I/O: tests assert on the info and check the figure's traces.
"""

from .health import NormHistogramInfo, norm_histogram_figure, norm_histogram_info

__all__ = ["NormHistogramInfo", "norm_histogram_figure", "norm_histogram_info"]
