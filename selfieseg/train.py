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
  form (:class:`~selfieseg.callbacks.WeightAverage`),

and resumes from them with ``resume=True``. The PFCN *test* split is refused: it is the
benchmark. Validation is a seeded share of the training data.

Where things live: the run's settings in :mod:`selfieseg.settings`, which data it reads
in :mod:`selfieseg.data.training`, its callbacks in :mod:`selfieseg.callbacks`, each
architecture's heads and losses in its registry entry (:mod:`selfieseg.models`), and
scoring in :mod:`selfieseg.evaluation`. This module puts them together.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import keras
import numpy as np

from selfieseg import distribute
from selfieseg.callbacks import (  # noqa: F401 (TimeBudget .. restore_malloc_thresholds: re-exported)
    EpochCheckpoint,
    FastMalloc,
    TimeBudget,
    WeightAverage,
    average_start,
    budget_seconds,
    cosine_schedule,
    restore_malloc_thresholds,
    save_weights_atomic,
)
from selfieseg.data import training as data_training
from selfieseg.data.pipeline import ArrayCache
from selfieseg.data.training import training_readers  # noqa: F401 (re-exported)
from selfieseg.errors import ModelError
from selfieseg.io import atomic_path
from selfieseg.losses import BoundaryLoss, ConsistencyLoss, SegmentationLoss
from selfieseg.metrics import PersonIoU
from selfieseg.models import ModelSpec, build, refuse_other_network, spec_of
from selfieseg.models.common import copy_weights_by_name
from selfieseg.settings import TrainSettings


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


def auto_encoder_weights(model: str, options: dict):
    """The best encoder start available offline, by the architecture's registry entry
    (:attr:`~selfieseg.models.ModelSpec.encoder_start`): ImageNet where Keras's cache has it.

    Only MobileNetV2 width 1.0 is cached here; the width-0.5 U-Net starts from those
    weights sliced to its width, MobileNetV3 and SINet from scratch.
    """
    spec = spec_of(model)
    return spec.encoder_start({**spec.options, **options})


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


def training_objective(spec: ModelSpec, consistency: float = 0.0):
    """(outputs, losses, loss weights, metrics, monitor) of a training network, from the
    architecture's registry entry: a boundary head (PortraitNet) adds its boundary loss,
    SINet's ``boundary_emphasis`` weights the mask loss near edges, and a consistency
    weight adds the texture twin's outputs (:func:`with_twin`)."""
    mask_loss = SegmentationLoss(bce=1.0, dice=1.0, boundary_emphasis=spec.boundary_emphasis)
    if spec.boundary_head:
        outputs = ("mask", "boundary")
        losses, loss_weights = {"mask": mask_loss, "boundary": BoundaryLoss()}, {"mask": 1.0, "boundary": 0.3}
        metrics = {"mask": [PersonIoU()]}
    else:
        outputs, losses, loss_weights, metrics = None, mask_loss, None, [PersonIoU()]
    if consistency:
        outputs = (*(outputs or ("mask",)), "twin_mask", "consistency")
        if not isinstance(losses, dict):
            losses, loss_weights, metrics = {"mask": losses}, {"mask": 1.0}, {"mask": metrics}
        losses = {**losses, "twin_mask": losses["mask"], "consistency": ConsistencyLoss()}
        loss_weights = {**loss_weights, "twin_mask": 1.0, "consistency": float(consistency)}
    monitor = "val_mask_person_iou" if isinstance(losses, dict) else "val_person_iou"
    return outputs, losses, loss_weights, metrics, monitor


def training_sequences(data, size: int, batch_size: int = 16, teacher=None, **options):
    """:func:`selfieseg.data.training.training_sequences`, with ``teacher`` (a model name,
    ``.keras`` file or Segmenter) distilled through :func:`teacher_labels`."""
    labels = None if teacher is None else functools.partial(teacher_labels, teacher=teacher)
    return data_training.training_sequences(data, size, batch_size, teacher_labels=labels, **options)


def _resume_state(settings: TrainSettings, fitted: keras.Model, inference: keras.Model, resuming: bool):
    """(first epoch, best score, state) of a run: fresh, or read back from its checkpoint."""
    out, state_path = settings.out, settings.out / "state.json"
    if not resuming:
        if state_path.exists():
            raise ModelError(f"{out} already holds a run (state.json); pass resume=True to continue it, or another --out.")
        return 0, -1.0, {}
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
    if settings.verbose:
        print(f"resuming {out} at epoch {initial_epoch} (best validation IoU {best:.4f})")
    return initial_epoch, best, state


