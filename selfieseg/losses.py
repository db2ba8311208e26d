"""Segmentation losses, each as a function and as a serialisable ``keras.losses.Loss``.

Targets may carry a second channel, the *valid* weight (0 on ignored pixels such as
VOC's void border): ``y_true[..., 0]`` is the mask, ``y_true[..., 1]`` the weight.
Every loss here honours it. Predictions are logits unless ``from_logits=False``.
"""

from __future__ import annotations

import keras
from keras import ops

EPSILON = 1e-6


def split_target(y_true):
    """(mask, valid) from a 1- or 2-channel target."""
    y_true = ops.cast(y_true, "float32")
    if y_true.shape[-1] == 2:
        return y_true[..., 0:1], y_true[..., 1:2]
    return y_true, ops.ones_like(y_true)


def _probability(y_pred, from_logits):
    return ops.sigmoid(y_pred) if from_logits else ops.clip(y_pred, EPSILON, 1 - EPSILON)


def _weighted_mean(values, weight):
    axes = tuple(range(1, len(values.shape)))
    return ops.sum(values * weight, axis=axes) / (ops.sum(weight, axis=axes) + EPSILON)


def binary_crossentropy(y_true, y_pred, from_logits: bool = True, pixel_weight=None):
    """Per-image mean BCE over valid pixels (``pixel_weight`` adds e.g. boundary emphasis)."""
    mask, valid = split_target(y_true)
    y_pred = ops.cast(y_pred, "float32")
    if from_logits:
        # log(1 + exp(-|z|)) + max(z, 0) - z * y: stable for any logit
        values = ops.maximum(y_pred, 0) - y_pred * mask + ops.log1p(ops.exp(-ops.abs(y_pred)))
    else:
        p = _probability(y_pred, False)
        values = -(mask * ops.log(p) + (1 - mask) * ops.log(1 - p))
    weight = valid if pixel_weight is None else valid * pixel_weight
    return _weighted_mean(values, weight)


def dice_loss(y_true, y_pred, from_logits: bool = True, smooth: float = 1.0):
    """1 - soft Dice per image, over valid pixels: insensitive to how big the person is."""
    mask, valid = split_target(y_true)
    p = _probability(ops.cast(y_pred, "float32"), from_logits) * valid
    mask = mask * valid
    axes = tuple(range(1, len(p.shape)))
    intersection = ops.sum(p * mask, axis=axes)
    total = ops.sum(p, axis=axes) + ops.sum(mask, axis=axes)
    return 1.0 - (2.0 * intersection + smooth) / (total + smooth)


def focal_loss(y_true, y_pred, from_logits: bool = True, gamma: float = 2.0, alpha: float | None = None):
    """Focal loss (Lin et al.): BCE down-weighted where the prediction is already confident."""
    mask, valid = split_target(y_true)
    y_pred = ops.cast(y_pred, "float32")
    p = _probability(y_pred, from_logits)
    p_t = mask * p + (1 - mask) * (1 - p)
    if from_logits:
        ce = ops.maximum(y_pred, 0) - y_pred * mask + ops.log1p(ops.exp(-ops.abs(y_pred)))
    else:
        ce = -ops.log(ops.clip(p_t, EPSILON, 1.0))
    values = ops.power(1.0 - p_t, gamma) * ce
    if alpha is not None:
        values = values * (mask * alpha + (1 - mask) * (1 - alpha))
    return _weighted_mean(values, valid)


def mask_edges(mask, width: int = 3):
    """A band of ``width`` pixels around the mask boundary (dilation minus erosion), in keras.ops."""
    dilated = ops.max_pool(mask, pool_size=width, strides=1, padding="same")
    eroded = -ops.max_pool(-mask, pool_size=width, strides=1, padding="same")
    return ops.cast(dilated - eroded > 0.5, "float32")


def boundary_loss(y_true, boundary_pred, from_logits: bool = True, width: int = 3, gamma: float = 2.0):
    """PortraitNet's boundary loss: focal loss of the boundary head against the mask's edges."""
    mask, valid = split_target(y_true)
    edges = mask_edges(mask, width)
    return focal_loss(ops.concatenate([edges, valid], axis=-1), boundary_pred, from_logits, gamma)


