"""The live demo page (book/demo) in headless Chromium, on real frames through a fake camera.

The page runs our exported SINet (onnxruntime-web) and MediaPipe's selfie segmenter
(LiteRT.js) in WebAssembly. Chromium's fake camera plays a y4m clip of DAVIS parkour
frames; a photo upload uses a PFCN test portrait. What is checked:

* the page's mask for the frame it actually saw (read back through window.selfiesegDemo)
  is the mask selfieseg's Python gives for that frame with the same exported file
  (OnnxSegmenter; MediaPipe's through TFLiteSegmenter): IoU >= 0.99, smoothing off
  (measured: identical masks, probabilities within 1.5e-5, on camera frames and photos);
* the page's preprocessing is OpenCV's (INTER_AREA bytes, INTER_LINEAR floats) and its
  smoother is selfieseg.video.TemporalSmoother, on real frames;
* frames per second are reported (> 0; their size is benchmarks/browser.py's business);
* no console error; a refused or absent camera, a file that is not an image and a
  missing model file each give a message that says what happened.

Needs Chromium at /usr/bin/chromium, Playwright (the Python package only: the browser is
Debian's) and npm or book/demo/node_modules; `bash run.sh test` installs them.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from selfieseg.webdemo import CHROMIUM, CHROMIUM_FLAGS, SOURCE, serve, write_y4m

pytestmark = pytest.mark.slow

READY = "window.selfiesegDemo && window.selfiesegDemo.ready"
CLIP_FRAMES = 20


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory, anchors_root) -> Path:
    """The page built as the book publishes it: `python -m selfieseg.webdemo BUILD_DIR`."""
    if not (SOURCE / "node_modules").is_dir() and shutil.which("npm") is None:
        pytest.skip(f"{SOURCE / 'node_modules'} is missing and npm is not installed to make it")
    out = tmp_path_factory.mktemp("webdemo") / "demo"
    done = subprocess.run([sys.executable, "-m", "selfieseg.webdemo", str(out), "--anchors", str(anchors_root)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "npm" in done.stderr:
        pytest.skip(f"the npm packages could not be had: {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory, data_root) -> Path:
    """Real video for the fake camera: the first DAVIS parkour frames (854x480), 10 frames/s."""
    from selfieseg.data import open_dataset

    davis = open_dataset("davis", root=data_root)
    return write_y4m([davis[i].image for i in range(CLIP_FRAMES)], tmp_path_factory.mktemp("clip") / "parkour.y4m")


def launch(playwright, *flags):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_FLAGS, *flags])


@pytest.fixture(scope="module")
def camera_browser(playwright, clip):
    browser = launch(playwright, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                     f"--use-file-for-fake-video-capture={clip}")
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def url(demo):
    with serve(demo) as base:
        yield base


class Page:
    """A page of the demo with its console collected."""

    def __init__(self, browser, url):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console = []
        self.page.on("console", lambda message: self.console.append((message.type, message.text)))
        self.page.on("pageerror", lambda error: self.console.append(("pageerror", str(error))))
        self.page.goto(url + "index.html")
        self.page.wait_for_function(READY, timeout=120_000)

    def hook(self, expression: str):
        return self.page.evaluate(f"window.selfiesegDemo.{expression}")

    def errors(self, allowed=()):
        return [(kind, text) for kind, text in self.console
                if kind in ("error", "pageerror") and not any(fragment in text for fragment in allowed)]

    def messages(self) -> list[str]:
        return [message["text"] for message in self.hook("messages")]

    def last_frame(self):
        """The last processed frame: RGB, and each model's mask and probability."""
        frame = self.hook("lastFrame()")
        height, width = frame["height"], frame["width"]
        rgb = np.frombuffer(base64.b64decode(frame["rgb"]), np.uint8).reshape(height, width, 3)
        masks = {name: np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width).astype(bool)
                 for name, data in frame["masks"].items()}
        probabilities = {name: np.frombuffer(base64.b64decode(data), "<f4").reshape(height, width)
                         for name, data in frame["probabilities"].items()}
        return frame, rgb, masks, probabilities

    def close(self):
        self.page.close()


