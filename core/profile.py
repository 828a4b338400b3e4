"""Every spectral summary of one view from two passes over X: :func:`spectral_profile`.

Pass 1, the centred linear (covariance) spectrum: participation ratio, effective rank,
PCA-k, power-law alpha, and -- uncentred from the same moments -- RankMe. Pass 2, the
uncentred kernel spectrum (cosine by default): Vendi of order q, the Hill curve and the coding
rate. (The two cannot share a pass: the cosine kernel needs each row scaled to unit length.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validation import StrOptions, check_param
from .diversity import HillCurve, coding_rate, hill_curve, vendi_score
from .spectra import (
    PowerLawFit,
    Spectrum,
    effective_rank,
    participation_ratio,
    stable_rank,
    pca_k,
    powerlaw_alpha,
    rankme,
    spectrum,
    _one_read,
)

__all__ = ["SpectralProfile", "spectral_profile"]


@dataclass(frozen=True, eq=False)
class SpectralProfile:
    """The spectral summaries of one view, with the two spectra they were read from.

    Attributes
    ----------
    covariance : Spectrum
        Linear kernel, centred.
    kernel_spectrum : Spectrum
        The Vendi kernel (cosine or RBF), uncentred.
    coding_spectrum : Spectrum
        Cosine, uncentred (the same object as ``kernel_spectrum`` for the cosine kernel).
    participation_ratio, stable_rank, effective_rank, rankme : float
        NaN when the covariance is degenerate (see :attr:`message`).
    pca_90, pca_95 : int
        NaN (a float) when the covariance is degenerate.
    powerlaw : PowerLawFit
    vendi : VendiScore
        Vendi score of order ``q`` with the kernel of ``kernel_spectrum`` (a float carrying the
        rows used, the method and the seed).
    q : float
    hill : HillCurve
    coding_rate : float
    eps2 : float
    """

    covariance: Spectrum
    kernel_spectrum: Spectrum
    coding_spectrum: Spectrum
    participation_ratio: float
    stable_rank: float
    effective_rank: float
    rankme: float
    pca_90: int
    pca_95: int
    powerlaw: PowerLawFit
    vendi: float
    q: float
    hill: HillCurve
    coding_rate: float
    eps2: float

    @property
    def message(self) -> str | None:
        """Why the covariance metrics are undefined (all rows identical), or None."""
        return self.covariance.message

    def values(self) -> dict[str, float]:
        """The scalar summaries by name (the names of the Spectra page's trajectory metrics)."""
        return {
            "participation_ratio": self.participation_ratio,
            "stable_rank": self.stable_rank,
            "effective_rank": self.effective_rank,
            "rankme": self.rankme,
            "pca_90": float(self.pca_90),
            "pca_95": float(self.pca_95),
            "alpha": self.powerlaw.alpha,
            "vendi": self.vendi,
            "coding_rate": self.coding_rate,
        }


def spectral_profile(X, /, *, kernel: str = "cosine", q: float = 1.0, eps2: float = 0.5,
                     bandwidth: float | None = None, max_n: int = 5000, approx: str = "subsample",
                     seed: int = 0, hill_q=None) -> SpectralProfile:
    """All spectral summaries of ``X``: covariance metrics, Vendi / Hill and coding rate.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
        A dask array is read once for both spectra (chunk-wise, :mod:`core._dask`).
    kernel : {"cosine", "rbf"}, default="cosine"
        Kernel of the Vendi score and Hill curve.
    q : float in (0, inf], default=1.0
    eps2 : float, default=0.5
    bandwidth, max_n, approx, seed
        RBF options, as in :func:`core.spectra.spectrum`.
    hill_q : array-like, optional
        Orders of the Hill curve (default :data:`core.diversity.DEFAULT_Q_GRID`).

    Returns
    -------
    SpectralProfile
        The two (three with RBF) spectra and every summary; covariance summaries are NaN when
        all rows are identical (see :attr:`SpectralProfile.message`).

    Raises
    ------
    EmbedLensInputError
        ``kernel`` not "cosine" / "rbf" (checked first); from :func:`core.spectra.spectrum`:
        ``X`` not a 2-D numeric matrix, rows holding NaN / inf, every row zero (the cosine
        spectrum is undefined: raised, not NaN), bad RBF options; from
        :func:`core.diversity.vendi_score` / :func:`~core.diversity.hill_curve` /
        :func:`~core.diversity.coding_rate`: ``q`` or an order of ``hill_q`` not in (0, inf],
        ``eps2`` not a positive number. ``q`` and ``eps2`` are checked after the spectra are
        computed.

    Notes
    -----
    Conventions: the covariance metrics use the centred Euclidean (linear) spectrum, the
    Vendi score / Hill curve the uncentred cosine kernel by default, the coding rate always
    cosine.

    Cost: two passes over X, each O(n d^2 + d^3) in the dual form (three with the RBF kernel:
    its n x n or subsampled / RFF spectrum, plus the cosine one for the coding rate).
    Formulas and references: :mod:`core.spectra`, :mod:`core.diversity`.

    Examples
    --------
    >>> import numpy as np
    >>> p = spectral_profile(np.eye(4))
    >>> print(round(p.vendi, 6), p.pca_95)
    4.0 3
    """
    check_param("kernel", kernel, StrOptions({"cosine", "rbf"}), hint="the kernels of the Vendi score")
    with _one_read(X):  # a dask array: both spectra's moments from one read of the data
        cov = spectrum(X)
        if kernel == "cosine":
            ker = spectrum(X, kernel="cosine", center=False)
            coding = ker
        else:
            ker = spectrum(X, kernel=kernel, center=False, bandwidth=bandwidth, max_n=max_n, approx=approx,
                           seed=seed)
            coding = spectrum(X, kernel="cosine", center=False)
    return SpectralProfile(
        covariance=cov,
        kernel_spectrum=ker,
        coding_spectrum=coding,
        participation_ratio=participation_ratio(cov),
        stable_rank=stable_rank(cov),
        effective_rank=effective_rank(cov),
        rankme=rankme(cov),
        pca_90=pca_k(cov, share=0.90),
        pca_95=pca_k(cov, share=0.95),
        powerlaw=powerlaw_alpha(cov),
        vendi=vendi_score(ker, q=q),
        q=float(q),
        hill=hill_curve(ker, q=hill_q),
        coding_rate=coding_rate(coding, eps2=eps2),
        eps2=float(eps2),
    )