def consistency_loss(teacher, student, from_logits: bool = True, temperature: float = 1.0, valid=None):
    """PortraitNet's consistency loss: KL(teacher || student) between predictions on an
    image and its texture-augmented twin; pixel-wise for the two classes (person, not).

    ``valid`` (same shape, 0 on ignored pixels) restricts the mean to the valid pixels.
    """
    if from_logits:
        p = ops.sigmoid(teacher / temperature)
        q = ops.sigmoid(student / temperature)
    else:
        p, q = teacher, student
    p = ops.clip(p, EPSILON, 1 - EPSILON)
    q = ops.clip(q, EPSILON, 1 - EPSILON)
    kl = p * ops.log(p / q) + (1 - p) * ops.log((1 - p) / (1 - q))
    if valid is not None:
        return _weighted_mean(kl, ops.cast(valid, kl.dtype)) * temperature**2
    axes = tuple(range(1, len(kl.shape)))
    return ops.mean(kl, axis=axes) * temperature**2


def boundary_weight(mask, width: int = 5, emphasis: float = 2.0):
    """SINet's boundary refinement: pixels near the mask edge weigh ``1 + emphasis``."""
    return 1.0 + emphasis * mask_edges(mask, width)


@keras.saving.register_keras_serializable(package="selfieseg")
class SegmentationLoss(keras.losses.Loss):
    """A weighted sum of BCE, Dice and focal loss (plus SINet's boundary weighting on BCE).

    ``SegmentationLoss(bce=1, dice=1)`` is the default recipe; every term honours the
    valid channel of the target.
    """

    def __init__(self, bce=1.0, dice=1.0, focal=0.0, boundary_emphasis=0.0, from_logits=True, name="segmentation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.bce, self.dice, self.focal = bce, dice, focal
        self.boundary_emphasis = boundary_emphasis
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        total = 0.0
        if self.bce:
            weight = None
            if self.boundary_emphasis:
                weight = boundary_weight(split_target(y_true)[0], emphasis=self.boundary_emphasis)
            total = total + self.bce * binary_crossentropy(y_true, y_pred, self.from_logits, weight)
        if self.dice:
            total = total + self.dice * dice_loss(y_true, y_pred, self.from_logits)
        if self.focal:
            total = total + self.focal * focal_loss(y_true, y_pred, self.from_logits)
        return total

    def get_config(self):
        return {
            **super().get_config(),
            "bce": self.bce,
            "dice": self.dice,
            "focal": self.focal,
            "boundary_emphasis": self.boundary_emphasis,
            "from_logits": self.from_logits,
        }


@keras.saving.register_keras_serializable(package="selfieseg")
class BoundaryLoss(keras.losses.Loss):
    """Serialisable :func:`boundary_loss` for PortraitNet's boundary output."""

    def __init__(self, width=3, gamma=2.0, from_logits=True, name="boundary_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.width, self.gamma, self.from_logits = width, gamma, from_logits

    def call(self, y_true, y_pred):
        return boundary_loss(y_true, y_pred, self.from_logits, self.width, self.gamma)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "gamma": self.gamma, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="selfieseg")
class ConsistencyLoss(keras.losses.Loss):
    """:func:`consistency_loss` for a two-channel prediction: (image, texture twin) logits.

    Training with a twin (``selfieseg.train.train(consistency=w)``) concatenates the
    model's logits on an image and on its texture-augmented twin into one output; this
    loss reads that output. The image's prediction is the teacher and gets no gradient
    from this term, so the twin is pulled towards it, not the other way round. The
    target only supplies the valid channel (ignored pixels do not count).
    """

    def __init__(self, temperature=1.0, from_logits=True, name="consistency_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature, self.from_logits = temperature, from_logits

    def call(self, y_true, y_pred):
        _, valid = split_target(y_true)
        teacher = ops.stop_gradient(y_pred[..., 0:1])
        return consistency_loss(teacher, y_pred[..., 1:2], self.from_logits, self.temperature, valid)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "from_logits": self.from_logits}
