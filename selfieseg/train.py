"""Training that survives the end of a session: checkpoints every epoch, resume after a kill.

``train("sinet", data=("pfcn", "picsart"), epochs=60, out="runs/sinet")`` decodes the
datasets once into a cache, trains with augmentation, writes after every epoch

* ``last.weights.h5``: the training network's weights and the optimizer's state (to
  resume from; not loadable as a model: it can hold training-only heads),
* ``best.weights.h5``: the inference model's weights at the best validation IoU,
* ``state.json``: epoch reached, best score, the run's settings,
* ``log.csv``: one row of losses and metrics per epoch,
* ``average.weights.h5`` and ``average_train.weights.h5``: with ``average_from``, the
  running mean of the weights in the inference model's and the training network's
  form (:class:`WeightAverage`),

and resumes from them with ``resume=True``. The PFCN *test* split is refused: it is the
benchmark. Validation is a seeded share of the training data.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

from selfieseg.data import open_dataset
from selfieseg.data.augment import augmenter
from selfieseg.data.pipeline import ArrayCache, SegmentationSequence, build_cache, distill_weight, split_indices
from selfieseg.errors import DatasetError, ModelError
from selfieseg.io import atomic_path
from selfieseg.losses import BoundaryLoss, ConsistencyLoss, SegmentationLoss
from selfieseg.metrics import PersonIoU
from selfieseg.models import SPECS, build, refuse_other_network
from selfieseg.models.common import copy_weights_by_name

#: datasets a run may train on, and the reader options for their training portion
TRAINING_PORTIONS = {"pfcn": {"split": "train"}}


def refuse_benchmark(names) -> None:
    """The PFCN test split is the benchmark: refuse it before anything is read or cached."""
    for name in names:
        if name.endswith(":test") or name == "pfcn_test":
            raise DatasetError("the PFCN test split is the benchmark: it is never trained on.")


def training_readers(names, root=None):
    refuse_benchmark(names)
    return [open_dataset(name, root, **TRAINING_PORTIONS.get(name, {})) for name in names]


def teacher_labels(cache: ArrayCache, teacher, batch_size: int = 16, progress: bool = True) -> np.ndarray:
    """A teacher model's person probability for every image of ``cache`` (uint8, cache size).

    Distillation needs the teacher's view of each training image. Running the teacher
    inside every training step would cost more than the student's own step on a CPU,
    so it runs once, on the cache's un-augmented images at the teacher's own input
    size; the training sequence then warps these maps exactly as it warps the masks.
    ``teacher`` is a shipped model name, a ``.keras`` file or a
    :class:`~selfieseg.inference.Segmenter`. The result is stored beside the cache under
    a name that includes a hash of the teacher's weights, so it is computed once per
    teacher and recomputed when the teacher changes; the file is written atomically.
    """
    import cv2
    from tqdm.auto import tqdm

    from selfieseg.inference import Segmenter

    segmenter = teacher if isinstance(teacher, Segmenter) else Segmenter(teacher)
    digest = hashlib.sha256()
    for weight in segmenter.model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    path = cache.path / f"teacher_{segmenter.name}_{digest.hexdigest()[:12]}.npy"
    height, width = cache.meta["size"]
    if path.exists():
        labels = np.load(path, mmap_mode="r")
        if labels.shape == (len(cache), height, width):
            return labels
    with atomic_path(path) as tmp:
        labels = np.lib.format.open_memmap(tmp, "w+", np.uint8, (len(cache), height, width))
        starts = range(0, len(cache), batch_size)
        for start in tqdm(starts, desc=f"teacher {segmenter.name}", disable=not progress):
            images = cache.images[start : start + batch_size]
            x = np.concatenate([segmenter._prepare(np.asarray(image)) for image in images])
            probability = np.asarray(segmenter._forward(x), np.float32)[..., 0]
            for row, p in enumerate(probability, start=start):
                p = cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR)
                labels[row] = np.clip(p * 255.0 + 0.5, 0, 255).astype(np.uint8)
        labels.flush()
        del labels
    return np.load(path, mmap_mode="r")


def training_sequences(data, size: int, batch_size: int = 16, prior: bool = False, outputs=None,
                       validation: float = 0.1, seed: int = 0, root=None, cache_dir=None, twin: bool = False,
                       augment="full", teacher=None, distill: float = 0.5, workers: int = 1,
                       composite: float = 0.0):
    """(train, validation) :class:`SegmentationSequence` over a cache of ``data``.

    The cache (decoded once, slightly larger than ``size`` so augmentation can crop) lives
    in ``cache_dir``, ``$SELFIESEG_CACHE`` or ``~/.cache/selfieseg`` and is reused by
    every later run on the same datasets. Validation is a seeded share of the cache.
    ``augment`` names a recipe of :data:`selfieseg.data.augment.AUGMENTATIONS` (or is an
    :class:`~selfieseg.data.augment.Augmenter`); validation is never augmented.
    ``composite`` is the share of training people put in front of another training
    photo's background (:meth:`~selfieseg.data.augment.Augmenter.composite_onto`).
    With a ``teacher`` (see :func:`teacher_labels`) training targets blend the mask with
    the teacher's probabilities by ``distill``; validation keeps the plain masks, so
    model selection is judged on the labels alone. ``workers`` > 1 prepares batches in
    that many threads (OpenCV and numpy release the GIL), for machines whose accelerator
    would otherwise wait on augmentation.
    """
    recipe = augmenter(augment, composite)  # an unknown name or bad share fails here, before any decoding
    refuse_benchmark(data)
    cache_size = max(256, int(math.ceil(size * 1.15 / 32) * 32))
    cache_root = Path(cache_dir or os.environ.get("SELFIESEG_CACHE") or Path.home() / ".cache" / "selfieseg")
    cache_path = cache_root / f"{'+'.join(sorted(data))}_{cache_size}"
    # an existing cache (built here, or unpacked from pack_cache) needs no raw datasets
    readers = None if cache_path.exists() else training_readers(data, root)
    cache = build_cache(readers, cache_path, size=(cache_size, cache_size))
    train_idx, val_idx = split_indices(len(cache), validation, seed)
    common = dict(batch_size=batch_size, size=size, prior=prior, valid_channel=True, output_names=outputs, twin=twin)
    if int(workers) > 1:
        common.update(workers=int(workers), use_multiprocessing=False)
    soft = None
    if teacher is not None:
        distill_weight(distill)  # a bad weight fails before the teacher runs over the cache
        soft = teacher_labels(cache, teacher)
    train_seq = SegmentationSequence(cache, augment=recipe, indices=train_idx, seed=seed, soft_labels=soft,
                                     distill=distill, **common)
    val_seq = SegmentationSequence(cache, augment=None, shuffle=False, indices=val_idx, **common)
    return train_seq, val_seq


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


def _accelerator() -> str | None:
    """The first GPU's name as the active Keras backend sees it, or None."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            gpus = [device for device in jax.devices() if device.platform == "gpu"]
            return gpus[0].device_kind if gpus else None
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None
    except Exception:  # a broken driver is not worth failing a training run for
        return None
    return None


