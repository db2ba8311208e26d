"""Measured cost of a model: Keras and LiteRT latency, timed so that comparisons are fair.

Multiply-adds come from the graph (:func:`selfieseg.models.profile.count_macs`); the
rest is measured here. Every LiteRT latency is of the file :func:`selfieseg.export.export`
writes, and files compared with each other are timed together in interleaved rounds
(:func:`tflite_latencies`). The timing functions take a ``clock`` and an interpreter
``opener`` so that tests can check what they do (every file timed, the requested number
of invokes, interleaving) without measuring the machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from selfieseg.inference import make_interpreter
from selfieseg.models.profile import count_macs


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


def tflite_latency(path, runs: int = 50, warmup: int = 5, threads: int = 2) -> float:
    """Median seconds of one invoke of a ``.tflite`` model after warm-up."""
    return tflite_latencies([path], runs=runs, warmup=warmup, threads=threads, rounds=1)[0]


def tflite_latencies(paths, runs: int = 50, warmup: int = 5, threads: int = 2, rounds: int = 5,
                     clock=time.perf_counter, opener=make_interpreter) -> list[float]:
    """Median seconds of one invoke for each ``.tflite`` file, timed in interleaved rounds.

    A shared or throttled CPU changes speed over minutes, so files timed one after the
    other can differ by the machine's drift rather than by the model. Here every file
    gets ``runs`` invokes in all, split over ``rounds`` rounds that visit the files in
    turn, so drift touches them all alike and the ratios between them (the number a
    comparison reports) stay put.
    """
    interpreters = []
    for path in paths:
        interpreter = opener(path, threads)
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
                start = clock()
                interpreter.invoke()
                spent.append(clock() - start)
    return [float(np.median(spent)) for spent in times]


def to_tflite(model, path=None) -> Path:
    """The float TFLite file ``selfieseg export`` writes for ``model`` (its deployed form:
    SINet's shuffles folded, names stripped, builtin operators only); returns its path.

    Timing goes through the exporter so that a latency in a table or a card is the
    latency of the file users get (an unfolded SINet measured 1.5x slower).
    """
    from selfieseg.export import export

    path = Path(path) if path else Path(tempfile.mkdtemp()) / f"{model.name}.tflite"
    return export(model, path, verbose=0)


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


def time_together(rows, runs: int = 40, rounds: int = 5, **timing) -> list[dict]:
    """Time the ``tflite_path`` of every row in interleaved rounds; returns the rows.

    Rows timed one by one as they are made are minutes apart on a machine whose speed
    drifts; a table that compares them (a ratio to MediaPipe) takes its ``tflite_ms``
    from this one interleaved timing instead (make the rows with ``timed=False``).
    """
    timed = [row for row in rows if row.get("tflite_path")]
    for row, seconds in zip(timed, tflite_latencies([row["tflite_path"] for row in timed], runs=runs, rounds=rounds,
                                                         **timing)):
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


__all__ = ["count_macs", "keras_latency", "make_interpreter", "mediapipe_row", "onnx_latency", "profile",
           "time_together", "tflite_latencies", "tflite_latency", "to_tflite"]
