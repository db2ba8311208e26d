"""Scoring a segmenter on a dataset: the one loop every caller uses.

The command line (``selfieseg evaluate``), ``selfieseg ship``, the benchmarks and the
book all score through :func:`evaluate_split`, so a number in a model card, a table and
a chapter comes from the same code.
"""

from __future__ import annotations


def evaluate_split(segmenter, reader, progress: bool = True, boundary_tolerance: int | None = None):
    """Per-image IoU of ``segmenter`` on every sample of ``reader`` (at each image's own size).

    Returns the :class:`~selfieseg.metrics.IoUAccumulator`: ``per_image``, ``mean_iou``,
    ``dataset_iou``, and with ``boundary_tolerance`` (pixels) each image's boundary
    F-score too (``boundary_f``, ``mean_boundary_f``).
    """
    from tqdm.auto import tqdm

    from selfieseg.metrics import IoUAccumulator

    scores = IoUAccumulator(boundary_tolerance=boundary_tolerance)
    for sample in tqdm(reader, total=len(reader), desc="evaluating", disable=not progress):
        scores.add(sample.mask, segmenter.predict(sample.image), sample.ignore)
    return scores


__all__ = ["evaluate_split"]
