"""Cost of a model: parameters, multiply-adds, and measured latency (Keras and LiteRT).

FLOPs here are multiply-accumulates (MACs) of convolutions and dense layers, the
convention mobile papers use; element-wise ops are ignored (they are a few percent).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass (batch 1), from layer shapes."""
    import keras

    total = 0
    for layer in model.layers:
        if not getattr(layer, "built", False) or not hasattr(layer, "output"):
            continue
        try:
            out = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            k = layer.kernel.shape
            total += int(np.prod(out[1:3])) * int(out[-1]) * k[0] * k[1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            k = layer.kernel.shape  # (kh, kw, out, in)
            inp = layer.input.shape
            total += int(np.prod(inp[1:3])) * k[0] * k[1] * k[2] * k[3]
        elif isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel.shape  # (kh, kw, in / groups, out)
            total += int(np.prod(out[1:3])) * k[0] * k[1] * k[2] * k[3]
        elif isinstance(layer, keras.layers.Dense):
            k = layer.kernel.shape
            total += int(np.prod([d for d in out[1:-1] if d])) * k[0] * k[1]
    return int(total)


def keras_latency(model, runs: int = 20, warmup: int = 3) -> float:
    """Median seconds of one batch-1 forward pass through the Keras model (graph mode)."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).random((1, *model.input_shape[1:])).astype(np.float32))
    forward = tf.function(lambda t: model(t, training=False))
    for _ in range(warmup):
        forward(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        forward(x).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def make_interpreter(path, threads: int = 2):
    """A LiteRT interpreter (``ai_edge_litert``), falling back to TensorFlow's where it is absent."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - only without the export extra
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def tflite_latency(path, runs: int = 50, warmup: int = 5, threads: int = 2) -> float:
    """Median seconds of one invoke of a ``.tflite`` model after warm-up."""
    return tflite_latencies([path], runs=runs, warmup=warmup, threads=threads, rounds=1)[0]


def tflite_latencies(paths, runs: int = 50, warmup: int = 5, threads: int = 2, rounds: int = 5) -> list[float]:
    """Median seconds of one invoke for each ``.tflite`` file, timed in interleaved rounds.

    A shared or throttled CPU changes speed over minutes, so files timed one after the
    other can differ by the machine's drift rather than by the model. Here every file
    gets ``runs`` invokes in all, split over ``rounds`` rounds that visit the files in
    turn, so drift touches them all alike and the ratios between them (the number a
    comparison reports) stay put.
    """
    interpreters = []
    for path in paths:
        interpreter = make_interpreter(path, threads)
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.random.default_rng(0).random(detail["shape"]).astype(detail["dtype"]))
        for _ in range(warmup):
            interpreter.invoke()
        interpreters.append(interpreter)
    times = [[] for _ in interpreters]
    runs, rounds = max(1, int(runs)), max(1, min(int(rounds), int(runs)))
    for round_index in range(rounds):
        per_round = runs // rounds + (round_index < runs % rounds)  # exactly `runs` invokes per file
        for interpreter, spent in zip(interpreters, times):
            for _ in range(per_round):
                start = time.perf_counter()
                interpreter.invoke()
                spent.append(time.perf_counter() - start)
    return [float(np.median(spent)) for spent in times]


def to_tflite(model, path=None) -> Path:
    """Export a float TFLite file with Keras's LiteRT exporter; returns its path."""
    path = Path(path) if path else Path(tempfile.mkdtemp()) / f"{model.name}.tflite"
    model.export(str(path), format="litert", verbose=False)
    return path


def profile(model, runs: int = 20, tflite: bool = True, timed: bool = True) -> dict:
    """Parameters, MACs, Keras latency and (optionally) LiteRT latency of ``model``.

    The row keeps its float TFLite file as ``tflite_path``. A table of several rows that
    compares latencies should build them with ``timed=False`` (``tflite_ms`` left None)
    and time them all at once with :func:`time_together`.
    """
    row = {
        "model": model.name,
        "input": "x".join(str(d) for d in model.input_shape[1:]),
        "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "MMACs": count_macs(model) / 1e6,
        "keras_ms": keras_latency(model, runs=runs) * 1e3,
    }
    if tflite:
        path = to_tflite(model)
        row["tflite_path"] = str(path)
        row["tflite_kb"] = path.stat().st_size / 1024
        row["tflite_ms"] = tflite_latency(path, runs=runs * 2) * 1e3 if timed else None
    return row


def mediapipe_row(anchors_dir, runs: int = 40, landscape: bool = False, timed: bool = True) -> dict:
    """The same numbers for MediaPipe's selfie segmenter, measured in this run
    (``timed=False``: latency left to :func:`time_together`)."""
    name = "mediapipe_selfie_segmentation_landscape.tflite" if landscape else "mediapipe_selfie_segmentation.tflite"
    path = Path(anchors_dir) / name
    interpreter = make_interpreter(path)
    detail = interpreter.get_input_details()[0]
    return {
        "model": "mediapipe" + ("_landscape" if landscape else ""),
        "input": "x".join(str(d) for d in detail["shape"][1:]),
        "params": None,
        "MMACs": None,
        "keras_ms": None,
        "tflite_path": str(path),
        "tflite_kb": path.stat().st_size / 1024,
        "tflite_ms": tflite_latency(path, runs=runs) * 1e3 if timed else None,
    }


def time_together(rows, runs: int = 40, rounds: int = 5) -> list[dict]:
    """Time the ``tflite_path`` of every row in interleaved rounds; returns the rows.

    Rows timed one by one as they are made are minutes apart on a machine whose speed
    drifts; a table that compares them (a ratio to MediaPipe) takes its ``tflite_ms``
    from this one interleaved timing instead (make the rows with ``timed=False``).
    """
    timed = [row for row in rows if row.get("tflite_path")]
    for row, seconds in zip(timed, tflite_latencies([row["tflite_path"] for row in timed], runs=runs, rounds=rounds)):
        row["tflite_ms"] = seconds * 1e3
    return rows


def onnx_latency(path, runs: int = 50, warmup: int = 5, threads: int = 2) -> float:
    """Median seconds of one ONNX Runtime (CPU) run of a ``.onnx`` model after warm-up."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    detail = session.get_inputs()[0]
    x = np.random.default_rng(0).random([int(d) for d in detail.shape]).astype(np.float32)
    feed = {detail.name: x}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
