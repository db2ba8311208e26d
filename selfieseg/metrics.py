"""Person IoU (per image and over a set), boundary F-score, and paired bootstrap intervals.

The benchmark number of this project is the *per-image* person IoU averaged over the
PFCN test split: every portrait counts the same, whatever its size. The dataset IoU
(total intersection over total union) is reported beside it. Two models are compared
image by image (:func:`paired_difference`), because their means alone cannot say
whether a gap of a few thousandths is more than the draw of the test images.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
from keras import ops

from selfieseg.errors import InputError


def _binary(a, threshold=0.5):
    a = np.asarray(a)
    return a > threshold if a.dtype != bool else a


def intersection_union(truth, prediction, threshold: float = 0.5, ignore=None) -> tuple[int, int]:
    """Person pixels in both, and in either, of a mask and a prediction (ignored pixels skipped)."""
    truth, prediction = _binary(truth), _binary(prediction, threshold)
    if truth.shape != prediction.shape:
        raise InputError(
            f"prediction is {prediction.shape[1]}x{prediction.shape[0]} but the mask is "
            f"{truth.shape[1]}x{truth.shape[0]}: resize the prediction to the mask's size first."
        )
    if ignore is not None:
        keep = ~np.asarray(ignore, bool)
        truth, prediction = truth & keep, prediction & keep
    return int(np.logical_and(truth, prediction).sum()), int(np.logical_or(truth, prediction).sum())


def iou(truth, prediction, threshold: float = 0.5, ignore=None) -> float:
    """Person IoU of one image (an empty truth and empty prediction count as 1)."""
    intersection, union = intersection_union(truth, prediction, threshold, ignore)
    return 1.0 if union == 0 else intersection / union


class IoUAccumulator:
    """Collects per-image IoU and the set's total intersection and union.

    With ``boundary_tolerance`` (pixels) it also keeps each image's boundary F-score
    (:func:`boundary_f_score`), which IoU barely sees: the outline is a small share of a
    portrait's pixels (PortraitNet on PFCN test portrait 01023, 2026-12-02: IoU 0.969,
    boundary F 0.694 at 8 px, the strands of hair on both sides lost). Ignored pixels are
    not taken out of the boundary score: a void band, as VOC draws around every object,
    lies exactly where the boundary is, so score boundaries on fully labelled sets.
    """

    def __init__(self, threshold: float = 0.5, boundary_tolerance: int | None = None):
        self.threshold = threshold
        self.boundary_tolerance = boundary_tolerance
        self.per_image: list[float] = []
        self.boundary_f: list[float] = []
        self.intersection = 0
        self.union = 0

    def add(self, truth, prediction, ignore=None) -> float:
        intersection, union = intersection_union(truth, prediction, self.threshold, ignore)
        value = 1.0 if union == 0 else intersection / union
        self.intersection += intersection
        self.union += union
        self.per_image.append(value)
        if self.boundary_tolerance is not None:
            self.boundary_f.append(boundary_f_score(truth, prediction, self.threshold, self.boundary_tolerance))
        return value

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.per_image)) if self.per_image else float("nan")

    @property
    def dataset_iou(self) -> float:
        return self.intersection / self.union if self.union else float("nan")

    @property
    def mean_boundary_f(self) -> float:
        return float(np.mean(self.boundary_f)) if self.boundary_f else float("nan")


def bootstrap_means(values, resamples: int = 10_000, seed: int = 0, rng=None) -> np.ndarray:
    """The means of ``resamples`` draws (with replacement, seeded) of ``values``.

    Their spread is how far the mean of ``values`` would wander on another draw of the
    same number of images: the basis of every interval in this module. ``rng`` (a
    numpy ``Generator``) replaces ``seed`` when several sets must draw from one stream.
    """
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed) if rng is None else rng
    return values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)


def _paired(ours, theirs) -> np.ndarray:
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape or ours.ndim != 1 or not len(ours):
        raise InputError(f"need two equal-length lists of per-image scores, got {ours.shape} and {theirs.shape}.")
    return ours - theirs


def _summary(mean: float, means: np.ndarray, level: float, differences: np.ndarray) -> dict:
    tail = (1 - level) / 2 * 100
    return {"mean": float(mean), "low": float(np.percentile(means, tail)),
            "high": float(np.percentile(means, 100 - tail)),
            "better": int((differences > 0).sum()), "worse": int((differences < 0).sum())}


def paired_difference(ours, theirs, level: float = 0.95, resamples: int = 10_000, seed: int = 0) -> dict:
    """Mean per-image difference of two models scored on the same images, with a bootstrap interval.

    Two means a few thousandths apart say little on their own: on 264 test portraits the
    per-image IoU of one model minus another's spreads over several hundredths. Pairing
    by image removes the images' own difficulty; resampling the images (with replacement,
    seeded) gives the interval the mean difference would wander over on another draw of
    test portraits. Returns ``mean``, ``low``, ``high`` (the ``level`` interval) and how
    many images each side wins (``better``, ``worse``). An interval that holds 0 is a
    tie: this test set cannot tell the two apart (PortraitNet against MediaPipe on PFCN
    test, 2026-12-02: +0.0005, interval -0.0034 to +0.0048).
    """
    difference = _paired(ours, theirs)
    return _summary(difference.mean(), bootstrap_means(difference, resamples, seed), level, difference)


def paired_difference_across(ours_by_set, theirs_by_set, level: float = 0.95, resamples: int = 10_000,
                             seed: int = 0) -> dict:
    """:func:`paired_difference` of the mean over several test sets, each set weighted alike.

    ``ours_by_set`` and ``theirs_by_set`` hold one list of per-image scores per set
    (PFCN, VOC person, CCP, DAVIS in ``benchmarks/accuracy.py``), paired image by image
    within each set. Each set's images are resampled on their own (one seeded stream,
    the sets in order) and the sets' mean differences averaged, so a set of 83 photos
    counts as much as one of 264 and the interval keeps each set's own spread.
    """
    if len(ours_by_set) != len(theirs_by_set) or not len(ours_by_set):
        raise InputError(f"need the same number of sets on both sides, got {len(ours_by_set)} and {len(theirs_by_set)}.")
    differences = [_paired(ours, theirs) for ours, theirs in zip(ours_by_set, theirs_by_set)]
    rng = np.random.default_rng(seed)
    means = np.mean([bootstrap_means(d, resamples, rng=rng) for d in differences], axis=0)
    return _summary(np.mean([d.mean() for d in differences]), means, level, np.concatenate(differences))


def boundary_f_score(truth, prediction, threshold: float = 0.5, tolerance: int = 2) -> float:
    """F-score of boundary pixels matched within ``tolerance`` pixels (Perazzi et al.).

    The boundary of a mask is its pixels that touch the outside; a predicted boundary
    pixel counts as right when a true one lies within ``tolerance`` (a disk), and the
    other way round for recall. IoU is dominated by the body, which every model gets
    right; this score looks only at the outline: hair, fingers, the gap under an arm.
    Empty truth and empty prediction score 1, one empty without the other 0.
    """
    truth = _binary(truth).astype(np.uint8)
    prediction = _binary(prediction, threshold).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    edge_t = truth - cv2.erode(truth, kernel)
    edge_p = prediction - cv2.erode(prediction, kernel)
    if edge_t.sum() == 0 and edge_p.sum() == 0:
        return 1.0
    if edge_t.sum() == 0 or edge_p.sum() == 0:
        return 0.0
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    precision = (edge_p & cv2.dilate(edge_t, disk)).sum() / edge_p.sum()
    recall = (edge_t & cv2.dilate(edge_p, disk)).sum() / edge_t.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


@keras.saving.register_keras_serializable(package="selfieseg")
class PersonIoU(keras.metrics.Metric):
    """Mean per-image person IoU during training; honours the target's valid channel.

    Images without a single valid pixel are left out of the mean.
    """

    def __init__(self, threshold=0.5, from_logits=True, name="person_iou", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold, self.from_logits = threshold, from_logits
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        from selfieseg.losses import split_target

        mask, valid = split_target(y_true)
        probability = ops.sigmoid(y_pred) if self.from_logits else y_pred
        predicted = ops.cast(probability > self.threshold, "float32") * valid
        truth = ops.cast(mask > 0.5, "float32") * valid
        axes = tuple(range(1, len(truth.shape)))
        intersection = ops.sum(predicted * truth, axis=axes)
        union = ops.sum(ops.maximum(predicted, truth), axis=axes)
        per_image = ops.where(union > 0, intersection / ops.maximum(union, 1.0), ops.ones_like(union))
        # an image with no valid pixel (all void, or a data-parallel batch's padding) has
        # nothing to score: counted as 1.0 it would lift the mean
        scored = ops.cast(ops.sum(valid, axis=axes) > 0, "float32")
        self.total.assign_add(ops.sum(per_image * scored))
        self.count.assign_add(ops.sum(scored))

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "from_logits": self.from_logits}


def flicker(masks, truths=None) -> float:
    """Share of pixels whose binary mask flips between consecutive frames, per frame.

    With ``truths`` (the ground-truth masks), flips the truth itself makes (a person
    moving) are subtracted frame by frame, so only unwarranted changes count.
    """
    masks = np.asarray(masks).astype(bool)
    if masks.ndim != 3 or len(masks) < 2:
        raise InputError(f"need at least two HxW masks stacked as TxHxW, got shape {masks.shape}.")
    flips = (masks[1:] != masks[:-1]).mean(axis=(1, 2))
    if truths is not None:
        truths = np.asarray(truths).astype(bool)
        if truths.shape != masks.shape:
            raise InputError(f"masks {masks.shape} and truths {truths.shape} differ in shape.")
        flips = np.maximum(flips - (truths[1:] != truths[:-1]).mean(axis=(1, 2)), 0.0)
    return float(flips.mean())
