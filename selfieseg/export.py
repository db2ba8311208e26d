"""Export a model to TFLite (LiteRT) or ONNX, optionally quantized, as a drop-in file.

>>> export("sinet", "sinet_int8.tflite", quantize="int8")
>>> export("portraitnet", "portraitnet.onnx")

Every file takes RGB float32 in [0, 1], NHWC, batch 1 (PortraitNet: RGB + the previous
frame's mask as a 4th channel) and returns the person probability ``1xHxWx1``: the same
contract as MediaPipe's selfie segmenter, so an app can swap one for the other.

Quantization modes (TFLite):

============ ==================================================================
``none``     float32 weights and arithmetic
``fp16``     weights stored as float16 (half the size), float32 arithmetic
``dynamic``  weights int8, activations float, quantized on the fly
``int8``     weights and activations int8 (calibrated on real images);
             float32 in/out so the contract stays the same
``qat``      quantization-aware fine-tune (fake-quant layers), then ``int8``
============ ==================================================================

TFLite files are checked to contain builtin operators only (no Flex / custom ops) and
tensor names are stripped (a third of a tiny model's file) except for the inputs and
outputs. Files are written atomically and never over an input.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from selfieseg.errors import DatasetError, ExportError
from selfieseg.io import IMAGE_SUFFIXES, atomic_path

FORMATS = {"tflite": ".tflite", "onnx": ".onnx"}
QUANTIZE_MODES = ("none", "fp16", "dynamic", "int8", "qat")


# --- the model to export --------------------------------------------------------------


def _resolve_model(model, weights, input_size):
    """A float Keras model returning probabilities, plus the files it was read from."""
    import keras

    from selfieseg.models import load, load_keras_file

    inputs = []
    if isinstance(model, keras.Model):
        return model, inputs
    if isinstance(model, (str, Path)) and str(model).endswith(".keras"):
        inputs.append(Path(model))
        return load_keras_file(Path(model)), inputs
    if weights not in (None, "shipped"):
        inputs.append(Path(weights))
    return load(model, weights=weights, input_size=input_size), inputs


def export_form(model, format: str = "tflite"):
    """The graph to convert: what the model's registry entry says it deploys as
    (:attr:`selfieseg.models.ModelSpec.export_form`; SINet folds its channel shuffles),
    or the model itself for architectures without such a rule and for foreign models."""
    from selfieseg.models import SPECS

    spec = SPECS.get(model.name)
    if spec is None or spec.export_form is None:
        return model
    return spec.export_form(model, format)


# --- calibration images ----------------------------------------------------------------


def representative_images(source=None, size=(224, 224), samples: int = 64, root=None, seed: int = 0) -> np.ndarray:
    """``samples`` real RGB images as float32 ``NxHxWx3`` in [0, 1], resized to ``size``.

    ``source``: a folder of images, an array of images, or ``None`` for the training
    data (PicsArt and the PFCN *train* split under ``$SELFIESEG_DATA``; never PFCN test).
    """
    import cv2

    from selfieseg.io import read_image

    height, width = size
    if isinstance(source, np.ndarray):
        images = list(source[:samples])
    elif source is None:
        from selfieseg.data.training import training_readers

        try:
            readers = training_readers(("picsart", "pfcn"), root)
        except DatasetError as exc:
            raise ExportError(
                f"int8 calibration needs real images and none were found ({exc}). Pass a folder of "
                "photos (--representative FOLDER) or set SELFIESEG_DATA."
            ) from None
        total = sum(len(r) for r in readers)
        picks = np.random.default_rng(seed).choice(total, size=min(samples, total), replace=False)
        images = []
        for index in sorted(picks):
            for reader in readers:
                if index < len(reader):
                    images.append(reader[int(index)].image)
                    break
                index -= len(reader)
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise ExportError(f"{folder}: representative dataset folder not found.")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ExportError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in the representative dataset folder.")
        images = [read_image(p) for p in files[:samples]]
    if not images:
        raise ExportError("the representative dataset is empty: int8 calibration needs at least one image.")
    batch = [cv2.resize(np.asarray(im), (width, height), interpolation=cv2.INTER_AREA) for im in images]
    batch = np.stack(batch).astype(np.float32)
    return batch / 255.0 if batch.max() > 1.0 else batch


def _with_priors(model, images: np.ndarray) -> np.ndarray:
    """PortraitNet's 4th channel for calibration: empty for half, the model's own mask for half.

    That is what the channel holds at run time (first frame; then the last prediction).
    """
    if model.input_shape[-1] != 4:
        return images
    priors = np.zeros(images.shape[:3] + (1,), np.float32)
    for i in range(1, len(images), 2):
        first = np.concatenate([images[i : i + 1], priors[i : i + 1]], axis=-1)
        priors[i] = np.asarray(model(first, training=False))[0]
    return np.concatenate([images, priors], axis=-1)


# --- TFLite ----------------------------------------------------------------------------


def _strip_names(path: Path) -> None:
    """Drop every tensor name except the inputs' and outputs' (kept: signatures use them)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    model.description = None
    for subgraph in model.subgraphs:
        keep = set(subgraph.inputs) | set(subgraph.outputs)
        subgraph.name = None
        for index, tensor in enumerate(subgraph.tensors):
            if index not in keep:
                tensor.name = None
    flatbuffer_utils.write_model(model, str(path))


