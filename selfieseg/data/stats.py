"""Mask statistics: how much of each image is person, and where the person sits."""

from __future__ import annotations

import cv2
import numpy as np


def mask_statistics(dataset, size: int = 64, limit: int | None = None, progress: bool = False) -> dict:
    """Person-area fractions, a position heatmap (mean mask on a ``size`` grid) and centroids.

    ``limit`` reads an evenly spaced subset (fast previews).
    """
    from tqdm.auto import tqdm

    count = len(dataset)
    indices = np.arange(count) if not limit or limit >= count else np.linspace(0, count - 1, limit).astype(int)
    areas, centroids = [], []
    heatmap = np.zeros((size, size), np.float64)
    for index in tqdm(indices, desc=f"stats {getattr(dataset, 'name', '')}", disable=not progress):
        sample = dataset[int(index)]
        mask = np.asarray(sample.mask, np.float32)
        areas.append(float(mask.mean()))
        heatmap += cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
        ys, xs = np.nonzero(mask > 0.5)
        if len(xs):
            centroids.append((xs.mean() / mask.shape[1], ys.mean() / mask.shape[0]))
    return {
        "count": len(indices),
        "area": np.asarray(areas),
        "heatmap": heatmap / max(len(indices), 1),
        "centroids": np.asarray(centroids).reshape(-1, 2),
    }
