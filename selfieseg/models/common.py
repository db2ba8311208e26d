"""Pieces every architecture shares: the input contract, heads, encoder weights, taps.

The contract: a model takes RGB in [0, 1] (PortraitNet: plus a prior channel) and
returns the person probability at input resolution. Normalisation lives inside the
model, as in MediaPipe's, so every exported file is a drop-in for the others.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import keras
from keras import layers, ops

from selfieseg.errors import ModelError

PACKAGE = "selfieseg"


def check_input_size(name: str, input_size, multiple: int = 32, minimum: int = 32) -> tuple[int, int]:
    """Validate an input size (int or (h, w)) and return (h, w)."""
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or any((not isinstance(s, int)) or s < minimum or s % multiple for s in size):
        raise ModelError(
            f"{name}: input size {input_size!r} is not supported; use a multiple of {multiple} "
            f"of at least {minimum} (e.g. 128, 160, 224, 256)."
        )
    return size


def rgb_input(size: tuple[int, int], channels: int = 3, name: str = "image"):
    """The model input plus the in-model normalisation [0, 1] -> [-1, 1]."""
    inputs = keras.Input(shape=(*size, channels), name=name)
    normalised = layers.Rescaling(2.0, offset=-1.0, name="normalize")(inputs)
    return inputs, normalised


def probability_head(x, logits: bool, name: str = "mask"):
    """1-channel output: logits for training, or sigmoid probability for inference."""
    if logits:
        return layers.Identity(name=name)(x)
    return layers.Activation("sigmoid", name=name)(x)


def conv_bn_act(x, filters, kernel=3, strides=1, activation="relu", name="cbr"):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if activation == "prelu":
        return layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
    if activation:
        return layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def taps_by_stride(model: keras.Model, input_size: int, strides=(2, 4, 8, 16, 32)) -> dict:
    """The last layer output at each stride (1/2, 1/4, ...) of an encoder, by position.

    Used where an encoder's layer names are not stable (MobileNetV3's activations).
    """
    found = {}
    for layer in model.layers:
        shape = layer.output.shape
        if len(shape) == 4 and shape[1] and input_size % shape[1] == 0:
            stride = input_size // shape[1]
            if stride in strides:
                found[stride] = layer.output
    return found


_AUTO_NAME = re.compile(r"^(re_lu|activation|multiply|add|rescaling|global_average_pooling2d|reshape|dropout)(_\d+)?$")


def make_names_deterministic(model: keras.Model, prefix: str) -> None:
    """Rename auto-numbered layers (``re_lu_17``) by position so names do not depend on session state."""
    for index, layer in enumerate(model.layers):
        if _AUTO_NAME.match(layer.name):
            layer.name = f"{prefix}_{layer.name.rsplit('_', 1)[0] if layer.name[-1].isdigit() else layer.name}_{index}"


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` as Keras read it at import."""
    try:
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:  # a Keras without that helper: same rule, read now
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def mobilenet_v2_imagenet_file(alpha: float, size: int) -> str:
    """The file name Keras caches MobileNetV2 no-top ImageNet weights under."""
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}_no_top.h5"


