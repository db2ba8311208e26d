"""One entry point for every architecture: :func:`load` and :func:`list_models`.

>>> model = selfieseg.load("sinet", weights=None)          # untrained, 224x224
>>> model = selfieseg.load("mnv2_unet", weights="shipped")   # trained weights in the package
>>> model = selfieseg.load("sinet", weights="runs/x/best.weights.h5", input_size=256)

Every model takes RGB in [0, 1] (PortraitNet: RGB + previous-mask prior, 4 channels)
and returns the person probability at input resolution (``logits=True`` for training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from selfieseg.errors import ModelError
from selfieseg.models.mnv2_unet import build_mnv2_unet
from selfieseg.models.mnv3_unet import build_mnv3_unet
from selfieseg.models.portraitnet import build_portraitnet
from selfieseg.models.sinet import PAPER_CONFIG, build_sinet

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`load` needs to build one named model."""

    name: str
    builder: Callable
    input_size: int
    channels: int = 3
    options: dict = field(default_factory=dict)
    description: str = ""
    paper_params: int | None = None  #: trainable parameters reported by the paper, where it reports them
    tiny: bool = False


SPECS = {
    spec.name: spec
    for spec in (
        ModelSpec("mnv2_unet", build_mnv2_unet, 128, options=dict(alpha=0.5),
                  description="MobileNetV2-0.5 U-Net, transposed-conv decoder with dropout (seed project)"),
        ModelSpec("mnv3_unet", build_mnv3_unet, 224, options=dict(alpha=0.5),
                  description="MobileNetV3-Large-0.5 U-Net (seed project)"),
        ModelSpec("portraitnet", build_portraitnet, 224, channels=4, options=dict(alpha=1.0),
                  description="PortraitNet: RGB + previous mask, depthwise residual decoder, add skips, boundary head",
                  paper_params=2_100_000),
        ModelSpec("sinet", build_sinet, 224,
                  description="SINet: spatial squeeze modules, SE, PReLU, information-blocking decoder",
                  paper_params=86_900),
        # tiny variants: the same code paths at 32x32 with a few channels, for fast tests
        ModelSpec("mnv2_unet_tiny", build_mnv2_unet, 32, options=dict(alpha=0.35, decoder_filters=(8, 8, 8, 8, 8)), tiny=True),
        ModelSpec("mnv3_unet_tiny", build_mnv3_unet, 32, options=dict(alpha=0.35, decoder_filters=(8, 8, 8, 8, 8)), tiny=True),
        ModelSpec("portraitnet_tiny", build_portraitnet, 32, channels=4, options=dict(alpha=0.35), tiny=True),
        ModelSpec("sinet_tiny", build_sinet, 32, options=dict(widths=(4, 8, 8, 16), p=2, q=2, config=PAPER_CONFIG[:4]), tiny=True),
    )
}


def _spec(name: str) -> ModelSpec:
    if not isinstance(name, str) or name not in SPECS:
        valid = ", ".join(n for n, s in SPECS.items() if not s.tiny)
        raise ModelError(f"unknown model {name!r}; valid names: {valid} (and *_tiny test variants).")
    return SPECS[name]


def build(name: str, input_size=None, logits: bool = False, encoder_weights=None, **options):
    """Build an untrained model by name (``options`` override the architecture's defaults)."""
    spec = _spec(name)
    kwargs = {**spec.options, **options}
    return spec.builder(
        input_size=input_size or spec.input_size,
        logits=logits,
        encoder_weights=encoder_weights,
        name=name,
        **kwargs,
    )


def shipped_weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.weights.h5"


def shipped_input_size(name: str) -> int | None:
    """The input size the shipped weights were trained and evaluated at (from the model card)."""
    import json

    card = WEIGHTS_DIR / f"{name}.json"
    return int(json.loads(card.read_text())["input_size"]) if card.exists() else None


