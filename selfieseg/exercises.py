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