@pytest.fixture
def page(camera_browser, url):
    opened = Page(camera_browser, url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def python_segmenters(demo):
    """selfieseg's Python runtimes on the very files the page loaded."""
    from selfieseg.inference import OnnxSegmenter, TFLiteSegmenter

    return {"ours": OnnxSegmenter(demo / "models" / "sinet.onnx"),
            "mediapipe": TFLiteSegmenter(demo / "models" / "mediapipe_selfie_segmentation.tflite")}


def assert_masks_agree(rgb, masks, probabilities, python_segmenters):
    from selfieseg.metrics import iou

    assert set(masks) == {"ours", "mediapipe"}
    for name, segmenter in python_segmenters.items():
        expected = segmenter.predict(rgb)
        assert 0.02 < masks[name].mean() < 0.98, f"{name}: the page's mask is (almost) empty or full"
        agreement = iou(expected > 0.5, masks[name])
        assert agreement >= 0.99, f"{name}: page vs Python mask IoU {agreement:.4f}"
        assert np.abs(expected - probabilities[name]).max() < 1e-3, name  # measured: 1.5e-5


def image_bytes(image) -> str:
    return base64.b64encode(np.ascontiguousarray(image).tobytes()).decode()


# --- the camera -------------------------------------------------------------------------------


def test_camera_masks_agree_with_python_and_fps_is_reported(page, python_segmenters):
    page.page.uncheck("#smoothing")
    page.page.click("#camera-start")
    page.page.wait_for_function("selfiesegDemo.frames >= 4", timeout=120_000)
    frame, rgb, masks, probabilities = page.last_frame()
    assert frame["source"] == "camera" and frame["smoothing"] is False
    assert rgb.std() > 20, "the fake camera sent a flat frame, not the clip"
    assert_masks_agree(rgb, masks, probabilities, python_segmenters)
    fps = page.hook("fps")
    assert set(fps) == {"ours", "mediapipe"} and all(value > 0 for value in fps.values()), fps
    assert page.hook("loopFps") > 0
    shown = page.page.inner_text('.panel[data-model="ours"] .fps')
    assert shown.endswith("fps") and float(shown.split()[0]) > 0
    assert page.messages() == []
    assert page.errors() == []


def test_smoothing_runs_on_the_camera_and_can_be_turned_off(page):
    page.page.click("#camera-start")
    page.page.wait_for_function("selfiesegDemo.frames >= 3", timeout=120_000)
    assert page.hook("last").get("smoothing") is True  # on by default for the camera
    page.page.uncheck("#smoothing")
    seen = page.hook("frames")
    page.page.wait_for_function(f"selfiesegDemo.frames >= {seen + 2}", timeout=60_000)
    assert page.hook("last")["smoothing"] is False
    assert page.errors() == []


# --- the page's processing is the library's -----------------------------------------------------

RESIZE = """async ([data, width, height, targetWidth, targetHeight]) => {
  const m = await import(new URL("segmentation.js", location.href));
  return m.toBase64(m.resizeArea(m.fromBase64(data), width, height, targetWidth, targetHeight));
}"""

RESTORE = """async ([data, width, height, targetWidth, targetHeight]) => {
  const m = await import(new URL("segmentation.js", location.href));
  const plane = new Float32Array(m.fromBase64(data).buffer);
  const out = m.restoreProbability(plane, width, height, targetWidth, targetHeight);
  return m.toBase64(new Uint8Array(out.buffer));
}"""

SMOOTH = """async ([frames, probabilities, width, height]) => {
  const m = await import(new URL("segmentation.js", location.href));
  const smoother = new m.TemporalSmoother();
  return frames.map((frame, i) => {
    const smoothed = smoother.update(m.fromBase64(frame), width, height, new Float32Array(m.fromBase64(probabilities[i]).buffer));
    return [m.toBase64(new Uint8Array(smoothed.buffer)), m.toBase64(smoother.binary(smoothed))];
  });
}"""


def test_preprocessing_is_opencvs_and_smoothing_is_the_librarys(page, data_root, pfcn_test, python_segmenters):
    from selfieseg.data import open_dataset
    from selfieseg.video import TemporalSmoother

    davis = open_dataset("davis", root=data_root)
    portrait = pfcn_test[0].image
    cases = [(davis[0].image, (192, 192)), (davis[0].image, (256, 256)), (portrait, (192, 192)),
             (portrait, (300, 400)),  # a 2x2 cell: OpenCV's vectorised rounding
             (portrait[:150, :120], (192, 192)),  # smaller than the input: INTER_AREA enlarges
             (portrait[:300, :150], (256, 256))]  # one axis down, one up
    for image, (width, height) in cases:
        got = page.page.evaluate(RESIZE, [image_bytes(image), image.shape[1], image.shape[0], width, height])
        expected = cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=cv2.INTER_AREA)
        got = np.frombuffer(base64.b64decode(got), np.uint8).reshape(expected.shape)
        assert np.array_equal(got, expected), f"{image.shape} -> {width}x{height}: {(got != expected).sum()} bytes differ"

    plane = np.random.default_rng(0).random((192, 192), dtype=np.float32) * 1.2 - 0.1  # outside [0, 1] too: clipped
    got = page.page.evaluate(RESTORE, [image_bytes(plane), 192, 192, 854, 480])
    expected = np.clip(cv2.resize(plane, (854, 480), interpolation=cv2.INTER_LINEAR), 0, 1)
    assert np.abs(np.frombuffer(base64.b64decode(got), "<f4").reshape(480, 854) - expected).max() < 1e-6

    frames = [davis[i].image for i in range(3)]
    probabilities = [python_segmenters["ours"].predict(frame) for frame in frames]
    results = page.page.evaluate(SMOOTH, [[image_bytes(f) for f in frames], [image_bytes(p) for p in probabilities],
                                          frames[0].shape[1], frames[0].shape[0]])
    smoother = TemporalSmoother()
    for frame, probability, (smoothed, binary) in zip(frames, probabilities, results):
        expected = smoother.update(frame, probability)
        got = np.frombuffer(base64.b64decode(smoothed), "<f4").reshape(expected.shape)
        assert np.abs(got - expected).max() < 1e-6
        expected_mask = smoother.binary(expected)
        assert np.array_equal(np.frombuffer(base64.b64decode(binary), np.uint8).reshape(expected.shape) == 1, expected_mask)
    assert page.errors() == []


