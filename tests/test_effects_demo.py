"""Background effects on a real portrait, and the README's demo on the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest

from selfieseg import effects


@pytest.fixture(scope="module")
def portrait(pfcn_test):
    return pfcn_test[10]


def test_blur_keeps_the_person_and_softens_the_background(portrait):
    image, mask = portrait.image, portrait.mask.astype(np.float32)
    out = effects.blur_background(image, mask, strength=12)
    inside = mask > 0.5
    import cv2

    core = cv2.erode(inside.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    far = cv2.erode((~inside).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    assert np.abs(out[core].astype(int) - image[core].astype(int)).mean() < 2
    sharpness = lambda a: np.abs(np.diff(a.astype(float), axis=1))[far[:, 1:]].mean()  # noqa: E731
    assert sharpness(out) < 0.5 * sharpness(image)


def test_blur_has_no_halo_of_person_colour(portrait):
    # a red person on a blue background: the blurred background next to the edge stays blue
    image = np.zeros((100, 100, 3), np.uint8)
    image[...] = (0, 0, 255)
    mask = np.zeros((100, 100), np.float32)
    mask[30:70, 30:70] = 1
    image[mask > 0] = (255, 0, 0)
    out = effects.blur_background(image, mask, strength=10, edge=1)
    ring = out[30:70, 20:24]  # background just left of the person
    assert ring[..., 0].mean() < 40 and ring[..., 2].mean() > 200


def test_replace_grey_and_cutout(portrait):
    image, mask = portrait.image, portrait.mask.astype(np.float32)
    backdrop = effects.studio_backdrop(50, 80)
    replaced = effects.replace_background(image, mask, backdrop, edge=0)
    assert replaced.shape == image.shape
    corner = mask[:40, :40] == 0
    assert np.abs(replaced[:40, :40][corner].astype(int) - image[:40, :40][corner].astype(int)).mean() > 10
    grey = effects.grey_background(image, mask, edge=0)
    assert np.ptp(grey[:40, :40][corner].astype(int), axis=-1).max() <= 1
    rgba = effects.cutout(image, mask, edge=0)
    assert rgba.shape == (*image.shape[:2], 4) and np.array_equal(rgba[..., 3] > 127, mask > 0.5)


def test_demo_writes_every_output_from_the_shipped_weights(tmp_path, pfcn_test):
    from selfieseg.demo import run_demo, shipped_models
    from selfieseg.inference import Segmenter
    from selfieseg.io import read_image, write_image

    if not shipped_models():
        pytest.skip("no shipped weights in this version")
    sample = pfcn_test[3]
    photo = write_image(tmp_path / "photo.png", sample.image)
    before = photo.read_bytes()
    results = run_demo(photo, tmp_path / "out")
    for key in ("mask", "blurred", "replaced", "cutout", "side_by_side"):
        assert (tmp_path / "out" / results[key].rsplit("/", 1)[-1]).exists(), key
    assert photo.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["out", "photo.png"]
    written = read_image(results["mask"])[..., 0] / 255.0
    expected = Segmenter(results["model"]).predict(sample.image)
    assert written.shape == sample.mask.shape and np.abs(written - expected).max() <= 1 / 255 + 1e-6


@pytest.mark.slow
def test_shipped_model_cards_match_a_fresh_evaluation(pfcn_test):
    import json

    from selfieseg.demo import shipped_models
    from selfieseg.inference import Segmenter
    from selfieseg.metrics import IoUAccumulator
    from selfieseg.models import WEIGHTS_DIR

    if not shipped_models():
        pytest.skip("no shipped weights in this version")
    for name in shipped_models():
        card = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
        assert (WEIGHTS_DIR / f"{name}.md").exists()
        segmenter = Segmenter(name)
        assert segmenter.input_hw == (card["input_size"], card["input_size"])  # loads at its trained size
        scores = IoUAccumulator()
        for index in range(0, 264, 12):  # 22 test portraits spread over the split
            sample = pfcn_test[index]
            scores.add(sample.mask, segmenter.predict(sample.image))
        assert abs(scores.mean_iou - card["pfcn_test_iou"]) < 0.06, (name, scores.mean_iou, card["pfcn_test_iou"])