def tflite_operators(path) -> list[str]:
    """Names of the operators in a ``.tflite`` file (custom/Flex ops by their custom code)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    names = []
    builtin = {v: k for k, v in flatbuffer_utils.schema_fb.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    for code in model.operatorCodes:
        op = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = builtin.get(op, str(op))
        if name == "CUSTOM":
            name = "CUSTOM:" + (code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode))
        names.append(name)
    return names


def _to_tflite(model, path: Path, quantize: str, calibration, per_channel: bool) -> None:
    import tensorflow as tf

    shape = (1, *model.input_shape[1:])
    options = {
        "input_signature": [tf.TensorSpec(shape, tf.float32, name="image")],
        "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
    }
    if quantize in ("fp16", "dynamic", "int8", "qat"):
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        options["target_spec"]["supported_types"] = [tf.float16]
    if quantize in ("int8", "qat"):
        options["representative_dataset"] = lambda: ([sample[None]] for sample in calibration)
        options["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not per_channel:
            options["_experimental_disable_per_channel"] = True
    from selfieseg.quiet import quiet_if_asked

    try:
        # int8 calibration prints "fully_quantize: 0, inference_type: 6, ..." from C++, once per file
        with quiet_if_asked():
            model.export(str(path), format="litert", verbose=False, **options)
    except Exception as exc:
        message = str(exc).strip().splitlines()
        raise ExportError(
            f"{model.name}: TFLite conversion with quantize={quantize!r} failed ({(message[-1] if message else type(exc).__name__)[:300]})."
        ) from None
    _strip_names(path)
    extra = [op for op in tflite_operators(path) if op.startswith("CUSTOM") or op.startswith("Flex")]
    if extra:
        raise ExportError(f"{model.name}: the TFLite file needs non-builtin operators {extra}; it would not run on stock LiteRT.")


# --- ONNX ------------------------------------------------------------------------------


def _to_onnx(model, path: Path) -> None:
    import tensorflow as tf

    shape = (1, *model.input_shape[1:])
    try:
        model.export(str(path), format="onnx", verbose=False, input_signature=[tf.TensorSpec(shape, tf.float32, name="image")])
    except ImportError as exc:
        raise ExportError(f"ONNX export needs the export extra ({exc}): pip install 'selfieseg[export]'.") from None
    import onnx

    graph = onnx.load(str(path))
    unknown = sorted({node.op_type for node in graph.graph.node if node.op_type.startswith("StatefulPartitioned") or node.domain not in ("", "ai.onnx")})
    try:
        onnx.checker.check_model(graph)
    except Exception as exc:
        unknown.append(str(exc).splitlines()[0][:200])
    if unknown:
        raise ExportError(f"{model.name}: ONNX conversion left operators no runtime knows ({', '.join(unknown)}).")


# --- the entry point -------------------------------------------------------------------


def export(
    model,
    path,
    format: str | None = None,
    quantize: str = "none",
    weights="shipped",
    input_size=None,
    representative=None,
    samples: int = 64,
    per_channel: bool = True,
    qat_epochs: int = 1,
    qat_steps: int | None = 60,
    root=None,
    verbose: int = 1,
) -> Path:
    """Write ``model`` (a name, a ``.keras`` file or a Keras model) to ``path``; returns it.

    ``format`` defaults to the suffix of ``path``. ``representative`` (int8/qat) is a
    folder of photos or an image array; default: training images from ``$SELFIESEG_DATA``.
    ``per_channel=False`` gives int8 one scale per tensor: a smaller file (SINet: about
    55 KB less), usually a little less accurate. ``qat`` fine-tunes a copy of the model for
    ``qat_epochs`` x ``qat_steps`` batches of the training data before converting.
    """
    path = Path(path)
    format = (format or {v: k for k, v in FORMATS.items()}.get(path.suffix.lower(), "")).lower()
    if format not in FORMATS:
        raise ExportError(f"{path}: unknown export format {format or path.suffix!r}; choose one of {', '.join(FORMATS)} "
                          "(or a path ending in .tflite / .onnx).")
    if path.suffix.lower() != FORMATS[format]:
        raise ExportError(f"{path}: a {format} file should end in {FORMATS[format]}.")
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}.")
    if format == "onnx" and quantize != "none":
        raise ExportError(f"ONNX export is float only here (quantize='none'); quantize={quantize!r} is for --format tflite.")

    keras_model, inputs = _resolve_model(model, weights, input_size)
    if representative is not None and not isinstance(representative, np.ndarray):
        folder = Path(representative)
        inputs += [folder / name for name in os.listdir(folder)] if folder.is_dir() else []
    for source in inputs:
        if source.exists() and path.exists() and os.path.samefile(source, path):
            raise ExportError(f"{path}: output path is one of the export's inputs; choose another output path.")

    calibration = None
    if quantize in ("int8", "qat"):
        size = tuple(int(d) for d in keras_model.input_shape[1:3])
        calibration = _with_priors(keras_model, representative_images(representative, size, samples, root))
    if quantize == "qat":
        keras_model = _quantization_aware_copy(keras_model, qat_epochs, qat_steps, root, verbose)

    graph = export_form(keras_model, format)
    with atomic_path(path, inputs) as tmp:
        if format == "tflite":
            _to_tflite(graph, tmp, quantize, calibration, per_channel)
        else:
            _to_onnx(graph, tmp)
    return path


def _quantization_aware_copy(model, epochs, steps, root, verbose):
    """Fine-tune a copy of ``model`` under int8 simulation on the training data."""
    from selfieseg.data.training import training_sequences
    from selfieseg.models import SPECS, build
    from selfieseg.quantize import QAT_AUGMENT, copy_back, quantization_aware_finetune

    spec = SPECS.get(model.name)
    if spec is None:
        raise ExportError(f"{model.name}: quantization-aware training needs a selfieseg architecture (got a model named {model.name!r}).")
    copy = build(spec.name, input_size=int(model.input_shape[1]))
    copy_back(model, copy)
    try:
        train_seq, _ = training_sequences(("pfcn", "picsart"), int(model.input_shape[1]), batch_size=8,
                                          prior=model.input_shape[-1] == 4, root=root, augment=QAT_AUGMENT)
    except DatasetError as exc:
        raise ExportError(f"quantization-aware training needs the training data ({exc}).") from None
    quantization_aware_finetune(copy, train_seq, epochs=epochs, steps_per_epoch=steps, verbose=verbose)
    return copy


__all__ = ["ExportError", "FORMATS", "QUANTIZE_MODES", "export", "export_form", "representative_images", "tflite_operators"]
