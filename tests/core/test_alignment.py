"""core.alignment: Procrustes against a known rotation, aligned PCA / UMAP of rotated copies."""

from __future__ import annotations

import numpy as np
import pytest

from core import EmbedLensInputError
from core.alignment import align_projections, procrustes_align
from core.projection import project


def test_procrustes_recovers_rotation_scale_and_shift():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((50, 2))
    theta = 0.7
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    aligned, info = procrustes_align(2.5 * Z @ R[::-1] + [3.0, -1.0], Z)  # rotation and a reflection
    np.testing.assert_allclose(aligned, Z, atol=1e-5)
    assert info["scale"] == pytest.approx(0.4) and info["rms"] < 1e-5


def test_aligned_pca_of_a_rotated_copy_coincides(blobs):
    Q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((12, 12)))
    a, b = align_projections([blobs, blobs @ Q.astype(np.float32)], method="pca")
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-3 * np.abs(a.coords).max())
    np.testing.assert_array_equal(a.coords, project(blobs, method="pca").coords)  # the reference is untouched
    assert b.params["alignment"]["method"] == "procrustes" and b.params["alignment"]["rms"] < 1e-2


def test_aligned_umap_of_a_rotated_copy_coincides(blobs):
    Q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((12, 12)))
    rotated = blobs @ Q.astype(np.float32)
    a, b = align_projections([blobs, rotated], method="umap", n_epochs=100)

    def rel(y, z):  # root-mean-square distance between the same items, relative to y's spread
        return np.sqrt(((y - z) ** 2).sum(1).mean()) / np.sqrt(((y - y.mean(0)) ** 2).sum(1).mean())

    # two separate UMAPs (other seeds), even after the best rotation, put items far apart
    separate = procrustes_align(project(rotated, method="umap", seed=1, n_epochs=100, quality=False).coords,
                                a.coords)[0]
    assert rel(a.coords, b.coords) < 0.12, f"aligned maps differ by {rel(a.coords, b.coords):.3f} of their spread"
    assert rel(a.coords, b.coords) < 0.3 * rel(a.coords, separate)  # measured: 0.07 vs 0.47
    assert a.params["alignment"]["method"] == "AlignedUMAP" and a.params["n_epochs"] == 100
    assert a.trust.value > 0.9 and b.trust.value > 0.9


def test_aligned_umap_is_seeded(blobs):
    views = [blobs, blobs[:, ::-1].copy()]
    a = align_projections(views, method="umap", n_epochs=30, seed=3)
    b = align_projections(views, method="umap", n_epochs=30, seed=3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.coords, y.coords)


def test_alignment_needs_the_same_items(blobs):
    with pytest.raises(EmbedLensInputError, match=r"views \[1\] do not have 300 rows"):
        align_projections([blobs, blobs[:100]], method="pca")
