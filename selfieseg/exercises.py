"""Checks for the book's exercises, and a tool that strips solutions for students.

Each ``check_*`` runs the student's answer on real inputs and raises
``AssertionError`` with a message that says what is wrong and hints at why, or prints
a short confirmation. Solution cells in the notebooks carry the tag ``solution``;
:func:`strip_solutions` removes them to make the copy a class receives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _ok(message: str) -> bool:
    print(f"Correct: {message}")
    return True


# --- Data chapter ----------------------------------------------------------------------
def check_person_fraction(fn, masks=None) -> bool:
    """``fn(mask) -> float``: the share of pixels that are person, for 0/1 or 0/255 masks."""
    rng = np.random.default_rng(0)
    cases = list(masks) if masks is not None else []
    cases += [(rng.random((40, 30)) > 0.7).astype(np.uint8), (rng.random((16, 16)) > 0.4).astype(np.uint8) * 255]
    for mask in cases:
        expected = float((np.asarray(mask) > 0).mean())
        got = fn(mask)
        assert got is not None, "your function returned None: did you forget `return`?"
        got = float(got)
        if np.isclose(got, expected * 255, rtol=1e-3):
            raise AssertionError("the answer is 255x too large: a 0/255 mask must be binarised (mask > 0) first")
        assert 0.0 <= got <= 1.0, f"a fraction lies in [0, 1]; got {got:.4f}"
        assert np.isclose(got, expected, atol=1e-6), (
            f"expected {expected:.4f} for a {mask.shape} mask with values {np.unique(mask).tolist()}, got {got:.4f}"
        )
    return _ok(f"person fraction right on {len(cases)} masks")


def check_voc_to_person(fn) -> bool:
    """``fn(classes) -> (person uint8 0/1, ignore bool)`` for a VOC palette index array."""
    classes = np.array([[0, 15, 15, 255], [3, 15, 0, 255], [15, 255, 7, 0]], np.uint8)
    result = fn(classes)
    assert isinstance(result, tuple) and len(result) == 2, "return a tuple (person_mask, ignore_mask)"
    person, ignore = (np.asarray(r) for r in result)
    assert person.shape == classes.shape and ignore.shape == classes.shape, "both masks keep the input's shape"
    want_person = (classes == 15).astype(np.uint8)
    want_ignore = classes == 255
    if np.array_equal(person.astype(bool), classes > 0):
        raise AssertionError("every non-zero class became person: only class 15 is a person in VOC")
    assert np.array_equal(person.astype(np.uint8), want_person), "person must be 1 exactly where the class index is 15"
    if np.array_equal(ignore.astype(bool), classes == 0):
        raise AssertionError("ignore marks background: it should mark the void border, index 255")
    assert np.array_equal(ignore.astype(bool), want_ignore), "ignore must be True exactly where the index is 255 (void)"
    return _ok("person = class 15, ignore = void 255")


def check_flip_pair(fn, sample=None) -> bool:
    """``fn(image, mask) -> (image, mask)`` flipped left-right, together."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (6, 9, 3), dtype=np.uint8) if sample is None else sample.image
    mask = (rng.random(image.shape[:2]) > 0.5).astype(np.uint8) if sample is None else sample.mask
    flipped_image, flipped_mask = fn(image.copy(), mask.copy())
    if np.array_equal(flipped_image, image[::-1]):
        raise AssertionError("that is an up-down flip (axis 0); a mirror selfie flips axis 1")
    assert np.array_equal(flipped_image, image[:, ::-1]), "the image must be mirrored left-right (axis 1)"
    if np.array_equal(flipped_mask, mask):
        raise AssertionError("the mask was not flipped: image and mask must move together or labels go wrong")
    assert np.array_equal(flipped_mask, mask[:, ::-1]), "the mask must be mirrored exactly like the image"
    return _ok("image and mask mirrored together")


# --- Architecture chapters -----------------------------------------------------------
def trainable_params(model_or_layer) -> int:
    return int(sum(np.prod(w.shape) for w in model_or_layer.trainable_weights))


def check_param_count(predicted: int, model_or_layer, what: str = "") -> bool:
    """Compare a predicted trainable-parameter count with the real one."""
    actual = trainable_params(model_or_layer)
    label = what or getattr(model_or_layer, "name", "the model")
    assert predicted is not None, "set your prediction to a number"
    predicted = int(predicted)
    if predicted == actual:
        return _ok(f"{label} has {actual:,} trainable parameters")
    hint = ""
    total = int(model_or_layer.count_params())
    if predicted == total:
        hint = " You counted batch-norm moving statistics, which are not trained."
    elif actual and predicted > actual and predicted % actual == 0:
        hint = " Check for a factor: a depthwise conv has one filter per input channel, not per output."
    raise AssertionError(f"{label}: predicted {predicted:,}, actual {actual:,} (off by {predicted - actual:+,}).{hint}")


def check_same_output(mine, reference, inputs, atol: float = 1e-5) -> bool:
    """Your block built from layers must compute what the library's does on ``inputs``."""
    a = np.asarray(mine(inputs))
    b = np.asarray(reference(inputs))
    assert a.shape == b.shape, f"output shape {a.shape} differs from the library's {b.shape}"
    error = float(np.abs(a - b).max())
    assert error <= atol, f"outputs differ by up to {error:.3g} (allowed {atol}); did you copy the weights in the same order?"
    return _ok(f"same output (max difference {error:.2g})")