def imagenet_encoder_error(what: str, cache_file: str, exc: Exception) -> ModelError:
    present = sorted(p.name for p in keras_cache_dir().glob("*.h5")) if keras_cache_dir().is_dir() else []
    return ModelError(
        f"ImageNet weights for {what} could not be loaded ({str(exc).splitlines()[0][:160]}). "
        f"They are downloaded by Keras on first use and cached as {keras_cache_dir() / cache_file}; "
        "this machine has no internet or the file is not published. Choices: "
        "encoder_weights=None (random init, trains from scratch), "
        "alpha=1.0 for MobileNetV2 (weights cached here: "
        f"{', '.join(present) if present else 'none'}), "
        "or put the weight file into the cache folder by hand."
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelShuffle(layers.Layer):
    """Interleave channels across ``groups`` (ShuffleNet): lets grouped convs mix information."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        # channel c of group g moves to position c * groups + g: one gather with a constant
        # permutation (a single builtin TFLite op, where reshape-transpose-reshape is three)
        channels = x.shape[-1]
        order = [g * (channels // self.groups) + c for c in range(channels // self.groups) for g in range(self.groups)]
        return ops.take(x, order, axis=-1)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TwoClassToLogit(layers.Layer):
    """Two-class logits (background, person) -> one person logit ``l1 - l0``.

    ``sigmoid(l1 - l0)`` equals the two-class softmax's person probability, so a model
    built with the paper's two classes keeps the library's one-channel contract.
    """

    def call(self, x):
        return x[..., 1:2] - x[..., 0:1]


def _same_named(source: keras.Model, target_layers):
    """(target layer, source weights, target weights) for each same-named layer with as many weights."""
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target_layers:
        donor = by_name.get(layer.name)
        if donor is None or not donor.weights:
            continue
        values, mine = donor.get_weights(), layer.get_weights()
        if len(values) == len(mine):
            yield layer, values, mine


def copy_weights_by_name(source: keras.Model, target_layers, extra_input_channels: int = 0) -> int:
    """Copy weights from ``source`` into same-named layers of ``target_layers``.

    Where the first convolution of the target takes extra input channels (PortraitNet's
    prior), the ImageNet kernel is kept for RGB and the extra input slices start at 0,
    so the pretrained encoder initially ignores the prior. Returns the layers copied.
    """
    import numpy as np

    copied = 0
    for layer, values, mine in _same_named(source, target_layers):
        fixed = []
        for have, want in zip(values, mine):
            if have.shape != want.shape and extra_input_channels and have.ndim == 4 and have.shape[2] + extra_input_channels == want.shape[2]:
                have = np.concatenate([have, np.zeros((*have.shape[:2], extra_input_channels, have.shape[3]), have.dtype)], axis=2)
            if have.shape != want.shape:
                break
            fixed.append(have)
        else:
            layer.set_weights(fixed)
            copied += 1
    return copied


def load_mobilenet_v2_imagenet(target_layers, alpha: float, extra_input_channels: int = 0) -> int:
    """Load Keras's ImageNet MobileNetV2 weights into an encoder of any input size.

    The weights do not depend on the input size, so a 224 reference is built (from
    Keras's cache, ``$KERAS_HOME/models``) and copied in by layer name.
    """
    try:
        reference = keras.applications.MobileNetV2(
            input_shape=(224, 224, 3), alpha=alpha, include_top=False, weights="imagenet"
        )
    except Exception as exc:  # keras raises a bare Exception on fetch failure
        raise imagenet_encoder_error(
            f"MobileNetV2 width {alpha}", mobilenet_v2_imagenet_file(alpha, 224), exc
        ) from None
    return copy_weights_by_name(reference, target_layers, extra_input_channels)


def copy_weights_sliced(source: keras.Model, target_layers) -> int:
    """Copy same-named layers' weights from a *wider* ``source``, keeping leading channels.

    A width-0.5 network has the same layers as the width-1.0 one with fewer channels in
    each. Keeping the first ``k`` channels of every tensor is consistent along the whole
    chain (the channels a layer keeps are the ones the next layer reads, residual adds
    included), so the narrow network starts from ImageNet filters instead of noise.
    Batch-norm statistics are sliced too; they are re-estimated in the first batches.
    Returns the number of layers copied.
    """
    copied = 0
    for layer, values, mine in _same_named(source, target_layers):
        if any(have.ndim != want.ndim or any(h < w for h, w in zip(have.shape, want.shape))
               for have, want in zip(values, mine)):
            continue
        layer.set_weights([have[tuple(slice(0, n) for n in want.shape)] for have, want in zip(values, mine)])
        copied += 1
    return copied


ENCODER_WEIGHTS = (None, "imagenet", "imagenet_sliced")


def mobilenet_v2_encoder(normalised, alpha: float, encoder_weights):
    """MobileNetV2 feature extractor on an already-normalised tensor (any channel count).

    ``encoder_weights``: None (random), "imagenet" (Keras's weights for this width, from
    its cache) or "imagenet_sliced" (the width-1.0 ImageNet weights, which are the ones
    cached here, cut down to this width by :func:`copy_weights_sliced`).
    """
    if encoder_weights not in ENCODER_WEIGHTS:
        raise ModelError(f"encoder_weights must be one of {ENCODER_WEIGHTS}, got {encoder_weights!r}.")
    encoder = keras.applications.MobileNetV2(
        input_tensor=normalised, alpha=alpha, include_top=False, weights=None
    )
    if encoder_weights == "imagenet":
        channels = normalised.shape[-1]
        load_mobilenet_v2_imagenet(encoder.layers, alpha, extra_input_channels=channels - 3)
    elif encoder_weights == "imagenet_sliced":
        if normalised.shape[-1] != 3:
            raise ModelError("encoder_weights='imagenet_sliced' needs a 3-channel (RGB) input.")
        try:
            reference = keras.applications.MobileNetV2(
                input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights="imagenet"
            )
        except Exception as exc:
            raise imagenet_encoder_error("MobileNetV2 width 1.0", mobilenet_v2_imagenet_file(1.0, 224), exc) from None
        copy_weights_sliced(reference, encoder.layers)
    return encoder