def describe_machine() -> str:
    """Where a run trains, for its model card: processor, cores, GPU (or none), Keras backend."""
    import platform

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{_accelerator() or 'no GPU'}, Keras on {keras.backend.backend()}")


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


def auto_encoder_weights(model: str, options: dict):
    """The best encoder start available offline: ImageNet where Keras's cache has it.

    Only MobileNetV2 width 1.0 is cached here; the width-0.5 U-Net starts from those
    weights sliced to its width, MobileNetV3 and SINet from scratch.
    """
    if model == "portraitnet" and options.get("alpha", 1.0) == 1.0:
        return "imagenet"
    if model == "mnv2_unet":
        return "imagenet" if options.get("alpha", 0.5) == 1.0 else "imagenet_sliced"
    return None


def _holds_network(path: Path, net: keras.Model) -> bool:
    """Whether the ``.weights.h5`` file ``path`` was saved from ``net``'s own network.

    Keras stores layers by position, not name, so the same number of layers and of
    variables is the check; a consistency run's checkpoint (the network inside a twin)
    or another architecture fails it.
    """
    import h5py

    from selfieseg.models import _stored_variable_count

    stored = _stored_variable_count(path)
    if stored is None or stored[0] != len(net.weights):
        return False
    with h5py.File(path, "r") as f:
        return len(f["layers"]) == len(net.layers)