def load(name: str, weights="shipped", input_size=None, logits: bool = False, encoder_weights=None, **options):
    """Build model ``name`` and load ``weights``: ``"shipped"``, ``None`` (untrained) or a file.

    A file may be a ``.weights.h5`` (loaded into the named architecture, at any input
    size) or a full ``.keras`` model (which must be that architecture).
    """
    spec = _spec(name)
    if weights is not None and str(weights).endswith(".keras"):
        return _load_keras_file(name, Path(weights))
    if weights == "shipped" and input_size is None:
        input_size = shipped_input_size(name)
    model = build(name, input_size=input_size, logits=logits, encoder_weights=encoder_weights, **options)
    if weights is None:
        return model
    path = shipped_weights_path(name) if weights == "shipped" else Path(weights)
    if weights == "shipped" and not path.exists():
        raise ModelError(
            f"{name}: no shipped weights in this version of selfieseg ({path} is missing). "
            "Use weights=None for an untrained model, or pass a trained .weights.h5 / .keras file."
        )
    if not path.exists():
        raise ModelError(f"{path}: weights file not found.")
    refuse_other_network(path, model, spec.name)
    try:
        model.load_weights(path)
    except Exception as exc:
        raise ModelError(
            f"{path}: cannot load these weights into {spec.name} ({str(exc).splitlines()[0][:200]}). "
            "The file may be corrupt, or trained for another architecture or width."
        ) from None
    return model


def _stored_variable_count(path: Path) -> tuple[int, bool] | None:
    """(variables stored under ``layers/``, whether an optimizer is stored) of a Keras 3
    ``.weights.h5`` file; ``None`` for any other file (Keras reports those itself)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if not isinstance(f.get("layers"), h5py.Group):
                return None
            count = 0

            def visit(_, item):
                nonlocal count
                count += isinstance(item, h5py.Dataset)

            f["layers"].visititems(visit)
            return count, "optimizer" in f
    except OSError:
        return None  # not HDF5: load_weights gives its own error, which load() words


def refuse_other_network(path: Path, model, name: str) -> None:
    """Refuse a weights file that holds a different network than ``model``.

    Keras matches a ``.weights.h5`` file to a model layer by layer in order, and loads
    one with extra layers without a word: a training checkpoint of PortraitNet (which
    carries the boundary head, and the optimizer) loaded into the inference model gave
    validation IoU 0.011, measured. Counting the stored variables catches that.
    """
    stored = _stored_variable_count(path)
    if stored is None or stored[0] == len(model.weights):
        return
    hint = (" It is a training checkpoint (it holds the optimizer, and any training-only heads): "
            "load the run's best.weights.h5 or average.weights.h5, or resume training from it."
            if stored[1] else " It was saved from another architecture, width or training network.")
    raise ModelError(f"{path}: holds {stored[0]} variables but {name} has {len(model.weights)}.{hint}")


def _load_keras_file(name: str, path: Path):
    import keras

    import selfieseg.models.common  # noqa: F401  (registers custom layers)

    if not path.exists():
        raise ModelError(f"{path}: model file not found.")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable .keras model ({str(exc).splitlines()[0][:200]}).") from None
    if model.name != name:
        raise ModelError(f"{path}: holds a {model.name!r} model, not {name!r}.")
    return model


@lru_cache(maxsize=None)
def _param_counts(name: str) -> tuple[int, int]:
    import numpy as np

    model = build(name)
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return trainable, int(model.count_params())


def list_models(include_tiny: bool = False) -> list[dict]:
    """Every model name with its input size, channels, parameter counts and shipped-weights status.

    ``params`` counts trainable weights (the papers' convention); ``total_params``
    adds batch-norm statistics.
    """
    rows = []
    for name, spec in SPECS.items():
        if spec.tiny and not include_tiny:
            continue
        trainable, total = _param_counts(name)
        rows.append(
            {
                "name": name,
                "input_size": spec.input_size,
                "channels": spec.channels,
                "params": trainable,
                "total_params": total,
                "paper_params": spec.paper_params,
                "shipped": shipped_weights_path(name).exists(),
                "description": spec.description,
            }
        )
    return rows


__all__ = ["SPECS", "ModelSpec", "build", "list_models", "load", "shipped_weights_path"]
