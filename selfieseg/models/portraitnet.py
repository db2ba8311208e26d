"""PortraitNet (Zhang et al., Computers & Graphics 2019): a video-ready portrait model.

Three ideas beyond a plain U-Net:

* a **4-channel input**: RGB plus the previous frame's mask, so a video's last
  prediction guides the next one (training feeds a deformed ground truth instead);
* a light **decoder of depthwise residual blocks** whose outputs are **added** to the
  encoder features of the same resolution (cheaper than concatenation);
* an auxiliary **boundary head** trained with a focal loss on mask edges; it is only
  used in training, so it costs nothing at inference.
"""

from __future__ import annotations

import keras
from keras import layers

from selfieseg.models.common import check_input_size, mobilenet_v2_encoder, probability_head, rgb_input

#: encoder outputs added to the decoder at 1/16, 1/8, 1/4, 1/2 (the last block of each stage)
SKIP_TAPS = ("block_12_add", "block_5_add", "block_2_add", "expanded_conv_project_BN")
BOTTLENECK = "block_16_project_BN"


def depthwise_residual_block(x, filters: int, name: str):
    """PortraitNet's D-block: two depthwise-separable convs in the main path, a 1x1 shortcut."""
    shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_shortcut")(x)
    shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    y = x
    for step, width in enumerate((x.shape[-1], filters)):
        y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw{step}")(y)
        y = layers.BatchNormalization(name=f"{name}_dw{step}_bn")(y)
        y = layers.ReLU(name=f"{name}_dw{step}_relu")(y)
        y = layers.Conv2D(filters if step else width, 1, use_bias=False, name=f"{name}_pw{step}")(y)
        y = layers.BatchNormalization(name=f"{name}_pw{step}_bn")(y)
        if step == 0:
            y = layers.ReLU(name=f"{name}_pw{step}_relu")(y)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def build_portraitnet(
    input_size=224,
    alpha: float = 1.0,
    decoder_filters=None,
    encoder_weights=None,
    with_boundary: bool = False,
    skip_mode: str = "add",
    logits: bool = False,
    name: str = "portraitnet",
) -> keras.Model:
    """Build PortraitNet. Input: (H, W, 4) = RGB in [0, 1] and the previous mask in [0, 1].

    ``decoder_filters`` defaults to the encoder's own stage widths (so skips can be
    added) plus 8 channels at full resolution. ``with_boundary=True`` adds the
    ``boundary`` output used by the boundary loss during training.
    """
    size = check_input_size(name, input_size)

    # --- input: RGB + previous-frame prior, normalised inside the model --------------
    inputs, x = rgb_input(size, channels=4, name="image_and_prior")

    # --- encoder --------------------------------------------------------------------
    encoder = mobilenet_v2_encoder(x, alpha, encoder_weights)
    skips = [encoder.get_layer(tap).output for tap in SKIP_TAPS]
    x = encoder.get_layer(BOTTLENECK).output
    if decoder_filters is None:
        decoder_filters = tuple(int(s.shape[-1]) for s in skips) + (8,)

    # --- decoder: D-block, transposed conv x2, add the encoder feature ----------------
    for level, filters in enumerate(decoder_filters):
        x = depthwise_residual_block(x, filters, f"decoder_{level}")
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False, name=f"decoder_{level}_up")(x)
        if level < len(skips):
            skip = skips[level]
            if skip_mode == "concat":
                x = layers.Concatenate(name=f"decoder_{level}_skip_concat")([x, skip])
                continue
            if skip.shape[-1] != filters:  # a custom decoder width: project the skip to match
                skip = layers.Conv2D(filters, 1, use_bias=False, name=f"decoder_{level}_skip_proj")(skip)
            x = layers.Add(name=f"decoder_{level}_skip_add")([x, skip])

    # --- heads: mask (always) and boundary (training only) ----------------------------
    mask = probability_head(layers.Conv2D(1, 1, name="head_conv")(x), logits)
    if not with_boundary:
        return keras.Model(inputs, mask, name=name)
    boundary = probability_head(layers.Conv2D(1, 1, name="boundary_conv")(x), logits, name="boundary")
    return keras.Model(inputs, {"mask": mask, "boundary": boundary}, name=name)
