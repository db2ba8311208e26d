"""Losses and metrics: known values, the ignore channel, serialisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from selfieseg import losses, metrics


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    mask = (rng.random((2, 16, 16, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(0, 2, (2, 16, 16, 1)).astype(np.float32)
    return mask, logits


def test_bce_matches_keras_and_perfect_dice_is_zero():
    mask, logits = _pair()
    ours = np.asarray(losses.binary_crossentropy(mask, logits))
    reference = keras.losses.binary_crossentropy(mask, logits, from_logits=True).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(ours, reference, rtol=1e-4)
    assert np.asarray(losses.dice_loss(mask, (mask * 2 - 1) * 50)).max() < 1e-3
    assert np.asarray(losses.dice_loss(mask, (1 - mask * 2) * 50)).min() > 0.9


def test_ignored_pixels_do_not_count():
    mask, logits = _pair()
    valid = np.ones_like(mask)
    valid[:, :8] = 0
    wrong = logits.copy()
    wrong[:, :8] = -50 * (mask[:, :8] * 2 - 1)  # confidently wrong, but only where ignored
    with_valid = np.concatenate([mask, valid], -1)
    for fn in (losses.binary_crossentropy, losses.dice_loss, losses.focal_loss):
        # with the valid channel, what happens on ignored pixels changes nothing ...
        np.testing.assert_allclose(np.asarray(fn(with_valid, wrong)), np.asarray(fn(with_valid, logits)), rtol=1e-5)
        # ... without it, the same confident mistakes raise the loss
        assert (np.asarray(fn(mask, wrong)) > np.asarray(fn(mask, logits))).all()


def test_focal_downweights_easy_pixels_and_boundary_targets_edges():
    mask, logits = _pair()
    easy = (mask * 2 - 1) * 4
    assert np.asarray(losses.focal_loss(mask, easy)).mean() < 0.1 * np.asarray(losses.binary_crossentropy(mask, easy)).mean()
    square = np.zeros((1, 12, 12, 1), np.float32)
    square[:, 3:9, 3:9] = 1
    edges = np.asarray(losses.mask_edges(square, 3))[0, ..., 0]
    assert edges[3, 5] == 1 and edges[6, 6] == 0 and edges[0, 0] == 0
    assert float(np.asarray(losses.consistency_loss(logits, logits)).max()) < 1e-6
    assert float(np.asarray(losses.consistency_loss(logits, -logits)).min()) > 0


def test_loss_classes_round_trip_their_config():
    loss = losses.SegmentationLoss(bce=1, dice=0.5, focal=0.2, boundary_emphasis=2)
    clone = losses.SegmentationLoss.from_config(loss.get_config())
    mask, logits = _pair()
    assert float(loss(mask, logits)) == pytest.approx(float(clone(mask, logits)))
    assert losses.BoundaryLoss.from_config(losses.BoundaryLoss(width=5).get_config()).width == 5


def test_iou_per_image_and_dataset_and_size_mismatch():
    truth = np.zeros((10, 10), np.uint8)
    truth[:5] = 1
    prediction = np.zeros((10, 10), np.float32)
    prediction[:5, :5] = 0.9
    assert metrics.iou(truth, prediction) == pytest.approx(0.5)
    acc = metrics.IoUAccumulator()
    acc.add(truth, prediction)
    acc.add(np.ones((4, 4)), np.ones((4, 4)))
    assert acc.mean_iou == pytest.approx(0.75) and acc.dataset_iou == pytest.approx((25 + 16) / (50 + 16))
    with pytest.raises(ValueError, match="resize the prediction"):
        metrics.iou(truth, np.zeros((5, 5)))
    ignore = np.zeros((10, 10), bool)
    ignore[:, 5:] = True
    assert metrics.iou(truth, prediction, ignore=ignore) == pytest.approx(1.0)


def test_paired_difference_counts_wins_and_brackets_the_mean_with_the_bootstrap():
    rng = np.random.default_rng(1)
    theirs = rng.uniform(0.9, 1.0, 264)
    same = metrics.paired_difference(theirs, theirs)
    assert same == {"mean": 0.0, "low": 0.0, "high": 0.0, "better": 0, "worse": 0}
    # a constant gain: every image better, and no interval around it
    shifted = metrics.paired_difference(theirs + 0.01, theirs)
    assert shifted["better"] == 264 and shifted["low"] == pytest.approx(0.01) == shifted["high"]
    # noisy differences: the 95% interval is about the mean +- 1.96 standard errors
    noise = rng.normal(0.002, 0.02, 264)
    d = metrics.paired_difference(theirs + noise, theirs, resamples=20_000)
    se = noise.std(ddof=1) / np.sqrt(264)
    assert d["low"] < d["mean"] < d["high"] and d["better"] + d["worse"] == 264
    assert d["high"] - d["low"] == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert metrics.paired_difference(theirs + noise, theirs, resamples=20_000) == d  # seeded
    with pytest.raises(ValueError, match="equal-length"):
        metrics.paired_difference(theirs, theirs[:10])


def test_the_mean_over_sets_weighs_each_set_alike_and_resamples_each_on_its_own():
    rng = np.random.default_rng(2)
    big, small = rng.uniform(0.9, 1.0, 264), rng.uniform(0.3, 0.7, 83)
    gain_big, gain_small = rng.normal(0.01, 0.02, 264), rng.normal(-0.05, 0.1, 83)
    across = metrics.paired_difference_across([big + gain_big, small + gain_small], [big, small])
    # the two sets' mean differences averaged, not the 347 images pooled
    assert across["mean"] == pytest.approx((gain_big.mean() + gain_small.mean()) / 2)
    assert across["mean"] != pytest.approx(np.concatenate([gain_big, gain_small]).mean())
    assert across["low"] < across["mean"] < across["high"]
    assert across["better"] + across["worse"] == 264 + 83
    # what benchmarks/accuracy.py computed inline before it called this: one seeded stream, the sets in order
    stream = np.random.default_rng(0)
    draws = np.mean([d[stream.integers(0, len(d), (10_000, len(d)))].mean(axis=1) for d in (gain_big, gain_small)], axis=0)
    assert across["low"] == pytest.approx(np.percentile(draws, 2.5), abs=1e-12)
    assert across["high"] == pytest.approx(np.percentile(draws, 97.5), abs=1e-12)
    # one set: exactly paired_difference
    assert metrics.paired_difference_across([big + gain_big], [big]) == metrics.paired_difference(big + gain_big, big)
    with pytest.raises(ValueError, match="same number of sets"):
        metrics.paired_difference_across([big], [big, small])
    with pytest.raises(ValueError, match="equal-length"):
        metrics.paired_difference_across([big, small], [big, small[:10]])


def test_bootstrap_means_spread_like_the_standard_error():
    values = np.random.default_rng(3).normal(0.5, 0.1, 400)
    means = metrics.bootstrap_means(values, resamples=20_000)
    assert means.shape == (20_000,) and means.mean() == pytest.approx(values.mean(), abs=1e-3)
    assert means.std() == pytest.approx(values.std() / np.sqrt(400), rel=0.05)
    assert np.array_equal(metrics.bootstrap_means(values, resamples=100), metrics.bootstrap_means(values, resamples=100))


def test_boundary_f_score_sees_the_outline_that_iou_forgives():
    # a 200x200 "head" whose prediction loses a fringe of fine strands: IoU stays high, the boundary score drops
    yy, xx = np.mgrid[:200, :200]
    truth = ((yy - 110) ** 2 + (xx - 100) ** 2 < 70 ** 2).astype(np.uint8)
    strands = truth.copy()
    for column in range(40, 160, 6):
        strands[10:60, column] = 1  # one-pixel strands of hair above the head
    prediction = truth.astype(np.float32) * 0.9
    assert metrics.iou(strands, prediction) > 0.95
    assert metrics.boundary_f_score(strands, prediction) < 0.75
    assert metrics.boundary_f_score(strands, strands) == 1.0
    # a tolerance of a few pixels forgives a one-pixel shift; zero tolerance matches only where the outline runs
    # along the shift (the circle's sides), about half of it
    shifted = np.roll(truth, 1, axis=0)
    assert metrics.boundary_f_score(truth, shifted, tolerance=0) < 0.6
    assert metrics.boundary_f_score(truth, shifted, tolerance=2) > 0.99
    empty = np.zeros_like(truth)
    assert metrics.boundary_f_score(empty, empty) == 1.0 and metrics.boundary_f_score(truth, empty) == 0.0


def test_the_accumulator_keeps_boundary_scores_only_when_asked():
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    plain = metrics.IoUAccumulator()
    plain.add(truth, truth)
    assert plain.boundary_f == [] and np.isnan(plain.mean_boundary_f)
    both = metrics.IoUAccumulator(boundary_tolerance=2)
    both.add(truth, truth)
    both.add(truth, np.roll(truth, 6, axis=1))
    assert both.boundary_f[0] == 1.0 and both.boundary_f[1] == metrics.boundary_f_score(truth, np.roll(truth, 6, axis=1))
    assert both.mean_boundary_f == pytest.approx(np.mean(both.boundary_f))


def test_boundary_f_score_and_keras_metric():
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    assert metrics.boundary_f_score(truth, truth) == 1.0
    shifted = np.roll(truth, 6, axis=1)
    assert metrics.boundary_f_score(truth, shifted) < 0.6
    metric = metrics.PersonIoU()
    y = np.concatenate([truth[None, ..., None], np.ones((1, 40, 40, 1))], -1).astype(np.float32)
    logits = (truth[None, ..., None].astype(np.float32) * 2 - 1) * 10.0
    metric.update_state(y, logits)
    assert float(metric.result()) == pytest.approx(1.0)
    metric.update_state(y, -logits)  # everything wrong: IoU 0 for this image
    assert float(metric.result()) == pytest.approx(0.5)


def test_consistency_loss_pulls_the_twin_only_and_skips_ignored_pixels():
    import tensorflow as tf

    mask, logits = _pair()
    loss = losses.ConsistencyLoss()
    same = np.concatenate([logits, logits], axis=-1)
    apart = np.concatenate([logits, -logits], axis=-1)
    assert float(loss(mask, same)) < 1e-6 and float(loss(mask, apart)) > 0.1
    # ignored pixels (valid = 0) do not count: disagreement only there costs nothing
    valid = np.ones_like(mask)
    valid[:, : mask.shape[1] // 2] = 0
    target = np.concatenate([mask, valid], axis=-1)
    half = same.copy()
    half[:, : mask.shape[1] // 2, :, 1] *= -1
    assert float(loss(target, half)) < 1e-6 and float(loss(mask, half)) > 0.05
    # the image's prediction is the teacher: no gradient reaches it from this term
    pred = tf.Variable(apart)
    with tf.GradientTape() as tape:
        value = loss(mask, pred)
    grad = tape.gradient(value, pred).numpy()
    assert not grad[..., 0].any() and np.abs(grad[..., 1]).sum() > 0
    clone = losses.ConsistencyLoss.from_config(losses.ConsistencyLoss(temperature=2.0).get_config())
    assert clone.temperature == 2.0
