"""MobileNetV3 U-Net: the seed project's 224x224 model on a MobileNetV3-Large encoder.

MobileNetV3 adds squeeze-and-excitation and hard-swish to MobileNetV2's inverted
residuals and was found by architecture search for phone latency; MediaPipe's own
selfie segmenter is built on it. The decoder is the same transposed-convolution U-Net
as :mod:`selfieseg.models.mnv2_unet`. Keras publishes ImageNet weights only for widths
0.75 and 1.0, so width 0.5 trains from scratch (or is distilled).
"""

from __future__ import annotations

import keras

from selfieseg.errors import ModelError
from selfieseg.models.common import (
    check_input_size,
    imagenet_encoder_error,
    make_names_deterministic,
    probability_head,
    rgb_input,
    taps_by_stride,
)
from selfieseg.models.mnv2_unet import upsample_block


def build_mnv3_unet(
    input_size=224,
    alpha: float = 0.5,
    decoder_filters=(96, 64, 48, 32, 16),
    dropout: float = 0.2,
    encoder_weights=None,
    minimalistic: bool = False,
    logits: bool = False,
    name: str = "mnv3_unet",
) -> keras.Model:
    """Build the MobileNetV3-Large U-Net; skips are the last activations at each stride."""
    size = check_input_size(name, input_size)
    if encoder_weights not in (None, "imagenet"):
        raise ModelError(f"encoder_weights must be None or 'imagenet', got {encoder_weights!r}.")

    # --- input and in-model normalisation ---------------------------------------------
    inputs, x = rgb_input(size)

    # --- encoder (Keras's MobileNetV3-Large, its own preprocessing off) ---------------
    try:
        encoder = keras.applications.MobileNetV3Large(
            input_tensor=x,
            alpha=alpha,
            minimalistic=minimalistic,
            include_top=False,
            weights=encoder_weights,
            include_preprocessing=False,
        )
    except ValueError as exc:
        raise ModelError(
            f"{name}: ImageNet weights for MobileNetV3-Large width {alpha} are not published "
            f"({exc}). Use encoder_weights=None, or alpha=0.75/1.0 where there is internet."
        ) from None
    except Exception as exc:
        raise imagenet_encoder_error(f"MobileNetV3-Large width {alpha}", "weights_mobilenet_v3_large_*.h5", exc) from None
    make_names_deterministic(encoder, "encoder")
    taps = taps_by_stride(encoder, size[0])
    skips = [taps[s] for s in (2, 4, 8, 16)]
    x = taps[32]

    # --- decoder: 1/32 -> ... -> 1/1 -------------------------------------------------
    for level, (filters, skip) in enumerate(zip(decoder_filters, [*reversed(skips), None])):
        x = upsample_block(x, skip, filters, dropout if level < len(decoder_filters) - 1 else 0.0, f"decoder_{level}")

    # --- head -----------------------------------------------------------------------
    x = keras.layers.Conv2D(1, 1, name="head_conv")(x)
    outputs = probability_head(x, logits)
    return keras.Model(inputs, outputs, name=name)
