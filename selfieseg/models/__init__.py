"""One entry point for every architecture: :func:`load` and :func:`list_models`.

>>> model = selfieseg.load("sinet", weights=None)          # untrained, 224x224
>>> model = selfieseg.load("mnv2_unet", weights="shipped")   # trained weights in the package
>>> model = selfieseg.load("sinet", weights="runs/x/best.weights.h5", input_size=256)

Every model takes RGB in [0, 1] (PortraitNet: RGB + previous-mask prior, 4 channels)
and returns the person probability at input resolution (``logits=True`` for training).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

from selfieseg.errors import ModelError
from selfieseg.models.mnv2_unet import build_mnv2_unet
from selfieseg.models.mnv3_unet import build_mnv3_unet
from selfieseg.models.portraitnet import build_portraitnet
from selfieseg.models.sinet import PAPER_CONFIG, build_sinet

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def _no_encoder_start(options: dict):
    return None


def _portraitnet_encoder_start(options: dict):
    # ImageNet MobileNetV2 is cached (offline) at width 1.0 only
    return "imagenet" if options.get("alpha", 1.0) == 1.0 else None


def _mnv2_encoder_start(options: dict):
    # narrower widths start from the width-1.0 weights sliced to their channels
    return "imagenet" if options.get("alpha", 0.5) == 1.0 else "imagenet_sliced"


def _sinet_export_form(model, format: str):
    """SINet's deployed graph: channel shuffles folded into weights (see
    :func:`selfieseg.models.sinet.folded_export_form`)."""
    from selfieseg.models.sinet import folded_export_form

    return folded_export_form(model, format, build)


@dataclass(frozen=True)
class ModelSpec:
    """Everything about one named model that code outside its module may ask.

    Each architecture's rules live here, not in ``if name.startswith(...)`` elsewhere:
    training reads the heads and loss emphasis, export the deployed graph, the demo the
    order of preference. Adding an architecture is its module plus one entry in
    :data:`SPECS` (``register`` does it for a model defined outside the package).
    """

    name: str
    builder: Callable
    input_size: int
    channels: int = 3
    options: dict = field(default_factory=dict)
    description: str = ""
    paper_params: int | None = None  #: trainable parameters reported by the paper, where it reports them
    tiny: bool = False
    #: training network: a boundary head (PortraitNet) trained with a boundary loss beside the mask
    boundary_head: bool = False
    #: extra weight of the mask loss near person edges (SINet's paper weights its boundary)
    boundary_emphasis: float = 0.0
    #: the encoder start a run uses when it is not seeded: ``(builder options) -> encoder_weights``
    encoder_start: Callable = _no_encoder_start
    #: the graph that export converts: ``(model, format) -> model``; None: the model itself
    export_form: Callable | None = None
    #: order of preference where a demo or a command picks among shipped models (lower first),
    #: for accuracy (``demo_rank``, ties broken by the model cards' scores), for speed
    #: (``speed_rank``: the deployment chapters, the phone-sized default) and for video
    #: (``video_rank``: ``selfieseg video``, the video chapter and benchmark)
    demo_rank: int = 100
    speed_rank: int = 100
    video_rank: int = 100

    def tiny_variant(self, input_size: int = 32, **options) -> "ModelSpec":
        """The same architecture and rules at a test size, named ``<name>_tiny``."""
        # tiny variants start from scratch: no width of theirs has ImageNet weights, and tests stay offline
        return replace(self, name=f"{self.name}_tiny", input_size=input_size, options=options, tiny=True,
                       encoder_start=_no_encoder_start,
                       description=f"{self.name} at {input_size} px with a few channels, for fast tests",
                       paper_params=None)


_FULL = (
    ModelSpec("mnv2_unet", build_mnv2_unet, 128, options=dict(alpha=0.5),
              description="MobileNetV2-0.5 U-Net, transposed-conv decoder with dropout (seed project)",
              encoder_start=_mnv2_encoder_start, demo_rank=1, speed_rank=2, video_rank=2),
    ModelSpec("mnv3_unet", build_mnv3_unet, 224, options=dict(alpha=0.5),
              description="MobileNetV3-Large-0.5 U-Net (seed project)", demo_rank=2, speed_rank=3, video_rank=3),
    ModelSpec("portraitnet", build_portraitnet, 224, channels=4, options=dict(alpha=1.0),
              description="PortraitNet: RGB + previous mask, depthwise residual decoder, add skips, boundary head",
              paper_params=2_100_000, boundary_head=True, encoder_start=_portraitnet_encoder_start,
              # video: PortraitNet with its previous-mask input, smoothed, led MediaPipe on the real
              # DAVIS clip (0.703 against 0.639) where SINet scored 0.339, at 47 frames/s end to end
              # on one core (benchmarks/results/video.md, 2026-12-03)
              demo_rank=0, speed_rank=1, video_rank=0),
    ModelSpec("sinet", build_sinet, 224,
              description="SINet: spatial squeeze modules, SE, PReLU, information-blocking decoder",
              paper_params=86_900, boundary_emphasis=2.0, export_form=_sinet_export_form, demo_rank=3, speed_rank=0,
              video_rank=1),
)
_TINY_OPTIONS = {
    "mnv2_unet": dict(alpha=0.35, decoder_filters=(8, 8, 8, 8, 8)),
    "mnv3_unet": dict(alpha=0.35, decoder_filters=(8, 8, 8, 8, 8)),
    "portraitnet": dict(alpha=0.35),
    "sinet": dict(widths=(4, 8, 8, 16), p=2, q=2, config=PAPER_CONFIG[:4]),
}

#: every named model; the tiny variants run the same code paths at 32x32 in seconds
SPECS = {spec.name: spec for spec in _FULL}
SPECS.update({f"{spec.name}_tiny": spec.tiny_variant(**_TINY_OPTIONS[spec.name]) for spec in _FULL})


def register(spec: ModelSpec) -> ModelSpec:
    """Add an architecture to the registry (what a fifth one needs beside its own module)."""
    if not isinstance(spec, ModelSpec):
        raise ModelError(f"register() takes a ModelSpec, got {type(spec).__name__}.")
    if spec.name in SPECS:
        raise ModelError(f"a model named {spec.name!r} is already registered.")
    SPECS[spec.name] = spec
    return spec


def spec_of(name: str) -> ModelSpec:
    """The registry entry for ``name`` (a :class:`ModelError` listing valid names otherwise)."""
    return _spec(name)


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


def builder_options(name: str, options: dict | None = None) -> dict:
    """The options ``name`` is built with (its registry defaults, then ``options``), in the
    JSON form a model card stores them (tuples as lists)."""
    import json

    return json.loads(json.dumps({**_spec(name).options, **(options or {})}))


def _check_shipped_options(name: str, options: dict) -> None:
    """Refuse to build a shipped model other than its card says its weights were built as.

    Keras matches weights to layers by position: the same architecture at another width
    can load without a word, or fail deep inside h5py. The card records the builder
    options (``selfieseg ship`` writes them), so the mismatch is named instead.
    """
    import json

    card = WEIGHTS_DIR / f"{name}.json"
    if not card.exists():
        return
    recorded = json.loads(card.read_text()).get("options")
    wanted = builder_options(name, options)
    if recorded is not None and recorded != wanted:
        raise ModelError(f"{name}: the shipped weights were built with options {recorded}, not {wanted}. "
                         "Drop the options to load them, or pass weights=None for an untrained model.")


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
        return load_keras_file(Path(weights), name)
    if weights == "shipped":
        _check_shipped_options(name, options)
        if input_size is None:
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


def load_keras_file(path: Path, name: str | None = None):
    """A whole ``.keras`` model (compiled off), which must hold ``name`` where one is given."""
    import keras

    import selfieseg.models.common  # noqa: F401  (registers custom layers)

    if not path.exists():
        raise ModelError(f"{path}: model file not found.")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable .keras model ({str(exc).splitlines()[0][:200]}).") from None
    if name is not None and model.name != name:
        raise ModelError(f"{path}: holds a {model.name!r} model, not {name!r}.")
    return model


def shipped_models(order: str = "accuracy") -> list[str]:
    """Names of the architectures whose weights ship in the package, most preferred first.

    ``order="accuracy"`` follows :attr:`ModelSpec.demo_rank`, ``"speed"``
    :attr:`ModelSpec.speed_rank` (what the deployment chapters pick) and ``"video"``
    :attr:`ModelSpec.video_rank` (what ``selfieseg video`` picks).
    """
    rank = {"accuracy": "demo_rank", "speed": "speed_rank", "video": "video_rank"}.get(order)
    if rank is None:
        raise ModelError(f"order must be 'accuracy', 'speed' or 'video', got {order!r}.")
    ranked = sorted((spec for spec in SPECS.values() if not spec.tiny), key=lambda spec: getattr(spec, rank))
    return [spec.name for spec in ranked if shipped_weights_path(spec.name).exists()]


def _no_shipped_weights() -> ModelError:
    return ModelError("no shipped weights in this version of selfieseg: pass a trained weights file, "
                      "or train one (selfieseg train) and ship it (selfieseg ship).")


def best_shipped_model() -> str:
    """The shipped model with the highest PFCN-test IoU in its model card (ties: the registry's order)."""
    import json

    names = shipped_models()
    if not names:
        raise _no_shipped_weights()

    def score(name):
        card = WEIGHTS_DIR / f"{name}.json"
        return json.loads(card.read_text()).get("pfcn_test_iou", 0.0) if card.exists() else 0.0

    return max(names, key=score)  # max keeps the first of equals: the preferred one


def _first_shipped(order: str) -> str:
    names = shipped_models(order=order)
    if not names:
        raise _no_shipped_weights()
    return names[0]


def fastest_shipped_model() -> str:
    """The shipped model the registry ranks fastest (SINet where it ships)."""
    return _first_shipped("speed")


def video_shipped_model() -> str:
    """The shipped model the registry ranks first for video (PortraitNet where it ships).

    Video is where the small models fell furthest behind: on the real DAVIS clip SINet
    scored 0.34 per-frame IoU against MediaPipe's 0.64, while PortraitNet, fed its own
    previous mask, scored 0.70 and still ran at 47 frames/s end to end on one CPU core. So
    video takes the accurate model and the phone-sized one stays a ``--model`` away."""
    return _first_shipped("video")


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


__all__ = ["SPECS", "ModelSpec", "best_shipped_model", "build", "builder_options", "fastest_shipped_model", "list_models", "load", "load_keras_file", "register",
           "shipped_models", "shipped_weights_path", "spec_of", "video_shipped_model"]