# --- photos and bad input -------------------------------------------------------------------------


def test_a_photo_upload_is_segmented_as_python_segments_it(page, pfcn_test, python_segmenters):
    from selfieseg.io import read_image
    from selfieseg.metrics import iou

    sample = pfcn_test[1]
    page.page.set_input_files("#photo-input", sample.source)
    page.page.wait_for_function("selfiesegDemo.last && selfiesegDemo.last.source === 'photo'", timeout=60_000)
    frame, rgb, masks, probabilities = page.last_frame()
    assert rgb.shape == read_image(sample.source).shape
    assert_masks_agree(rgb, masks, probabilities, python_segmenters)
    # ... and Python reading the file itself agrees too (two JPEG decoders, one mask)
    from_file = python_segmenters["ours"].predict(sample.source) > 0.5
    assert iou(from_file, masks["ours"]) >= 0.99
    assert iou(sample.mask, masks["ours"]) > 0.8  # and it is a person
    page.page.check('input[name="effect"][value="colour"]')  # a new background, no new inference
    assert page.hook("last")["index"] == frame["index"]
    assert page.messages() == [] and page.errors() == []


def test_a_file_that_is_not_an_image_is_refused_with_a_message(page, tmp_path, pfcn_test):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    page.page.set_input_files("#photo-input", notes)
    page.page.wait_for_function("selfiesegDemo.messages.length > 0", timeout=30_000)
    assert page.messages() == ["notes.txt is not an image (its type is text/plain): choose a JPEG, PNG or WebP photo."]
    assert page.hook("last") is None  # nothing was segmented

    fake = tmp_path / "holiday.jpg"  # named like a photo, bytes of none
    fake.write_bytes(b"\x00 this is no JPEG " * 40)
    page.page.set_input_files("#photo-input", fake)
    page.page.wait_for_function("selfiesegDemo.messages.some(m => m.text.startsWith('holiday.jpg'))", timeout=30_000)
    assert "holiday.jpg could not be read as an image" in page.messages()[0]

    page.page.set_input_files("#background-input", notes)  # the background upload refuses it too
    page.page.wait_for_function("selfiesegDemo.messages.some(m => m.kind === 'background')", timeout=30_000)
    assert any(text.startswith("notes.txt is not an image") for text in page.messages())

    page.page.set_input_files("#photo-input", pfcn_test[2].source)  # and a real photo still works
    page.page.wait_for_function("selfiesegDemo.last && selfiesegDemo.last.source === 'photo'", timeout=60_000)
    assert not any(text.startswith("holiday.jpg") for text in page.messages())  # a good upload clears the refusal
    assert page.errors() == []


