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


#: The cross-dataset benchmark's columns: (label, dataset, reader options). PFCN test is
#: the standard portrait benchmark; VOC person and CCP test are this project's committed
#: held-out lists (people in the wild, full figures); DAVIS parkour is a real labelled
#: clip, scored frame by frame as photos. Nothing trains on any of them.
BENCHMARK_SETS = (
    ("PFCN test", "pfcn", {"split": "test"}),
    ("VOC person test", "voc_person", {"split": "test"}),
    ("CCP test", "ccp", {"split": "test"}),
    ("DAVIS parkour", "davis", {}),
)


def benchmark_readers(root=None, limit: int | None = None) -> dict:
    """``{column label: reader}`` for :data:`BENCHMARK_SETS` (the first ``limit`` images of each)."""
    from selfieseg.data import open_dataset

    readers = {}
    for label, dataset, options in BENCHMARK_SETS:
        reader = open_dataset(dataset, root, **options)
        readers[label] = reader.subset(range(min(limit, len(reader)))) if limit else reader
    return readers


def evaluate_by_dataset(segmenter, cache, indices, progress: bool = True) -> dict:
    """Per-image mean IoU of ``segmenter`` on cached samples, per dataset and their mean.

    ``cache`` and ``indices`` are a run's held-back validation samples
    (:func:`selfieseg.data.training.validation_samples`); each cached name starts with its
    dataset. Returns ``{dataset: IoU, ..., "mean": mean over datasets}``: the datasets are
    weighted alike, as in the benchmark, so 594 VOC photos count as much as 1,605 portraits.
    """
    import numpy as np
    from tqdm.auto import tqdm

    from selfieseg.metrics import IoUAccumulator

    scores: dict[str, IoUAccumulator] = {}
    for index in tqdm(indices, desc="validation", disable=not progress):
        image, mask, ignore = cache.get(int(index))
        if ignore is not None and np.asarray(ignore, bool).all():
            continue  # every pixel void (CCP 0536): nothing to score, and it would count as 1.0
        dataset = cache.names[int(index)].split("/", 1)[0]
        scores.setdefault(dataset, IoUAccumulator()).add(mask, segmenter.predict(image), ignore)
    result = {name: acc.mean_iou for name, acc in sorted(scores.items()) if acc.per_image}
    result["mean"] = sum(result.values()) / len(result) if result else float("nan")
    return result


__all__ = ["BENCHMARK_SETS", "benchmark_readers", "evaluate_by_dataset", "evaluate_split"]
