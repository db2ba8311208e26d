"""Segment any photo: ``Segmenter("sinet").predict(image) -> HxW float32 person probability``.

The image may be a path (EXIF rotation applied, so the mask matches what a viewer
shows) or an array: RGB, grayscale, RGBA, uint8/uint16/float. It is resized to the
model's input, and the probability is resized back to the image's own size.

``mirror=True`` (every segmenter here, ``--mirror`` on the command line) also segments
the mirrored photo and averages the two probabilities: twice the model time, for photos
where a better cut-out is worth it, not for video. On the 371 validation images the
mixed training runs hold back (never a test split), 2026-12-07, per-image IoU plain ->
mirrored: PortraitNet PFCN 0.9650 -> 0.9666, PicsArt 0.9578 -> 0.9598, VOC person 0.4933
-> 0.5073, CCP 0.9113 -> 0.9165; SINet 0.9631 -> 0.9651, 0.9484 -> 0.9500, 0.4014 ->
0.4074, 0.8689 -> 0.8777. A person is (nearly) left-right symmetric in what the model
should say, and its two answers err differently, so their mean errs less.
"""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np

from selfieseg.errors import ImageReadError, ModelError
from selfieseg.io import MAX_PIXELS, _to_uint8, over_black, read_image


def as_rgb(image) -> np.ndarray:
    """Any image (path or array) -> RGB uint8 ``HxWx3``, with a clear error for what cannot be."""
    if isinstance(image, (str, Path)):
        return read_image(image)
    array = np.asarray(image)
    if array.size == 0 or array.ndim not in (2, 3):
        raise ImageReadError(f"expected an HxW or HxWxC image array, got shape {array.shape}.")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageReadError(f"image of {array.shape[1]}x{array.shape[0]} pixels is above the {MAX_PIXELS:,} limit; downscale it.")
    array = _to_uint8(array)
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    channels = array.shape[2]
    if channels == 1:
        return np.repeat(array, 3, axis=2)
    if channels == 4:
        return over_black(array)
    if channels == 3:
        return np.ascontiguousarray(array)
    raise ImageReadError(f"image has {channels} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA).")


