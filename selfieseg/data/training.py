"""Which data a training run reads: the training portion of each dataset, never a test split.

The training network's input (:class:`~selfieseg.data.pipeline.SegmentationSequence`
over a cache) is built here from dataset names, so training, quantization-aware
fine-tuning and calibration all draw on the same portions and the same refusals.
"""

from __future__ import annotations

import math
from pathlib import Path

from selfieseg.data import open_dataset
from selfieseg.data.augment import augmenter
from selfieseg.data.pipeline import ArrayCache, SegmentationSequence, build_cache, distill_weight, split_indices
from selfieseg.data.splits import held_out_splits, refuse_held_out
from selfieseg.io import cache_root


def training_readers(names, root=None):
    """A reader for the training portion of each named dataset.

    Test splits (PFCN's official one, the committed VOC person and CCP lists) and
    evaluation-only sets (DAVIS) are refused by :func:`selfieseg.data.splits.held_out_splits`
    before anything is read.
    """
    return [open_dataset(name, root, **options) for name, options in held_out_splits(names)]


def training_cache(data, size: int, root=None, cache_dir=None) -> ArrayCache:
    """The decoded cache a run on ``data`` at ``size`` trains from (built on first use).

    It is slightly larger than ``size`` (so augmentation can crop) and shared by every run
    on the same datasets; an existing cache (built here, or unpacked from ``pack_cache``)
    needs no raw datasets. Test splits are refused before anything is read.
    """
    refuse_held_out(data)
    cache_size = max(256, int(math.ceil(size * 1.15 / 32) * 32))
    caches = Path(cache_dir) if cache_dir else cache_root()
    cache_path = caches / f"{'+'.join(sorted(data))}_{cache_size}"
    readers = None if cache_path.exists() else training_readers(data, root)
    return build_cache(readers, cache_path, size=(cache_size, cache_size))


def validation_samples(data, size: int, validation: float = 0.1, seed: int = 0, root=None, cache_dir=None):
    """``(cache, indices)``: the samples a run held back for validation, as its training saw them.

    The same seeded share :func:`training_sequences` validates on, so anything chosen
    after training (a serving size, an interpolation between weights) is chosen on
    images the run never fitted, and never on a test split. ``cache.names[i]`` starts
    with the dataset's name, so scores can be given per dataset.
    """
    cache = training_cache(data, size, root, cache_dir)
    return cache, split_indices(len(cache), validation, seed)[1]


def training_sequences(data, size: int, batch_size: int = 16, prior: bool = False, outputs=None,
                       validation: float = 0.1, seed: int = 0, root=None, cache_dir=None, twin: bool = False,
                       augment="full", teacher_labels=None, distill: float = 0.5, workers: int = 1,
                       composite: float = 0.0, data_weights=None, batch_multiple: int = 1, shard=(0, 1)):
    """(train, validation) :class:`SegmentationSequence` over a cache of ``data``.

    The cache (decoded once, slightly larger than ``size`` so augmentation can crop) lives
    in ``cache_dir``, else :func:`selfieseg.io.cache_root` and is reused by
    every later run on the same datasets. Validation is a seeded share of the cache.
    ``augment`` names a recipe of :data:`selfieseg.data.augment.AUGMENTATIONS` (or is an
    :class:`~selfieseg.data.augment.Augmenter`); validation is never augmented.
    ``composite`` is the share of training people put in front of another training
    photo's background (:meth:`~selfieseg.data.augment.Augmenter.composite_onto`).
    With ``teacher_labels`` (a function of the cache giving a teacher's probability for
    every cached image, such as :func:`selfieseg.train.teacher_labels` bound to a
    teacher) training targets blend the mask with those probabilities by ``distill``; validation keeps the plain masks, so
    model selection is judged on the labels alone. ``data_weights`` (``{dataset: weight}``)
    sets each dataset's share of a training epoch
    (:class:`~selfieseg.data.pipeline.SegmentationSequence`); validation always scores
    every held-back sample once. ``workers`` > 1 prepares batches in
    that many threads (OpenCV and numpy release the GIL), for machines whose accelerator
    would otherwise wait on augmentation. ``batch_multiple`` and ``shard`` split each batch
    across devices and hosts for data-parallel training (:mod:`selfieseg.distribute`).
    """
    recipe = augmenter(augment, composite)  # an unknown name or bad share fails here, before any decoding
    cache = training_cache(data, size, root, cache_dir)
    train_idx, val_idx = split_indices(len(cache), validation, seed)
    common = dict(batch_size=batch_size, size=size, prior=prior, valid_channel=True, output_names=outputs, twin=twin,
                  batch_multiple=batch_multiple, shard=shard)
    if int(workers) > 1:
        common.update(workers=int(workers), use_multiprocessing=False)
    soft = None
    if teacher_labels is not None:
        distill_weight(distill)  # a bad weight fails before the teacher runs over the cache
        soft = teacher_labels(cache)
    train_seq = SegmentationSequence(cache, augment=recipe, indices=train_idx, seed=seed, soft_labels=soft,
                                     distill=distill, source_weights=data_weights, **common)
    val_seq = SegmentationSequence(cache, augment=None, shuffle=False, indices=val_idx, **common)
    return train_seq, val_seq




__all__ = ["training_cache", "training_readers", "training_sequences", "validation_samples"]
