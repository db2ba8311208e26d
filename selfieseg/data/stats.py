"""Mask statistics: how much of each image is person, where the person sits, and how many people.

Pixels a sample marks as ignored (VOC's void border, CCP's one unlabelled annotation)
are left out everywhere: they are neither person nor background.
"""

from __future__ import annotations

import cv2
import numpy as np

from selfieseg.errors import InputError

#: a person region smaller than this share of the image is not counted as a person:
#: about 56 pixels of a 500x375 VOC photo (a hand or a foot cut off by something in
#: front), while VOC's smallest labelled people, a few hundred metres away, keep
#: about 100 pixels
MIN_PERSON_SHARE = 0.0003


def person_regions(mask, ignore=None, min_share: float = MIN_PERSON_SHARE, connectivity: int = 4):
    """The separate person regions of one mask: ``(labels, shares)``.

    A region is a connected set of person pixels (``mask > 0``) that are not ignored.
    ``labels`` is an HxW ``int32`` map: 0 off the person and on regions smaller than
    ``min_share`` of the image, 1 to n on the n regions kept, largest first; ``shares``
    holds each kept region's share of the image, in the same order.

    ``connectivity`` 4 joins pixels through their edges only. Pascal VOC draws a void
    line (ignored here) along every object's outline, also between two people who touch,
    so edge-connected regions keep such people apart where 8-connectivity would join
    them through the line's diagonal gaps.
    """
    if connectivity not in (4, 8):
        raise InputError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if not 0.0 <= min_share < 1.0:
        raise InputError(f"min_share must be in [0, 1), got {min_share!r}")
    person = np.asarray(mask) > 0
    if person.ndim != 2:
        raise InputError(f"expected an HxW mask, got shape {person.shape}")
    if ignore is not None:
        ignore = np.asarray(ignore, bool)
        if ignore.shape != person.shape:
            raise InputError(f"ignore mask {ignore.shape} does not match the mask {person.shape}")
        person &= ~ignore
    count, components, table, _ = cv2.connectedComponentsWithStats(person.astype(np.uint8), connectivity=connectivity)
    areas = table[1:, cv2.CC_STAT_AREA] / person.size
    kept = [index + 1 for index in np.argsort(-areas, kind="stable") if areas[index] >= min_share]
    relabel = np.zeros(count, np.int32)
    relabel[kept] = np.arange(1, len(kept) + 1)
    return relabel[components], areas[np.asarray(kept, int) - 1]


def person_count(mask, ignore=None, min_share: float = MIN_PERSON_SHARE, connectivity: int = 4) -> int:
    """How many separate people one mask shows, by its connected person regions.

    A proxy, and an honest one only where people stand apart: two people who overlap
    without a void line between them count as one, and a person cut in two by something
    in front (a table, a bicycle frame) can count as two. Regions under ``min_share`` of
    the image are not counted; ignored pixels are not person. See :func:`person_regions`.
    """
    return len(person_regions(mask, ignore, min_share, connectivity)[1])


def label_shares(label_maps, count: int, background: int = 0) -> np.ndarray:
    """The share of all person pixels that carry each label, pooled over ``label_maps``.

    ``label_maps`` are HxW integer maps (CCP's clothing labels: :meth:`CCP.parts`) in
    which every label but ``background`` is part of the person. Returns ``count``
    floats, ``0`` at ``background``, summing to 1 when any person pixel was seen.
    """
    totals = np.zeros(count, np.int64)
    for labels in label_maps:
        labels = np.asarray(labels).ravel()
        if labels.size and (labels.min() < 0 or labels.max() >= count):
            raise InputError(f"labels run from {labels.min()} to {labels.max()}, outside 0..{count - 1}")
        totals += np.bincount(labels.astype(np.int64), minlength=count)[:count]
    totals[background] = 0
    return totals / max(int(totals.sum()), 1)


def mask_statistics(dataset, size: int = 64, limit: int | None = None, progress: bool = False,
                    min_share: float = MIN_PERSON_SHARE) -> dict:
    """Per-image person shares and counts, a position heatmap and centroids, over ``dataset``.

    Returns a dict: ``area`` (each image's person share of its labelled pixels, ignored
    ones left out), ``people`` (each image's :func:`person_count`), ``names``, a
    ``heatmap`` (mean mask on a ``size`` grid), ``centroids`` (x, y in [0, 1]) and
    ``count`` (images read). ``limit`` reads an evenly spaced subset (fast previews).
    An image with no labelled pixel at all is left out of every statistic and named in
    ``skipped``.
    """
    from tqdm.auto import tqdm

    total = len(dataset)
    indices = np.arange(total) if not limit or limit >= total else np.linspace(0, total - 1, limit).astype(int)
    areas, people, names, centroids, skipped = [], [], [], [], []
    heatmap = np.zeros((size, size), np.float64)
    for index in tqdm(indices, desc=f"stats {getattr(dataset, 'name', '')}", disable=not progress):
        sample = dataset[int(index)]
        mask = np.asarray(sample.mask, np.float32)
        labelled = np.ones(mask.shape, bool) if sample.ignore is None else ~np.asarray(sample.ignore, bool)
        if not labelled.any():
            skipped.append(sample.name)
            continue
        areas.append(float(mask[labelled].mean()))
        people.append(person_count(mask > 0.5, sample.ignore, min_share))
        names.append(sample.name)
        heatmap += cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
        ys, xs = np.nonzero(mask > 0.5)
        if len(xs):
            centroids.append((xs.mean() / mask.shape[1], ys.mean() / mask.shape[0]))
    return {
        "count": len(indices),
        "area": np.asarray(areas),
        "people": np.asarray(people, int),
        "names": names,
        "skipped": skipped,
        "heatmap": heatmap / max(len(areas), 1),
        "centroids": np.asarray(centroids).reshape(-1, 2),
    }
