"""Figures people would rather see than read: overlays, galleries, augmentation grids."""

from __future__ import annotations

import numpy as np


def overlay(image: np.ndarray, mask: np.ndarray, color=(0, 200, 255), alpha: float = 0.45, ignore=None) -> np.ndarray:
    """The image with the person tinted and ignored pixels hatched grey."""
    out = image.astype(np.float32).copy()
    weight = np.clip(np.asarray(mask, np.float32), 0, 1)[..., None] * alpha
    out = out * (1 - weight) + np.asarray(color, np.float32) * weight
    if ignore is not None:
        stripes = (np.add.outer(np.arange(image.shape[0]), np.arange(image.shape[1])) // 4) % 2 == 0
        out[np.asarray(ignore, bool) & stripes] = 128
    return np.clip(out, 0, 255).astype(np.uint8)


def gallery(samples, columns: int = 4, titles=None, size: float = 2.6, figure_title: str | None = None):
    """A grid of overlays, one per :class:`~selfieseg.data.Sample` (masks tinted)."""
    import matplotlib.pyplot as plt

    samples = list(samples)
    rows = max(1, int(np.ceil(len(samples) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * 1.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, sample in enumerate(samples):
        ax = axes.ravel()[i]
        shown = sample.image if sample.mask is None else overlay(sample.image, sample.mask, ignore=sample.ignore)
        ax.imshow(shown)
        ax.set_title(titles[i] if titles else sample.name, fontsize=8)
    if figure_title:
        fig.suptitle(figure_title)
    fig.tight_layout()
    return fig


def image_grid(images, columns: int, titles=None, size: float = 2.2, cmap=None):
    """A plain grid of arrays (images or masks)."""
    import matplotlib.pyplot as plt

    images = list(images)
    rows = max(1, int(np.ceil(len(images) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.ravel()[i]
        ax.imshow(image, cmap=cmap if np.ndim(image) == 2 else None, vmin=0 if np.ndim(image) == 2 else None, vmax=1 if np.ndim(image) == 2 else None)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig
