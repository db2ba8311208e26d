"""SINet (Park et al., WACV 2020): an extremely light portrait model, about 87K parameters.

* **Spatial squeeze (S2) blocks** average-pool the features (by 1, 2 or 4), run a
  depthwise convolution there and upsample back: a wide receptive field for a handful
  of multiply-adds.
* **S2 modules** split a grouped 1x1 convolution's output into two S2 blocks of
  different kernel/pool sizes, shuffle channels, concatenate, and add the input.
* **SE blocks** and **PReLU** everywhere; **depthwise-separable** downsampling.
* An **information-blocking decoder**: the coarse 1/8 prediction is upsampled and
  high-resolution 1/4 features are added only where that prediction is unsure
  (gated by ``1 - confidence``), so detail fixes boundaries without adding noise in
  regions that are already decided.

The model keeps the paper's two-class decoder and exposes one person logit
(``l_person - l_background``) to keep the library's one-channel contract.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from selfieseg.errors import ModelError
from selfieseg.models.common import (
    PACKAGE,
    ChannelShuffle,
    TwoClassToLogit,
    check_input_size,
    conv_bn_act,
    probability_head,
    rgb_input,
)

#: (kernel, pool) of the two S2 blocks in each S2 module: p=2 modules at 1/4, q=8 at 1/8
PAPER_CONFIG = (
    ((3, 1), (5, 1)), ((3, 1), (3, 1)),
    ((3, 1), (5, 1)), ((3, 1), (3, 1)), ((5, 1), (3, 2)), ((5, 2), (3, 4)),
    ((3, 1), (3, 1)), ((5, 1), (5, 1)), ((3, 2), (3, 4)), ((3, 1), (5, 2)),
)  # fmt: skip


def batch_norm(x, name):
    return layers.BatchNormalization(epsilon=1e-3, name=name)(x)


def prelu(x, name):
    return layers.PReLU(shared_axes=[1, 2], name=name)(x)


def squeeze_excite(x, divide: int, name: str):
    """SE: global pool -> dense (reduce by ``divide``) -> PReLU -> dense -> hard sigmoid -> scale."""
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    if divide > 1:
        s = layers.Dense(channels // divide, name=f"{name}_reduce")(s)
        s = prelu(s, f"{name}_reduce_prelu")
    s = layers.Dense(channels, name=f"{name}_expand")(s)
    s = layers.Activation("hard_sigmoid", name=f"{name}_gate")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])


def se_separable_cbr(x, filters: int, kernel: int, strides: int, divide: int, name: str):
    """Depthwise conv (strided) -> SE -> pointwise conv -> BN -> PReLU."""
    x = layers.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = squeeze_excite(x, divide, f"{name}_se")
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    return prelu(batch_norm(x, f"{name}_bn"), f"{name}_prelu")


def s2_block(x, filters: int, kernel: int, pool: int, name: str):
    """Spatial squeeze block: avg-pool by ``pool``, depthwise conv, PReLU, 1x1 conv, upsample, BN."""
    if pool > 1:
        x = layers.AveragePooling2D(pool, name=f"{name}_squeeze")(x)
    x = layers.DepthwiseConv2D(kernel, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = batch_norm(x, f"{name}_dw_bn")
    x = prelu(x, f"{name}_prelu")
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    if pool > 1:
        x = layers.UpSampling2D(pool, interpolation="bilinear", name=f"{name}_expand")(x)
    return batch_norm(x, f"{name}_bn")


def grouped_pointwise(x, filters: int, groups: int, name: str):
    """A 1x1 convolution in ``groups`` independent groups: split -> one conv per group -> concat.

    TensorFlow's CPU kernels train this form fast; the TFLite export form writes it as
    one grouped ``Conv2D`` instead (``copy_into_fused``).
    """
    width = x.shape[-1] // groups
    outputs = []
    for g in range(groups):
        part = SliceChannels(g * width, (g + 1) * width, name=f"{name}_slice{g}")(x)
        outputs.append(layers.Conv2D(filters // groups, 1, use_bias=False, name=f"{name}_conv{g}")(part))
    return layers.Concatenate(name=f"{name}_concat")(outputs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SliceChannels(layers.Layer):
    """Channels ``start:stop`` of an NHWC tensor."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, x):
        return x[..., self.start : self.stop]

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def s2_module(x, filters: int, config, residual: bool, name: str, fused: bool = False, shuffle: bool = True):
    """Grouped 1x1 reduce -> shuffle -> two S2 blocks on the same features -> concat (+ input) -> BN, PReLU.

    Export forms: ``fused`` makes the reduce one grouped ``Conv2D``; ``shuffle=False``
    leaves the shuffle out, for weights that have it folded in (``copy_into_fused``).
    """
    groups = len(config)
    width = filters // groups
    extra = filters - groups * width
    if fused:
        reduced = layers.Conv2D(groups * (width // groups), 1, groups=groups, use_bias=False,
                                name=f"{name}_reduce_grouped")(x)
    else:
        reduced = grouped_pointwise(x, width, groups, f"{name}_reduce")
    if shuffle:
        reduced = ChannelShuffle(groups, name=f"{name}_shuffle")(reduced)
    branches = [
        s2_block(reduced, width + (extra if i == 0 else 0), kernel, pool, f"{name}_s2b{i}")
        for i, (kernel, pool) in enumerate(config)
    ]
    y = layers.Concatenate(name=f"{name}_concat")(branches)
    if residual:
        y = layers.Add(name=f"{name}_add")([x, y])
    return prelu(batch_norm(y, f"{name}_bn"), f"{name}_prelu")


@keras.saving.register_keras_serializable(package=PACKAGE)
class InformationBlockingGate(layers.Layer):
    """``1 - max softmax``: near 1 where the coarse two-class prediction is unsure."""

    def call(self, logits):
        confidence = ops.max(ops.softmax(logits, axis=-1), axis=-1, keepdims=True)
        return 1.0 - confidence


def build_sinet(
    input_size=224,
    widths=(12, 16, 48, 96),
    config=PAPER_CONFIG,
    p: int = 2,
    q: int = 8,
    classes: int = 2,
    information_blocking: bool = True,
    fused_groups: bool = False,
    channel_shuffle: bool = True,
    logits: bool = False,
    name: str = "sinet",
    encoder_weights=None,
) -> keras.Model:
    """Build SINet. ``widths`` = (stem, level-2 downsampler, level-2, level-3) channels.

    ``information_blocking=False`` adds the level-2 detail everywhere (an ablation).
    Export forms (same function once ``copy_into_fused`` fills them): ``fused_groups=True``
    writes each grouped 1x1 convolution as one grouped ``Conv2D`` (TFLite; ONNX cannot
    take Keras's grouped convolutions), and ``channel_shuffle=False`` leaves out the
    shuffle after it, whose permutation the next layers' weights take over.
    """
    size = check_input_size(name, input_size)
    if encoder_weights is not None:
        raise ModelError(f"{name}: has no pretrained encoder (it is trained from scratch); use encoder_weights=None.")
    stem, dim1, dim2, dim3 = widths
    config = tuple(config)
    if len(config) < p + q:
        raise ModelError(f"{name}: config has {len(config)} entries but p + q = {p + q}.")

    # --- input and in-model normalisation ---------------------------------------------
    inputs, x = rgb_input(size)

    # --- encoder level 1 (1/2) and level 2 (1/4) -------------------------------------
    level1 = conv_bn_act(x, stem, 3, strides=2, activation="prelu", name="level1")
    level2_0 = se_separable_cbr(level1, dim1, 3, 2, divide=1, name="level2_down")
    y = level2_0
    for i in range(p):
        y = s2_module(y, dim2, config[i], residual=i > 0, name=f"level2_s2m{i}", fused=fused_groups,
                      shuffle=channel_shuffle)
    level2 = y
    level2_cat = prelu(batch_norm(layers.Concatenate(name="level2_cat")([level2_0, level2]), "level2_cat_bn"), "level2_cat_prelu")

    # --- encoder level 3 (1/8) ---------------------------------------------------------
    level3_0 = se_separable_cbr(level2_cat, dim2, 3, 2, divide=2, name="level3_down")
    y = level3_0
    for i in range(q):
        y = s2_module(y, dim3, config[p + i], residual=i > 0, name=f"level3_s2m{i}", fused=fused_groups,
                      shuffle=channel_shuffle)
    level3_cat = prelu(batch_norm(layers.Concatenate(name="level3_cat")([level3_0, y]), "level3_cat_bn"), "level3_cat_prelu")
    coarse = layers.Conv2D(classes, 1, use_bias=False, name="encoder_classifier")(level3_cat)

    # --- information-blocking decoder ------------------------------------------------
    coarse_up = batch_norm(layers.UpSampling2D(2, interpolation="bilinear", name="decoder_up1")(coarse), "decoder_up1_bn")
    detail = conv_bn_act(level2, classes, 1, activation="prelu", name="decoder_level2")
    if information_blocking:
        gate = InformationBlockingGate(name="decoder_gate")(coarse_up)
        gated = layers.Multiply(name="decoder_block")([detail, gate])
    else:
        gated = detail
    fused = layers.Add(name="decoder_fuse")([gated, coarse_up])
    fused = batch_norm(layers.UpSampling2D(2, interpolation="bilinear", name="decoder_up2")(fused), "decoder_up2_bn")
    fused = layers.UpSampling2D(2, interpolation="bilinear", name="decoder_up3")(fused)
    out = layers.Conv2D(classes, 3, padding="same", use_bias=False, name="decoder_classifier")(fused)

    # --- head: two classes -> one person logit ----------------------------------------
    if classes == 2:
        out = TwoClassToLogit(name="person_logit")(out)
    outputs = probability_head(out, logits)
    return keras.Model(inputs, outputs, name=name)


def copy_into_fused(source: keras.Model, fused: keras.Model) -> keras.Model:
    """Copy a trained SINet's weights into an export form of it (``fused_groups``,
    ``channel_shuffle=False``; see :func:`build_sinet`).

    A grouped kernel ``(1, 1, in / groups, out)`` holds group ``g``'s outputs in columns
    ``g * out / groups ...``: exactly the per-group kernels concatenated. The channel
    shuffle after it only reorders channels, and everything in an S2 block up to its
    pointwise convolution (pooling, depthwise conv, batch norm, PReLU) works channel by
    channel, so the export form drops the shuffle and permutes those layers' weights
    instead (:func:`unshuffled`). The function is unchanged (tested); the TFLite graph
    loses two slices, a concat and a conv per module, and the gather that broke the
    XNNPACK delegate into 11 pieces: SINet at 192 measured 2.84 ms with the gathers and
    1.93 ms without (files timed side by side, 2 threads, this 2-core CPU). The exporter
    uses it.
    """
    per_group, orders = {}, {}
    kept = {layer.name for layer in fused.layers if isinstance(layer, ChannelShuffle)}
    for layer in source.layers:
        if "_reduce_conv" in layer.name:
            stem, index = layer.name.rsplit("_conv", 1)
            per_group.setdefault(stem, {})[int(index)] = layer.get_weights()[0]
        elif isinstance(layer, ChannelShuffle) and layer.name not in kept:  # a shuffle the target leaves out
            orders[layer.name[: -len("_shuffle")]] = shuffle_order(layer.input.shape[-1], layer.groups)
    for layer in fused.layers:
        if layer.name.endswith("_reduce_grouped"):
            parts = per_group.get(layer.name[: -len("_grouped")])
            if not parts:
                raise ModelError(f"{source.name}: has no per-group convolutions for {layer.name}; is it a SINet of the same shape?")
            layer.set_weights([np.concatenate([parts[g] for g in sorted(parts)], axis=-1)])
        elif layer.weights:
            weights = source.get_layer(layer.name).get_weights()
            module, _, rest = layer.name.partition("_s2b")
            suffix = rest.partition("_")[2]
            if module in orders and suffix in ("dw", "dw_bn", "prelu", "pw"):
                weights = unshuffled(weights, orders[module])
            layer.set_weights(weights)
    return fused


def shuffle_order(channels: int, groups: int) -> np.ndarray:
    """:class:`ChannelShuffle`'s permutation: output channel ``j`` is input ``order[j]``."""
    per_group = channels // groups
    return np.array([g * per_group + c for c in range(per_group) for g in range(groups)])


def unshuffled(weights, order) -> list:
    """Per-channel weights that read shuffled channels, rewritten to read them unshuffled.

    A layer whose channel ``j`` read channel ``order[j]`` of the unshuffled tensor gets,
    at position ``i``, what position ``inverse[i]`` had. Kernels (depthwise and 1x1,
    ``(k, k, channels, n)``) carry channels on axis 2; batch-norm vectors and PReLU's
    ``(1, 1, channels)`` slopes on the last axis.
    """
    inverse = np.argsort(order)
    return [np.take(w, inverse, axis=2 if w.ndim == 4 else -1) for w in weights]


def folded_export_form(model: keras.Model, format: str, build) -> keras.Model:
    """The graph the exporter converts for a trained SINet: its registry entry's export rule.

    The channel shuffles (gathers, which broke the XNNPACK delegate into pieces) are
    dropped, the next layers' weights taking over the permutation, and for TFLite each
    grouped 1x1 convolution is also written as one op. ONNX keeps those split: Keras runs
    grouped convolutions on TensorFlow's CPU through an XLA call that tf2onnx cannot
    translate. Same function either way (:func:`copy_into_fused`). ``build`` is the
    registry's builder (passed in, so this module does not import the registry above it).
    A graph already in an export form is returned as it is.
    """
    if not any("_reduce_conv" in layer.name for layer in model.layers):
        return model
    folded = build(model.name, input_size=int(model.input_shape[1]), fused_groups=format == "tflite",
                   channel_shuffle=False)
    return copy_into_fused(model, folded)
