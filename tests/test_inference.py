"""Segmenter / TFLiteSegmenter: any image in, a probability at the image's own size out."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from selfieseg.errors import ImageReadError, ModelError
from selfieseg.inference import Segmenter, TFLiteSegmenter, as_rgb
from selfieseg.metrics import IoUAccumulator


@pytest.fixture(scope="module")
def tiny():
    import selfieseg

    return Segmenter(selfieseg.load("sinet_tiny", weights=None))


def test_any_size_and_layout_gives_a_mask_of_that_size(tiny):
    rgb = np.random.default_rng(0).integers(0, 255, (123, 77, 3), dtype=np.uint8)
    for image in (rgb, rgb[..., 0], np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), rgb.astype(np.uint16) * 257):
        mask = tiny.predict(image)
        assert mask.shape == (123, 77) and mask.dtype == np.float32
        assert 0 <= mask.min() and mask.max() <= 1


def test_exif_rotated_photo_gets_a_mask_matching_the_viewer(tiny, tmp_path):
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = 8
    image.save(tmp_path / "p.jpg", exif=exif)
    assert tiny.predict(tmp_path / "p.jpg").shape == (60, 40)


def test_bad_images_fail_clearly(tiny, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match="0 bytes"):
        tiny.predict(tmp_path / "empty.jpg")
    with pytest.raises(ImageReadError, match="channels"):
        as_rgb(np.zeros((8, 8, 5), np.uint8))
    with pytest.raises(ImageReadError, match="shape"):
        as_rgb(np.zeros((0, 8, 3), np.uint8))
    with pytest.raises(ModelError, match="not found"):
        Segmenter(tmp_path / "nope.keras")
    with pytest.raises(ModelError, match="unknown model"):
        Segmenter("deeplab")


def test_mediapipe_through_the_same_pipeline_segments_real_portraits(anchors_root, pfcn_test):
    mediapipe = TFLiteSegmenter(anchors_root / "mediapipe_selfie_segmentation.tflite")
    scores = IoUAccumulator()
    for index in range(0, 264, 33):  # 8 test portraits spread over the split
        sample = pfcn_test[index]
        probability = mediapipe.predict(sample.image)
        assert probability.shape == sample.mask.shape
        scores.add(sample.mask, probability)
    assert scores.mean_iou > 0.9, scores.per_image


@pytest.mark.slow
def test_open_segmenter_is_the_one_way_from_a_name_or_a_file(tmp_path):
    """Names, .keras, .weights.h5, .tflite and .onnx files, Keras models and segmenters all open here."""
    import selfieseg
    from selfieseg.export import export
    from selfieseg.inference import OnnxSegmenter, Segmenter, TFLiteSegmenter, open_segmenter

    model = selfieseg.load("sinet_tiny", weights=None)
    model.save_weights(tmp_path / "tiny.weights.h5")
    model.save(tmp_path / "tiny.keras")
    tflite = export(model, tmp_path / "tiny.tflite")
    image = np.random.default_rng(1).integers(0, 255, (50, 40, 3), dtype=np.uint8)
    reference = Segmenter(model).predict(image)
    opened = {
        "name + weights": open_segmenter("sinet_tiny", weights=tmp_path / "tiny.weights.h5"),
        ".keras": open_segmenter(tmp_path / "tiny.keras"),
        "Keras model": open_segmenter(model),
        ".tflite": open_segmenter(tflite),
        "name + .tflite weights": open_segmenter("sinet_tiny", weights=str(tflite)),
    }
    assert isinstance(opened[".tflite"], TFLiteSegmenter) and isinstance(opened[".keras"], Segmenter)
    for what, segmenter in opened.items():
        np.testing.assert_allclose(segmenter.predict(image), reference, atol=1e-4, err_msg=what)
    assert open_segmenter(opened[".tflite"]) is opened[".tflite"]  # a segmenter is returned as it is
    onnx = pytest.importorskip("onnxruntime") and export(model, tmp_path / "tiny.onnx")
    assert isinstance(open_segmenter(onnx), OnnxSegmenter)
    with pytest.raises(ModelError, match="not found"):
        open_segmenter(tmp_path / "missing.tflite")


def test_mirror_averages_the_photo_and_its_mirror_image(pfcn_test):
    """``mirror=True`` is the mean of the plain prediction and the unmirrored prediction of
    the mirrored photo, and it is left-right symmetric: the mirrored photo gets the mirrored mask."""
    import selfieseg
    from selfieseg.inference import open_segmenter

    model = selfieseg.load("sinet")
    plain, mirrored = Segmenter(model), Segmenter(model, mirror=True)
    for index in (0, 100, 200):
        image = pfcn_test[index].image
        expected = 0.5 * (plain.predict(image) + plain.predict(image[:, ::-1])[:, ::-1])
        got = mirrored.predict(image)
        # the mirrored input is flipped after resizing here, before it in `expected`: round-off only
        assert np.abs(got - expected).mean() < 2e-3 and np.abs(got - expected).max() < 0.1
        assert np.abs(got - plain.predict(image)).max() > 0.05  # and it is not the plain prediction
        flipped = mirrored.predict(np.ascontiguousarray(image[:, ::-1]))
        assert np.abs(flipped[:, ::-1] - got).mean() < 2e-3
    # open_segmenter: mirror on a segmenter given gives a mirrored copy, the original unchanged
    copy = open_segmenter(plain, mirror=True)
    assert copy is not plain and copy.mirror and not plain.mirror and copy.model is plain.model
    assert open_segmenter(mirrored, mirror=True) is mirrored

    class Custom:
        def predict(self, image):
            return np.zeros(np.asarray(image).shape[:2], np.float32)

    with pytest.raises(ModelError, match="mirror averaging needs"):
        open_segmenter(Custom(), mirror=True)


@pytest.mark.slow
def test_mirror_on_exported_files_matches_keras(tmp_path, pfcn_test):
    import selfieseg
    from selfieseg.export import export
    from selfieseg.inference import OnnxSegmenter

    model = selfieseg.load("sinet")
    image = pfcn_test[5].image
    reference = Segmenter(model, mirror=True).predict(image)
    tflite = TFLiteSegmenter(export(model, tmp_path / "sinet.tflite"), mirror=True)
    np.testing.assert_allclose(tflite.predict(image), reference, atol=2e-3)
    pytest.importorskip("onnxruntime")
    onnx = OnnxSegmenter(export(model, tmp_path / "sinet.onnx"), mirror=True)
    np.testing.assert_allclose(onnx.predict(image), reference, atol=2e-3)