def seed_weights(net: keras.Model, path: Path, model: str, size: int, options: dict) -> None:
    """Start the training network ``net`` from the weights file ``path`` (``--init``).

    A run's own training checkpoint (``last.weights.h5``, ``average_train.weights.h5``)
    holds the whole training network, PortraitNet's boundary head included: it loads
    as it is (its optimizer state is left behind; a new stage starts a new schedule).
    Any other file is an inference model's (a shipped or ``best.weights.h5`` file): its
    layers are copied by name and training-only heads start from scratch. Which form
    seeds a PortraitNet stage made no measurable difference (40 steps from each: the same
    validation IoU within 0.0005 on two seeded splits), so this is for convenience: any
    file a run writes can start the next one.
    """
    try:
        if _holds_network(path, net):
            net.load_weights(path)
            return
        donor = build(model, input_size=size, **options)
        refuse_other_network(path, donor, model)  # Keras would load another network silently
        donor.load_weights(path)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{path}: cannot initialise {model} from it ({str(exc).splitlines()[0][:160]}).") from None
    copy_weights_by_name(donor, net.layers)


def follow_quickly(model, momentum: float = 0.99) -> None:
    """Cap batch-norm momentum at ``momentum``.

    Keras's MobileNets use 0.999, whose running statistics need ~1,000 steps to forget
    their start: longer than a short CPU run's first epochs (validation IoU 0.04 after
    one 140-step epoch of the width-0.5 U-Net, measured), so checkpoints chosen on
    validation would be judged on stale statistics.
    """
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.momentum > momentum:
            layer.momentum = momentum


def with_twin(net: keras.Model) -> keras.Model:
    """``net`` run on an image and on its texture twin, for PortraitNet's consistency loss.

    The two calls share every weight. Outputs: ``net``'s own (``mask``, and ``boundary``
    where it has one) for the image, ``twin_mask`` for the twin, and ``consistency``, the
    two mask logits side by side for :class:`~selfieseg.losses.ConsistencyLoss`.
    """
    shape = net.input_shape[1:]
    image, twin = keras.Input(shape, name="image"), keras.Input(shape, name="twin")
    first, second = net(image), net(twin)
    outputs = dict(first) if isinstance(first, dict) else {"mask": first}
    twin_mask = second["mask"] if isinstance(second, dict) else second
    outputs["twin_mask"] = keras.layers.Identity(name="twin_mask")(twin_mask)
    outputs["consistency"] = keras.layers.Concatenate(name="consistency")([outputs["mask"], twin_mask])
    return keras.Model({"image": image, "twin": twin}, outputs, name=f"{net.name}_twin")


