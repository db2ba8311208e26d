"""MobileNetV2 U-Net: the seed project's fast 128x128 portrait model.

A width-0.5 MobileNetV2 encoder (ImageNet-pretrainable) feeds a U-Net decoder of
stride-2 transposed convolutions. Skips come from the encoder's expand-ReLU taps:
those are the widest activations at each resolution, before the linear bottleneck
throws information away. Dropout in the decoder fights over-fitting on the small
portrait datasets this model is trained on.
"""

from __future__ import annotations

import keras
from keras import layers

from selfieseg.models.common import check_input_size, mobilenet_v2_encoder, probability_head, rgb_input

#: encoder layer tapped at each stride (1/2 .. 1/16); 1/32 is the encoder's output
SKIP_TAPS = ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu")
BOTTLENECK = "block_16_project"


def upsample_block(x, skip, filters: int, dropout: float, name: str):
    """Transposed conv x2 -> BN -> ReLU -> concat skip -> conv -> BN -> ReLU -> dropout."""
    x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", use_bias=False, name=f"{name}_up")(x)
    x = layers.BatchNormalization(name=f"{name}_up_bn")(x)
    x = layers.ReLU(name=f"{name}_up_relu")(x)
    if skip is not None:
        x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def build_mnv2_unet(
    input_size=128,
    alpha: float = 0.5,
    decoder_filters=(96, 64, 48, 32, 16),
    dropout: float = 0.2,
    encoder_weights=None,
    logits: bool = False,
    name: str = "mnv2_unet",
) -> keras.Model:
    """Build the MobileNetV2 U-Net. ``decoder_filters`` go from 1/16 up to full resolution."""
    size = check_input_size(name, input_size)

    # --- input and in-model normalisation ---------------------------------------------
    inputs, x = rgb_input(size)

    # --- encoder --------------------------------------------------------------------
    encoder = mobilenet_v2_encoder(x, alpha, encoder_weights)
    skips = [encoder.get_layer(tap).output for tap in SKIP_TAPS]
    x = encoder.get_layer(BOTTLENECK).output

    # --- decoder: 1/32 -> 1/16 -> 1/8 -> 1/4 -> 1/2 -> 1/1 ----------------------------
    for level, (filters, skip) in enumerate(zip(decoder_filters, [*reversed(skips), None])):
        x = upsample_block(x, skip, filters, dropout if level < len(decoder_filters) - 1 else 0.0, f"decoder_{level}")

    # --- head -----------------------------------------------------------------------
    x = layers.Conv2D(1, 1, name="head_conv")(x)
    outputs = probability_head(x, logits)
    return keras.Model(inputs, outputs, name=name)
