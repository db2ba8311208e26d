"""The callbacks a training run uses: learning-rate schedules, checkpoints, weight averaging.

Each writes what it writes atomically, so a run killed at any moment resumes from its
last complete epoch (:func:`selfieseg.train.train` with ``resume=True``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

from selfieseg.errors import ModelError
from selfieseg.io import atomic_path
from selfieseg.models.common import copy_weights_by_name


def cosine_schedule(base: float, epochs: int, warmup: int = 1, floor: float = 0.02):
    """Learning rate for an epoch: linear warm-up, then cosine decay to ``floor * base``."""

    def rate(epoch: int, _current=None) -> float:
        if epoch < warmup:
            return base * (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    return rate


def budget_seconds(minutes) -> float:
    """A training time budget in seconds, refused unless it is > 0 minutes."""
    if minutes is None or not float(minutes) > 0:
        raise ModelError(f"a time budget must be > 0 minutes, got {minutes}.")
    return 60.0 * float(minutes)


class TimeBudget(keras.callbacks.Callback):
    """A cosine learning rate over wall-clock time, and a stop before the time runs out.

    For a fixed budget (a Colab session, a rented GPU) the number of epochs that fit is
    unknown until training runs. This sets each epoch's rate from the share of
    ``minutes`` already spent (first epoch: warm-up at half ``base``, as
    :func:`cosine_schedule`), and stops at an epoch's end when another epoch as long as
    the last one would overrun (not the slowest: the first one also compiles).
    ``spent`` seconds (a resumed run's) count too.
    """

    def __init__(self, base: float, minutes: float, spent: float = 0.0, floor: float = 0.02):
        super().__init__()
        self.base, self.budget, self.spent, self.floor = float(base), budget_seconds(minutes), float(spent), floor
        self.last = 0.0

    def elapsed(self) -> float:
        return self.spent + time.time() - self.started

    def rate(self, epoch: int) -> float:
        if epoch == 0:
            return self.base / 2
        progress = min(1.0, self.elapsed() / self.budget)
        return self.base * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    def on_train_begin(self, logs=None):
        self.started = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.time()
        self.model.optimizer.learning_rate = self.rate(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.last = time.time() - self.epoch_started
        if self.elapsed() + self.last > self.budget:
            self.model.stop_training = True


def save_weights_atomic(model, path: Path) -> None:
    """``model.save_weights`` to a temporary ``*.weights.h5`` beside ``path``, then rename."""
    tmp = path.with_name(f".{os.getpid()}.{path.name}")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes last/best weights and ``state.json`` atomically after every epoch."""

    def __init__(self, out: Path, inference_model, settings: dict, best: float, monitor="val_mask_person_iou",
                 source=None, average=None):
        super().__init__()
        self.out, self.inference_model, self.source = out, inference_model, source
        self.settings, self.best, self.monitor, self.average = settings, best, monitor, average
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        save_weights_atomic(self.model, self.out / "last.weights.h5")
        score = logs.get(self.monitor, logs.get("val_person_iou"))
        # with weight averaging, the average competes with this epoch's own weights
        averaged = self.average is not None and self.average.score is not None and (
            score is None or self.average.score > score)
        if averaged:
            score = self.average.score
        improved = score is not None and score > self.best
        if improved:
            self.best = float(score)
            with self.average.swapped_in() if averaged else contextlib.nullcontext():
                copy_weights_by_name(self.source or self.model, self.inference_model.layers)
            save_weights_atomic(self.inference_model, self.out / "best.weights.h5")
        state_path = self.out / "state.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {"seconds": 0.0}
        state.update(
            epoch=epoch + 1,
            best=self.best,
            settings=self.settings,
            seconds=state.get("seconds", 0.0) + (time.time() - self.started),
        )
        if self.average is not None:
            # epochs in the mean and the held rate, for a resume
            state.update(averaged=self.average.count, average_rate=self.average.rate,
                         average_score=self.average.score)
        if improved:
            state["best_is_average"] = averaged  # which kind best.weights.h5 holds (for the model card)
        self.started = time.time()
        with atomic_path(state_path) as tmp:
            tmp.write_text(json.dumps(state, indent=2))


def average_start(epoch, epochs=None) -> int:
    """The epoch weight averaging starts at, refused unless it is >= 0 and before ``epochs``."""
    if int(epoch) < 0:
        raise ModelError(f"average_from must be an epoch number >= 0, got {epoch}.")
    if epochs is not None and int(epoch) >= int(epochs):
        raise ModelError(f"average_from {epoch} is not before the last epoch (epochs={epochs}, counted from 0): "
                         "nothing would be averaged. Pass a smaller --average-from or more --epochs.")
    return int(epoch)


class WeightAverage(keras.callbacks.Callback):
    """Stochastic weight averaging: the mean of the weights at the end of each epoch.

    A fine-tune at a small learning rate wanders around a good solution (measured on the
    MobileNetV3 U-Net at a held 2e-4: single epochs scored 0.9326 to 0.9390 validation
    IoU, in no order, while the running mean rose steadily from 0.9343 to 0.9377); the
    average of those points usually sits nearer the middle of that basin than most of
    them (Izmailov et al., 2018, "Averaging Weights Leads to Wider Optima").
    From epoch ``start`` on, the learning rate is held where the schedule put it that
    epoch, every epoch's weights join a running mean (batch-norm statistics included),
    and the mean is validated with the compiled model; :class:`EpochCheckpoint` keeps it
    as ``best.weights.h5`` whenever it beats every earlier checkpoint. Each epoch the mean
    is saved twice: ``average.weights.h5`` in the inference model's form (what
    ``selfieseg.load`` and ``selfieseg ship --weights average`` read) and
    ``average_train.weights.h5`` in the training network's form (with PortraitNet's
    boundary head), which with the count in ``state.json`` lets a resumed run go on
    averaging.
    """

    def __init__(self, net: keras.Model, start: int, validation, monitor: str, out: Path, count: int = 0,
                 rate: float | None = None, inference: keras.Model | None = None):
        super().__init__()
        self.net, self.start, self.validation, self.monitor, self.out = net, average_start(start), validation, monitor, out
        self.count, self.rate, self.score, self.mean = int(count), rate, None, None
        self.inference = inference

    def on_train_begin(self, logs=None):
        path = self.out / "average_train.weights.h5"
        if self.count and path.exists():  # a resumed run: go on from the saved mean
            current = [np.array(v) for v in self.net.weights]
            self.net.load_weights(path)
            self.mean = [np.array(v, np.float64) for v in self.net.weights]
            self._assign(current)
        else:  # nothing saved to go on from: the mean starts again
            self.count = 0

    def on_epoch_begin(self, epoch, logs=None):
        if epoch < self.start:
            return
        if self.rate is None:  # the schedule (which runs first) has just set this epoch's rate
            self.rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.model.optimizer.learning_rate = self.rate

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start:
            if logs is not None:  # CSVLogger fixes its columns at the first epoch
                logs["val_average_iou"] = float("nan")
            return
        self.update([np.array(v) for v in self.net.weights])
        with self.swapped_in():
            result = self.model.evaluate(self.validation, verbose=0, return_dict=True)
            save_weights_atomic(self.net, self.out / "average_train.weights.h5")
            if self.inference is not None:
                copy_weights_by_name(self.net, self.inference.layers)
                save_weights_atomic(self.inference, self.out / "average.weights.h5")
        self.score = float(result.get(self.monitor.removeprefix("val_"), result.get("person_iou")))
        if logs is not None:
            logs["val_average_iou"] = self.score

    def update(self, weights) -> None:
        """Add one set of weights (a list of arrays, in ``net.weights`` order) to the mean."""
        self.count += 1
        if self.count == 1:
            self.mean = [np.array(w, np.float64) for w in weights]
            return
        for mean, w in zip(self.mean, weights):
            mean += (np.asarray(w, np.float64) - mean) / self.count

    def _assign(self, arrays) -> None:
        for variable, value in zip(self.net.weights, arrays):
            variable.assign(np.asarray(value, variable.dtype))

    @contextlib.contextmanager
    def swapped_in(self):
        """The averaged weights in the model for the block's duration, the current ones after."""
        current = [np.array(v) for v in self.net.weights]
        self._assign(self.mean)
        try:
            yield
        finally:
            self._assign(current)


#: glibc ``mallopt`` parameter numbers (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.lru_cache(maxsize=1)
def _glibc_mallopt():
    """glibc's ``mallopt``, or None off Linux or without it (musl). Looked up once:
    ``find_library`` runs ``ldconfig`` in a subprocess (~5 ms, measured), too slow for
    a call made after every training step."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None


def restore_malloc_thresholds(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Undo TensorFlow's malloc setting that makes ``fit`` on a ``PyDataset`` ~1.5x slower.

    The first time ``tf.data.Dataset.from_generator`` runs (Keras wraps every PyDataset
    in one), TensorFlow sets glibc's ``M_TRIM_THRESHOLD`` to 128 KB (it logs "Memory
    patch applied"). Setting any threshold by hand switches off glibc's adaptive mmap
    threshold, so every activation and gradient buffer over 128 KB is mmap'ed and
    unmapped again, page faults included, on every step. Measured on this 2-core CPU,
    PortraitNet at 160 px, batch 16: ``fit`` 2.20 s/step, ``train_on_batch`` on the same
    batches 1.59 s/step, ``fit`` with these thresholds restored 1.50 s/step.

    The values are where glibc's own adaptive thresholds settle for large blocks (32 MB
    mmap, twice that for trimming). Linux/glibc only; returns whether it applied. It is
    process-wide, so only :func:`train` calls it (through :class:`FastMalloc`), never
    an import.
    """
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    mmap_set = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
    trim_set = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold))
    return bool(mmap_set and trim_set)


class FastMalloc(keras.callbacks.Callback):
    """Calls :func:`restore_malloc_thresholds` once TensorFlow's generator has set its own.

    TensorFlow applies its setting when the input generator first runs, that is inside
    the first step; so this runs after every training batch (a microsecond call) rather
    than trying to guess the moment.
    """

    def on_train_batch_end(self, batch, logs=None):
        restore_malloc_thresholds()


__all__ = ["EpochCheckpoint", "FastMalloc", "TimeBudget", "WeightAverage", "average_start", "budget_seconds",
           "cosine_schedule", "restore_malloc_thresholds", "save_weights_atomic"]