def train(model: "str | TrainSettings | None" = None, **keywords) -> dict:
    """Train a model; returns the run's final ``state.json`` as a dict.

    Pass a :class:`~selfieseg.settings.TrainSettings`, or its fields as keywords, the
    model name also first (``train("sinet", data=("pfcn", "picsart"), epochs=60, out="runs/sinet")``;
    keywords that are not settings go to the architecture's builder). The settings'
    docstring says what each one does. On the TensorFlow backend steps run without XLA
    (faster on a CPU); on JAX they are compiled, which is how the same call trains on a
    GPU machine with Keras's JAX backend.
    """
    # --- settings: every check runs before any data is read ------------------------------
    if isinstance(model, TrainSettings):
        if keywords:
            raise ModelError(f"pass either a TrainSettings or keywords, not both (got {sorted(keywords)}).")
        settings = model
    else:
        settings = TrainSettings.from_kwargs(**keywords, **({} if model is None else {"model": model}))
    spec, size, out = settings.spec, settings.size, settings.out
    state_path = out / "state.json"
    resuming = settings.resume and state_path.exists()
    encoder_weights = settings.encoder_weights
    if encoder_weights == "auto":
        # a run seeded by --init (or resumed) overwrites every encoder weight straight
        # away: fetching ImageNet weights first would only make it need them offline
        seeded = settings.init_weights is not None or resuming
        encoder_weights = None if seeded else auto_encoder_weights(settings.model, settings.options)
    # data-parallel (--devices): before any computation, as jax.distributed needs
    distribution = distribute.data_parallel(settings.devices)
    replicas = distribute.replica_count(distribution)
    global_batch, learning_rate = settings.batch_size * replicas, settings.learning_rate * replicas
    record = settings.record(keras.backend.backend(), describe_machine())
    record.update(encoder_weights=encoder_weights, replicas=replicas, global_batch_size=global_batch,
                  scaled_learning_rate=learning_rate)
    keras.utils.set_random_seed(settings.seed)

    # every Keras object (metrics included) is made inside the data-parallel scope, if any:
    # variables made outside it would sit on one device and break the sharded step
    with distribute.scope(distribution):
        # --- data: cached once, split into train / validation ---------------------------------
        outputs, losses, loss_weights, metrics, monitor = training_objective(spec, settings.consistency)
        train_seq, val_seq = training_sequences(
            settings.data, size, global_batch, prior=spec.channels == 4, outputs=outputs,
            validation=settings.validation, seed=settings.seed, root=settings.root, cache_dir=settings.cache_dir,
            twin=bool(settings.consistency), augment=settings.recipe, teacher=settings.teacher,
            distill=settings.distill, workers=settings.workers, data_weights=settings.data_weights,
            batch_multiple=replicas, shard=distribute.process_shard(),
        )
        out.mkdir(parents=True, exist_ok=True)  # only now: a bad recipe or missing data leaves no empty run folder

        # --- model: the training network (with its heads) and the inference model -------------
        heads = {"with_boundary": True} if spec.boundary_head else {}
        net = build(settings.model, input_size=size, logits=True, encoder_weights=encoder_weights,
                    **settings.options, **heads)
        inference = build(settings.model, input_size=size, **settings.options)
        fitted = with_twin(net) if settings.consistency else net
        # --init seeds a fresh run; a resumed run continues from its own checkpoint instead
        # (so `--resume --init W` is safe to repeat after every kill)
        if settings.init_weights is not None and not resuming:
            seed_weights(net, Path(settings.init_weights), settings.model, size, settings.options)
        follow_quickly(fitted)
        # XLA (jit_compile) measured 1.8x slower per step than plain TensorFlow on a 2-core
        # CPU: off there. JAX without jit runs op by op, so other backends choose ("auto").
        tensorflow = keras.backend.backend() == "tensorflow"
        fitted.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=1e-4), loss=losses,
                       loss_weights=loss_weights, metrics=metrics, jit_compile=False if tensorflow else "auto")

        # --- fit, checkpointing every epoch -----------------------------------------------------
        initial_epoch, best, state = _resume_state(settings, fitted, inference, resuming)
        if initial_epoch >= settings.epochs:
            return json.loads(state_path.read_text())
        callbacks = training_callbacks(settings, record, net, inference, val_seq, monitor, best, initial_epoch, state,
                                       learning_rate=learning_rate)
        fitted.fit(train_seq, validation_data=val_seq, epochs=settings.epochs, initial_epoch=initial_epoch,
                   steps_per_epoch=settings.steps_per_epoch, callbacks=callbacks, verbose=settings.verbose)
    return json.loads(state_path.read_text())


def training_callbacks(settings: TrainSettings, record: dict, net, inference, val_seq, monitor: str, best: float,
                       initial_epoch: int, state: dict, learning_rate: float | None = None) -> list:
    """The schedule (epochs or a time budget), weight averaging, the log and the checkpoint
    (which saves ``record``, the settings as ``state.json`` keeps them), in order.
    ``learning_rate`` is the peak rate (default the settings'; data-parallel runs scale it)."""
    out = settings.out
    learning_rate = settings.learning_rate if learning_rate is None else learning_rate
    if settings.minutes:
        schedule = TimeBudget(learning_rate, settings.minutes, spent=state.get("seconds", 0.0))
    else:
        schedule = keras.callbacks.LearningRateScheduler(cosine_schedule(learning_rate, settings.epochs))
    average = None
    if settings.average_from is not None:  # after the schedule (it holds the rate the schedule set), before the logger
        average = WeightAverage(net, settings.average_from, val_seq, monitor, out, count=state.get("averaged", 0),
                                rate=state.get("average_rate"), inference=inference)
    callbacks = [
        schedule,
        *([average] if average else []),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=initial_epoch > 0),
        EpochCheckpoint(out, inference, record, best, monitor=monitor, source=net, average=average),
    ]
    if keras.backend.backend() == "tensorflow":
        callbacks.append(FastMalloc())
    return callbacks


__all__ = [
    "TrainSettings",
    "auto_encoder_weights",
    "describe_machine",
    "seed_weights",
    "teacher_labels",
    "train",
    "training_callbacks",
    "training_objective",
    "training_sequences",
    "with_twin",
]
