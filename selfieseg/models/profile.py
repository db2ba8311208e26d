"""Cost of a model that its graph alone tells: multiply-accumulates (measured latency: :mod:`selfieseg.profile`).

FLOPs here are multiply-accumulates (MACs) of convolutions and dense layers, the
convention mobile papers use; element-wise ops are ignored (they are a few percent).
"""

from __future__ import annotations

import numpy as np


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass (batch 1), from layer shapes."""
    import keras

    total = 0
    for layer in model.layers:
        if not getattr(layer, "built", False) or not hasattr(layer, "output"):
            continue
        try:
            out = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            k = layer.kernel.shape
            total += int(np.prod(out[1:3])) * int(out[-1]) * k[0] * k[1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            k = layer.kernel.shape  # (kh, kw, out, in)
            inp = layer.input.shape
            total += int(np.prod(inp[1:3])) * k[0] * k[1] * k[2] * k[3]
        elif isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel.shape  # (kh, kw, in / groups, out)
            total += int(np.prod(out[1:3])) * k[0] * k[1] * k[2] * k[3]
        elif isinstance(layer, keras.layers.Dense):
            k = layer.kernel.shape
            total += int(np.prod([d for d in out[1:-1] if d])) * k[0] * k[1]
    return int(total)


__all__ = ["count_macs"]