def check_close(answer, truth: float, what: str, rtol: float = 0.02) -> bool:
    """A number the student computed must match the library's measurement within ``rtol``."""
    assert answer is not None, f"{what}: set your answer to a number"
    answer = float(answer)
    if truth == 0:
        assert answer == 0, f"{what}: expected exactly 0, got {answer:g}"
    else:
        error = abs(answer - truth) / abs(truth)
        direction = "too high" if answer > truth else "too low"
        assert error <= rtol, f"{what}: {answer:,.4g} is {error:.0%} {direction} (allowed {rtol:.0%})"
    return _ok(f"{what} = {answer:,.4g}")


def check_ratio(measured: float, low: float, high: float, what: str) -> bool:
    """A measured ratio must fall inside the range the exercise reasons about."""
    assert low <= measured <= high, f"{what}: {measured:.3f} is outside [{low}, {high}]; recheck your measurement"
    return _ok(f"{what} = {measured:.3f}")


# --- Evaluation chapter ------------------------------------------------------------------
def check_pooled_iou(fn, pairs) -> bool:
    """``fn(pairs) -> float``: the pooled (dataset) IoU of ``(truth, probability)`` pairs.

    Pooled IoU is the total intersection over the total union of the whole set, so a
    large person weighs more than a small one; the usual mistake is the mean of the
    per-image IoUs, which weighs every photo alike.
    """
    from selfieseg.metrics import IoUAccumulator

    pairs = list(pairs)
    scores = IoUAccumulator()
    for truth, probability in pairs:
        scores.add(truth, probability)
    got = fn(pairs)
    assert got is not None, "your function returned None: did you forget `return`?"
    got = float(got)
    if not np.isclose(scores.mean_iou, scores.dataset_iou, atol=1e-6) and np.isclose(got, scores.mean_iou, atol=1e-6):
        raise AssertionError(f"{got:.4f} is the mean of the per-image IoUs: pool first (sum every image's intersection "
                             "and every image's union), then divide once")
    assert 0.0 <= got <= 1.0, f"an IoU lies in [0, 1]; got {got:.4f}"
    assert np.isclose(got, scores.dataset_iou, atol=1e-6), (
        f"expected {scores.dataset_iou:.4f} on {len(pairs)} images, got {got:.4f}; threshold the probability at 0.5")
    return _ok(f"pooled IoU {got:.4f} (the per-image mean on the same images: {scores.mean_iou:.4f})")


def check_paired_interval(fn, ours, theirs, resamples: int = 10_000) -> bool:
    """``fn(ours, theirs, resamples) -> (low, high)``: the 95% paired bootstrap interval of the mean difference.

    Compared with :func:`selfieseg.metrics.paired_difference`; the student's draws differ
    from the library's, so the ends may differ by a fifth of the interval's width. An
    interval from resampling the two models' images independently (unpaired) is named:
    it keeps the images' own difficulty in the spread and comes out wider.
    """
    from selfieseg.metrics import bootstrap_means, paired_difference

    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    reference = paired_difference(ours, theirs, resamples=resamples)
    got = fn(ours, theirs, resamples)
    assert got is not None and len(got) == 2, "return a pair (low, high)"
    low, high = (float(value) for value in got)
    assert low <= high, f"low ({low:+.4f}) must not exceed high ({high:+.4f})"
    width = reference["high"] - reference["low"]
    unpaired = (bootstrap_means(ours, resamples, seed=1) - bootstrap_means(theirs, resamples, seed=2))
    unpaired_width = float(np.percentile(unpaired, 97.5) - np.percentile(unpaired, 2.5))
    if high - low > 1.5 * width and abs((high - low) - unpaired_width) < 0.25 * unpaired_width:
        raise AssertionError(f"your interval is {high - low:.4f} wide, the paired one {width:.4f}: resample the "
                             "*differences* (one draw of images for both models), not each model on its own")
    tolerance = 0.2 * width + 1e-9
    if not (abs(low - reference["low"]) <= tolerance and abs(high - reference["high"]) <= tolerance):
        # near a mean of 0 the reversed interval looks like the right one, so it is named only when the right one fails
        if abs(low + reference["high"]) <= tolerance and abs(high + reference["low"]) <= tolerance:
            raise AssertionError(f"[{low:+.4f}, {high:+.4f}] is the interval of theirs - ours: subtract the other way "
                                 "(ours - theirs), so that a positive difference means ours is better")
        raise AssertionError(f"expected about [{reference['low']:+.4f}, {reference['high']:+.4f}], got "
                             f"[{low:+.4f}, {high:+.4f}]; take the 2.5th and 97.5th percentiles of the resampled means")
    verdict = "a tie (it holds 0)" if low <= 0 <= high else "a difference (it excludes 0)"
    return _ok(f"interval [{low:+.4f}, {high:+.4f}]: {verdict}")


# --- Instructors ------------------------------------------------------------------------
def moving_average_iou(segmenter, frames, truths, keep: float = 0.8) -> float:
    """Mean per-frame IoU of ``p_t = keep * p_(t-1) + (1 - keep) * q_t`` (the video chapter's
    reference for a plain moving average, which lags behind motion)."""
    from selfieseg.metrics import iou

    state, scores = None, []
    for frame, truth in zip(frames, truths):
        q = segmenter(frame)
        state = q if state is None else keep * state + (1 - keep) * q
        scores.append(iou(state > 0.5, truth))
    return float(np.mean(scores))


def strip_solutions(notebook, output) -> Path:
    """Write a copy of ``notebook`` without cells tagged ``solution`` (and without outputs)."""
    from selfieseg.io import atomic_path

    source = Path(notebook)
    content = json.loads(source.read_text())
    cells = [c for c in content["cells"] if "solution" not in c.get("metadata", {}).get("tags", [])]
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    content["cells"] = cells
    with atomic_path(output, inputs=[source]) as tmp:
        tmp.write_text(json.dumps(content, indent=1))
    return Path(output)