def train(
    model: str = "sinet",
    data=("pfcn", "picsart"),
    epochs: int = 30,
    out="runs/sinet",
    resume: bool = False,
    input_size=None,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    encoder_weights="auto",
    validation: float = 0.1,
    seed: int = 0,
    steps_per_epoch=None,
    cache_dir=None,
    root=None,
    init_weights=None,
    consistency: float = 0.0,
    augment="full",
    teacher=None,
    distill: float = 0.5,
    minutes=None,
    workers: int = 1,
    average_from=None,
    composite: float = 0.0,
    verbose: int = 1,
    **model_options,
) -> dict:
    """Train ``model`` on ``data``; returns the run's final ``state.json`` as a dict.

    ``init_weights`` starts from another run's ``best.weights.h5`` (for example a run at
    a smaller input size: the weights do not depend on it). ``consistency`` > 0 adds
    PortraitNet's consistency loss with that weight: every batch also goes through the
    model with a second texture augmentation (:func:`with_twin`), about twice the
    compute per step. ``augment`` picks the augmentation recipe: ``"full"`` (default),
    ``"mild"`` (narrower geometry, for a second stage started with ``init_weights``),
    ``"none"``, or an :class:`~selfieseg.data.augment.Augmenter` of your own.
    ``composite`` (0-1) puts that share of the training people in front of other
    training photos' backgrounds (background compositing, off by default).
    ``teacher`` (a shipped model name or ``.keras`` file) distils it into this model:
    training targets become ``(1 - distill) * mask + distill * teacher's probability``
    (:func:`teacher_labels`, computed once per cache and teacher). ``minutes`` trains to
    a wall-clock budget instead: ``epochs`` becomes a ceiling and the cosine schedule
    follows the time spent (:class:`TimeBudget`). ``workers`` threads prepare batches.
    ``average_from`` (an epoch number) holds the learning rate from that epoch on and
    averages the weights of every later epoch (:class:`WeightAverage`); the average is
    validated each epoch and kept as ``best.weights.h5`` when it scores best.
    On the TensorFlow backend steps run without XLA (faster on a CPU); on JAX they are
    compiled, which is how the same call trains on a GPU machine with Keras's JAX backend.
    """
    spec = SPECS.get(model)
    if spec is None:
        build(model)  # raises the registry's error listing valid names
    if consistency < 0:
        raise ModelError(f"consistency weight must be >= 0 (0 turns it off), got {consistency}.")
    if minutes is not None:
        budget_seconds(minutes)  # a bad budget fails before any data is read
    out = Path(out)
    state_path = out / "state.json"
    size = int(input_size or spec.input_size)
    settings = dict(model=model, data=list(data), epochs=epochs, input_size=size, batch_size=batch_size,
                    learning_rate=learning_rate, validation=validation, seed=seed, options=model_options,
                    init_weights=str(init_weights) if init_weights else None, consistency=consistency,
                    augment=augment if augment is None or isinstance(augment, str) else augment.get_config(),
                    teacher=None if teacher is None else str(getattr(teacher, "name", teacher)),
                    distill=float(distill) if teacher is not None else 0.0, minutes=minutes,
                    # the share in effect (the argument's, or an Augmenter's own), as the recipe built
                    # from them will have it; a bad share or recipe fails here, before any data is read
                    composite=float(getattr(augmenter(augment, composite), "composite", 0.0)),
                    # a bad averaging epoch fails here, before any data is read
                    average_from=None if average_from is None else average_start(average_from, epochs),
                    backend=keras.backend.backend(), machine=describe_machine())
    keras.utils.set_random_seed(seed)

    # --- data: cached once, split into train / validation --------------------------------
    boundary = model.startswith("portraitnet")
    outputs = ("mask", "boundary") if boundary else None
    if consistency:
        outputs = (*(outputs or ("mask",)), "twin_mask", "consistency")
    train_seq, val_seq = training_sequences(
        data, size, batch_size, prior=spec.channels == 4, outputs=outputs,
        validation=validation, seed=seed, root=root, cache_dir=cache_dir, twin=bool(consistency),
        augment=augment, teacher=teacher, distill=distill, workers=workers, composite=composite,
    )
    out.mkdir(parents=True, exist_ok=True)  # only now: a bad recipe or missing data leaves no empty run folder

    # --- model, losses, optimiser ---------------------------------------------------------
    # --init seeds a fresh run; a run that is resumed continues from its own checkpoint
    # instead (so `--resume --init W` is safe to repeat after every kill)
    resuming = resume and state_path.exists()
    if encoder_weights == "auto":
        # a run seeded by --init (or resumed) overwrites every encoder weight straight
        # away: fetching ImageNet weights first would only make it need them offline
        seeded = init_weights is not None or resuming
        encoder_weights = None if seeded else auto_encoder_weights(model, model_options)
    settings["encoder_weights"] = encoder_weights
    options = dict(model_options)
    if boundary:
        options["with_boundary"] = True
    net = build(model, input_size=size, logits=True, encoder_weights=encoder_weights, **options)
    inference = build(model, input_size=size, **model_options)
    if boundary:
        losses = {"mask": SegmentationLoss(bce=1.0, dice=1.0), "boundary": BoundaryLoss()}
        loss_weights = {"mask": 1.0, "boundary": 0.3}
        metrics = {"mask": [PersonIoU()]}
    else:
        emphasis = 2.0 if model.startswith("sinet") else 0.0
        losses, loss_weights, metrics = SegmentationLoss(bce=1.0, dice=1.0, boundary_emphasis=emphasis), None, [PersonIoU()]
    fitted = net
    if consistency:
        fitted = with_twin(net)
        if not isinstance(losses, dict):
            losses, loss_weights, metrics = {"mask": losses}, {"mask": 1.0}, {"mask": metrics}
        losses = {**losses, "twin_mask": losses["mask"], "consistency": ConsistencyLoss()}
        loss_weights = {**loss_weights, "twin_mask": 1.0, "consistency": float(consistency)}
    if init_weights is not None and not resuming:
        seed_weights(net, Path(init_weights), model, size, model_options)
    follow_quickly(fitted)
    # XLA (jit_compile) measured 1.8x slower per step than plain TensorFlow on a 2-core
    # CPU: off there. JAX without jit runs op by op, so other backends choose ("auto").
    tensorflow = keras.backend.backend() == "tensorflow"
    fitted.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=1e-4), loss=losses,
                loss_weights=loss_weights, metrics=metrics, jit_compile=False if tensorflow else "auto")

    # --- resume ---------------------------------------------------------------------------
    initial_epoch, best, state = 0, -1.0, {}
    if resuming:
        state = json.loads(state_path.read_text())
        initial_epoch, best = int(state["epoch"]), float(state.get("best", -1.0))
        last = out / "last.weights.h5"
        try:
            fitted.optimizer.build(fitted.trainable_variables)  # so its saved moments load too
            fitted.load_weights(last)
        except Exception as exc:
            raise ModelError(
                f"{last}: checkpoint cannot be loaded ({str(exc).splitlines()[0][:160]}). It may be corrupt: "
                "delete it and state.json to start again, or restore it from git."
            ) from None
        if best >= 0 and (out / "best.weights.h5").exists():
            inference.load_weights(out / "best.weights.h5")
        if verbose:
            print(f"resuming {out} at epoch {initial_epoch} (best validation IoU {best:.4f})")
    elif state_path.exists() and not resume:
        raise ModelError(f"{out} already holds a run (state.json); pass resume=True to continue it, or another --out.")
    if initial_epoch >= epochs:
        return json.loads(state_path.read_text())

    monitor = "val_mask_person_iou" if boundary or consistency else "val_person_iou"
    if minutes:
        spent = json.loads(state_path.read_text()).get("seconds", 0.0) if resuming else 0.0
        schedule = TimeBudget(learning_rate, minutes, spent=spent)
    else:
        schedule = keras.callbacks.LearningRateScheduler(cosine_schedule(learning_rate, epochs))
    average = None
    if average_from is not None:  # after the schedule (it holds the rate the schedule set), before the logger
        average = WeightAverage(net, average_from, val_seq, monitor, out, count=state.get("averaged", 0),
                                rate=state.get("average_rate"), inference=inference)
    callbacks = [
        schedule,
        *([average] if average else []),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=initial_epoch > 0),
        EpochCheckpoint(out, inference, settings, best, monitor=monitor, source=net, average=average),
    ]
    if tensorflow:
        callbacks.append(FastMalloc())
    fitted.fit(train_seq, validation_data=val_seq, epochs=epochs, initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose)
    return json.loads(state_path.read_text())


def evaluate_split(segmenter, reader, progress: bool = True):
    """Per-image IoU of ``segmenter`` on every sample of ``reader`` (at each image's own size)."""
    from tqdm.auto import tqdm

    from selfieseg.metrics import IoUAccumulator

    scores = IoUAccumulator()
    for sample in tqdm(reader, total=len(reader), desc="evaluating", disable=not progress):
        scores.add(sample.mask, segmenter.predict(sample.image), sample.ignore)
    return scores


__all__ = [
    "FastMalloc",
    "TimeBudget",
    "cosine_schedule",
    "describe_machine",
    "evaluate_split",
    "refuse_benchmark",
    "restore_malloc_thresholds",
    "teacher_labels",
    "train",
    "training_readers",
    "training_sequences",
]