def test_a_missing_model_file_is_named_and_the_other_model_still_runs(camera_browser, demo, pfcn_test):
    with serve(demo, hidden={"models/sinet.onnx"}) as base:
        page = Page(camera_browser, base)
        try:
            assert page.hook("models") == ["mediapipe"]
            assert "models/sinet.onnx is missing" in page.hook("failed")["ours"]
            assert any(text.startswith("models/sinet.onnx is missing from this page's folder (HTTP 404)")
                       for text in page.messages()), page.messages()
            page.page.set_input_files("#photo-input", pfcn_test[0].source)
            page.page.wait_for_function("selfiesegDemo.last && selfiesegDemo.last.source === 'photo'", timeout=60_000)
            assert page.hook("last")["models"] == ["mediapipe"]
            assert page.errors(allowed=["404"]) == []  # the browser logs the 404 itself
        finally:
            page.close()
    with serve(demo, hidden={"models.json"}) as base:
        page = Page(camera_browser, base)
        try:
            assert page.hook("models") == []
            assert any(text.startswith("models.json is missing") for text in page.messages()), page.messages()
            assert page.page.is_disabled("#camera-start") and page.page.is_disabled("#photo-input")
        finally:
            page.close()
    with serve(demo, hidden={"vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"}) as base:
        page = Page(camera_browser, base)
        try:
            assert page.hook("models") == ["mediapipe"]
            assert any(text.startswith("vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm is missing")
                       for text in page.messages()), page.messages()
        finally:
            page.close()


@pytest.mark.parametrize("flags, expected", [
    (("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream=deny"), "Camera access was refused."),
    (("--use-fake-ui-for-media-stream",), "No camera was found on this device: upload a photo instead."),
], ids=["refused", "absent"])
def test_a_refused_or_absent_camera_says_so_and_upload_still_works(playwright, url, pfcn_test, flags, expected):
    browser = launch(playwright, *flags)
    try:
        page = Page(browser, url)
        page.page.click("#camera-start")
        page.page.wait_for_function("selfiesegDemo.messages.length > 0", timeout=30_000)
        assert page.messages()[0].startswith(expected), page.messages()
        page.page.set_input_files("#photo-input", pfcn_test[0].source)
        page.page.wait_for_function("selfiesegDemo.last && selfiesegDemo.last.source === 'photo'", timeout=60_000)
        assert page.hook("last")["models"] == ["ours", "mediapipe"]
        assert page.errors() == []
    finally:
        browser.close()


# --- the benchmark ---------------------------------------------------------------------------------


def test_the_browser_benchmark_writes_its_table(demo, tmp_path, data_root):
    """benchmarks/browser.py as a user runs it, briefly, on this build: a row per model and smoothing."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "browser.py"
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found")
    done = subprocess.run([sys.executable, str(script), "--build", str(demo), "--seconds", "2", "--frames", "10",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "browser.md").read_text()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| model")]
    assert [(row[0], row[3]) for row in rows] == [("sinet (selfieseg)", "off"), ("MediaPipe selfie segmenter", "off"),
                                                  ("sinet (selfieseg)", "on"), ("MediaPipe selfie segmenter", "on")]
    assert all(float(row[5]) > 0 and float(row[7]) > 0 for row in rows)
    import hashlib

    from selfieseg.models import shipped_weights_path

    digest = hashlib.sha256(shipped_weights_path("sinet").read_bytes()).hexdigest()[:12]
    assert f"weights (sha256 prefix): sinet `{digest}`." in table and "frames/s with smoothing on" in table