class _Resizing:
    """Shared pre- and post-processing: squash to the model's size, resize back, and the
    optional mirror averaging (``mirror``: see the module docstring)."""

    input_hw: tuple[int, int]
    channels: int = 3
    mirror: bool = False

    def _with_mirrored(self, x: np.ndarray) -> np.ndarray:
        """A batch of model inputs ``NxHxWxC``, followed by their mirror images when ``mirror``."""
        return np.concatenate([x, x[:, :, ::-1]]) if self.mirror else x

    def _merge_mirrored(self, out: np.ndarray) -> np.ndarray:
        """The outputs of :meth:`_with_mirrored`'s batch back to one per input (mirrored ones unmirrored, averaged)."""
        out = np.asarray(out, np.float32)
        if not self.mirror:
            return out
        count = len(out) // 2
        return 0.5 * (out[:count] + out[count:, :, ::-1])

    def _prepare(self, rgb: np.ndarray, prior=None) -> np.ndarray:
        height, width = self.input_hw
        x = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        if self.channels == 4:
            if prior is None:
                prior = np.zeros((height, width), np.float32)
            else:
                prior = cv2.resize(np.asarray(prior, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            x = np.concatenate([x, prior[..., None]], axis=-1)
        return x[None]

    @staticmethod
    def _restore(probability: np.ndarray, shape) -> np.ndarray:
        probability = np.asarray(probability, np.float32).reshape(probability.shape[1:3])
        return np.clip(cv2.resize(probability, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), 0, 1)


class Segmenter(_Resizing):
    """A Keras model by name (shipped weights) or from a ``.keras`` / ``.weights.h5`` file."""

    def __init__(self, model="sinet", weights="shipped", input_size=None, mirror: bool = False):
        import keras

        from selfieseg.models import load, load_keras_file

        if isinstance(model, keras.Model):
            self.model = model
        elif isinstance(model, (str, Path)) and str(model).endswith(".keras"):
            self.model = load_keras_file(Path(model))
        else:  # a registered name (an unknown one fails listing the valid names)
            self.model = load(str(model), weights=weights, input_size=input_size)
        shape = self.model.input_shape
        self.input_hw = (int(shape[1]), int(shape[2]))
        self.channels = int(shape[3])
        self.name = self.model.name
        self.mirror = bool(mirror)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            self._forward = tf.function(lambda t: self.model(t, training=False), reduce_retracing=True)
        else:  # Keras on JAX or PyTorch: the model's own compiled inference step
            self._forward = self.model.predict_on_batch

    def predict(self, image, prior=None) -> np.ndarray:
        """Person probability, ``HxW`` float32 in [0, 1], at the image's own size."""
        rgb = as_rgb(image)
        out = self._forward(self._with_mirrored(self._prepare(rgb, prior)))  # one call: both in a batch
        return self._restore(self._merge_mirrored(out), rgb.shape)


def make_interpreter(path, threads: int = 2):
    """A LiteRT interpreter (``ai_edge_litert``), falling back to TensorFlow's where it is absent.

    Where the caller asked for a quiet TensorFlow (the command line, the book), LiteRT's
    start-up notice is filtered too (:func:`selfieseg.quiet.quiet_if_asked`).
    """
    from selfieseg.quiet import quiet_if_asked

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - only without the export extra
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with quiet_if_asked():
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    return interpreter


def _open_model_file(path: Path, kind: str, opener):
    """``opener()`` for an exported model file, with one clear error for missing or unreadable files."""
    if not path.exists():
        raise ModelError(f"{path}: model file not found.")
    try:
        return opener()
    except Exception as exc:
        raise ModelError(f"{path}: not a readable {kind} model ({str(exc).splitlines()[0][:160]}).") from None


class _ExportedFile(_Resizing):
    """What a TFLite and an ONNX file share: a batch of one per call (``run``), mirror included."""

    def run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - each runtime's own
        raise NotImplementedError

    def run_each(self, x: np.ndarray) -> np.ndarray:
        """Outputs for prepared inputs ``1xHxWxC``, one call per input (and per mirror image)."""
        return self._merge_mirrored(np.concatenate([self.run(item[None]) for item in self._with_mirrored(x)]))

    def predict(self, image, prior=None) -> np.ndarray:
        rgb = as_rgb(image)
        return self._restore(self.run_each(self._prepare(rgb, prior)), rgb.shape)


class TFLiteSegmenter(_ExportedFile):
    """A ``.tflite`` segmenter (ours or MediaPipe's: RGB in [0, 1], probability out) on LiteRT."""

    def __init__(self, path, threads: int = 2, mirror: bool = False):
        path = Path(path)
        self.mirror = bool(mirror)
        self.interpreter = _open_model_file(path, "TFLite", lambda: make_interpreter(path, threads))
        detail = self.interpreter.get_input_details()[0]
        self.input_index = detail["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.input_hw = (int(detail["shape"][1]), int(detail["shape"][2]))
        self.channels = int(detail["shape"][3])
        self.name = path.stem

    def run(self, x: np.ndarray) -> np.ndarray:
        """The file's output for one prepared input ``1xHxWxC`` (the files take a batch of one)."""
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output_index))



class OnnxSegmenter(_ExportedFile):
    """An exported ``.onnx`` segmenter on ONNX Runtime (CPU)."""

    def __init__(self, path, threads: int = 2, mirror: bool = False):
        path = Path(path)
        self.mirror = bool(mirror)
        try:
            import onnxruntime
        except ImportError:
            raise ModelError("ONNX models need onnxruntime: pip install 'selfieseg[export]'.") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = _open_model_file(
            path, "ONNX", lambda: onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        )
        detail = self.session.get_inputs()[0]
        self.input_name = detail.name
        self.input_hw = (int(detail.shape[1]), int(detail.shape[2]))
        self.channels = int(detail.shape[3])
        self.name = path.stem

    def run(self, x: np.ndarray) -> np.ndarray:
        """The file's output for one prepared input ``1xHxWxC`` (the files take a batch of one)."""
        return self.session.run(None, {self.input_name: x})[0]



#: exported files and the segmenter that runs each
_RUNTIMES = {".tflite": TFLiteSegmenter, ".onnx": OnnxSegmenter}


def open_segmenter(model="sinet", weights="shipped", input_size=None, threads: int = 2, mirror: bool = False):
    """The one way from anything that names a model to something with ``.predict``.

    ``model`` may be a registered name (with ``weights``: ``"shipped"``, ``None`` or a
    ``.weights.h5`` / ``.keras`` file), a ``.keras`` file, an exported ``.tflite`` or
    ``.onnx`` file (run on LiteRT or ONNX Runtime), a Keras model, or a segmenter
    already (returned as it is). ``weights`` may also be the exported file itself, as
    ``selfieseg evaluate --model sinet --weights sinet.tflite`` passes it. ``mirror``:
    average with the mirrored photo's prediction (see the module docstring).
    """
    if hasattr(model, "predict") and not hasattr(model, "layers"):
        if mirror and not isinstance(model, _Resizing):
            raise ModelError(f"mirror averaging needs one of selfieseg's segmenters, not a {type(model).__name__}.")
        if mirror and not model.mirror:
            model = copy.copy(model)  # the caller's segmenter stays as it was
            model.mirror = True
        return model
    for candidate in (weights, model):
        if isinstance(candidate, (str, Path)) and Path(str(candidate)).suffix.lower() in _RUNTIMES:
            return _RUNTIMES[Path(str(candidate)).suffix.lower()](candidate, threads=threads, mirror=mirror)
    return Segmenter(model, weights=weights, input_size=input_size, mirror=mirror)


__all__ = ["MAX_PIXELS", "OnnxSegmenter", "Segmenter", "TFLiteSegmenter", "as_rgb", "make_interpreter", "open_segmenter"]
