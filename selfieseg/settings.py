"""A training run's settings: one validated object, with every default in one place.

:func:`selfieseg.train.train` builds a :class:`TrainSettings` from its keyword
arguments, and the command line takes its defaults from here, so a default never exists
twice. Every check runs when the object is made, before any data is read or any folder
is created: a bad recipe, budget or averaging epoch fails in milliseconds, not after the
cache is built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from selfieseg.errors import ModelError


@dataclass
class TrainSettings:
    """Everything one call of :func:`selfieseg.train.train` needs.

    ``init_weights`` starts from another run's ``best.weights.h5`` (for example a run at
    a smaller input size: the weights do not depend on it). ``consistency`` > 0 adds
    PortraitNet's consistency loss with that weight: every batch also goes through the
    model with a second texture augmentation, about twice the compute per step.
    ``augment`` picks the augmentation recipe: ``"full"``, ``"mild"`` (narrower geometry,
    for a second stage started with ``init_weights``), ``"none"``, or an
    :class:`~selfieseg.data.augment.Augmenter` of your own. ``composite`` (0-1) puts that
    share of the training people in front of other training photos' backgrounds.
    ``teacher`` (a shipped model name or ``.keras`` file) is distilled into this model:
    training targets become ``(1 - distill) * mask + distill * teacher's probability``.
    ``minutes`` trains to a wall-clock budget instead: ``epochs`` becomes a ceiling and the
    cosine schedule follows the time spent. ``workers`` threads prepare batches.
    ``average_from`` (an epoch number) holds the learning rate from that epoch on and
    averages the weights of every later epoch. ``data_weights`` (``{dataset: weight}``, or
    the command line's ``"voc_person=2,ccp=1"``) sets each dataset's share of a training
    epoch, whatever its size; datasets left out weigh 1, and without it every photo is
    seen once an epoch. ``options`` go to the architecture's
    builder (for example ``alpha``). ``devices`` (``"all"`` or a count; JAX backend) trains
    data-parallel (:mod:`selfieseg.distribute`): ``batch_size`` is then per device, the
    global batch and the learning rate are multiplied by the device count.
    """

    model: str = "sinet"
    data: tuple = ("pfcn", "picsart")
    data_weights: dict | None = None
    epochs: int = 30
    out: Path = Path("runs/sinet")
    resume: bool = False
    input_size: int | None = None
    batch_size: int = 16
    learning_rate: float = 2e-3
    encoder_weights: str | None = "auto"
    validation: float = 0.1
    seed: int = 0
    steps_per_epoch: int | None = None
    cache_dir: Path | None = None
    root: Path | None = None
    init_weights: Path | None = None
    consistency: float = 0.0
    augment: object = "full"
    teacher: object = None
    distill: float = 0.5
    minutes: float | None = None
    workers: int = 1
    average_from: int | None = None
    composite: float = 0.0
    verbose: int = 1
    devices: object = None
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        from selfieseg.callbacks import average_start, budget_seconds
        from selfieseg.data.augment import augmenter
        from selfieseg.models import spec_of

        self.spec = spec_of(self.model)  # an unknown name fails listing the valid ones
        self.data = tuple(self.data.split(",")) if isinstance(self.data, str) else tuple(self.data)
        if not self.data:
            raise ModelError("a training run needs at least one dataset (--data NAME[,NAME...]).")
        self.data_weights = parse_data_weights(self.data_weights, self.data)
        self.out = Path(self.out)
        for name in ("epochs", "batch_size", "workers"):
            if int(getattr(self, name)) < 1:
                raise ModelError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not 0 <= float(self.validation) < 1:
            raise ModelError(f"validation must be a share in [0, 1), got {self.validation}.")
        if self.consistency < 0:
            raise ModelError(f"consistency weight must be >= 0 (0 turns it off), got {self.consistency}.")
        if self.minutes is not None:
            budget_seconds(self.minutes)
        # the recipe as the run will build it: a bad name or share fails here
        self.recipe = augmenter(self.augment, self.composite)
        if self.average_from is not None:
            self.average_from = average_start(self.average_from, self.epochs)
        if self.teacher is not None:
            from selfieseg.data.pipeline import distill_weight

            distill_weight(self.distill)
        from selfieseg.distribute import parse_devices

        self.devices = parse_devices(self.devices)

    @classmethod
    def from_kwargs(cls, **kwargs) -> "TrainSettings":
        """Settings from :func:`~selfieseg.train.train`'s keywords; unknown ones are builder options."""
        known = {f.name for f in dataclasses.fields(cls)}
        options = {**kwargs.pop("options", {}), **{k: kwargs.pop(k) for k in list(kwargs) if k not in known}}
        return cls(**kwargs, options=options)

    @classmethod
    def default(cls, name: str):
        """The default of one setting (what the command line shows and uses)."""
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        raise KeyError(name)

    @property
    def size(self) -> int:
        return int(self.input_size or self.spec.input_size)

    def record(self, backend: str, machine: str) -> dict:
        """The settings as ``state.json`` and the model card keep them (their file format)."""
        augment = self.augment if self.augment is None or isinstance(self.augment, str) else self.augment.get_config()
        return dict(model=self.model, data=list(self.data), data_weights=self.data_weights, epochs=self.epochs, input_size=self.size,
                    batch_size=self.batch_size, learning_rate=self.learning_rate, validation=self.validation,
                    seed=self.seed, options=dict(self.options),
                    init_weights=str(self.init_weights) if self.init_weights else None,
                    consistency=self.consistency, augment=augment,
                    teacher=None if self.teacher is None else str(getattr(self.teacher, "name", self.teacher)),
                    distill=float(self.distill) if self.teacher is not None else 0.0, minutes=self.minutes,
                    # the share in effect (the argument's, or an Augmenter's own), as the recipe has it
                    composite=float(getattr(self.recipe, "composite", 0.0)),
                    average_from=self.average_from, devices=self.devices, backend=backend, machine=machine)


def parse_data_weights(weights, data) -> dict | None:
    """``{dataset: weight}`` from a mapping or ``"name=w,name=w"``, checked against ``data``."""
    if weights is None or weights == "" or weights == {}:
        return None
    if isinstance(weights, str):
        pairs = {}
        for item in weights.split(","):
            name, sep, value = item.partition("=")
            try:
                pairs[name.strip()] = float(value) if sep else float("nan")
            except ValueError:
                pairs[name.strip()] = float("nan")
        weights = pairs
    bases = {name.split(":", 1)[0] for name in data}
    unknown = sorted(set(weights) - bases)
    if unknown:
        raise ModelError(f"data weights name {unknown}, which are not among the training data {sorted(bases)}.")
    bad = {name: w for name, w in weights.items() if not float(w) >= 0}
    if bad:
        raise ModelError(f"data weights must be numbers >= 0 written name=weight, got {bad}.")
    if not any(float(weights.get(name, 1.0)) > 0 for name in bases):
        raise ModelError("data weights give every dataset weight 0: nothing would be trained on.")
    return {name: float(w) for name, w in weights.items()}


__all__ = ["TrainSettings", "parse_data_weights"]
