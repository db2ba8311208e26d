"""Quantization-aware training: fake-quant layers simulate int8, fine-tune on real data, export."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from selfieseg.models import SPECS, build
from selfieseg.quantize import (
    ActivationFakeQuant,
    QATConv2D,
    QATDepthwiseConv2D,
    copy_back,
    fake_quant_kernel,
    quantization_aware_finetune,
    quantization_aware_model,
)


def test_kernel_rounding_keeps_at_most_255_levels_per_output_channel():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 16, 4)).astype("float32")
    rounded = np.asarray(fake_quant_kernel(kernel, axis=-1))
    for channel in range(4):
        values = rounded[..., channel]
        assert len(np.unique(values)) <= 255
        step = np.abs(kernel[..., channel]).max() / 127
        assert np.abs(values - kernel[..., channel]).max() <= step / 2 + 1e-6
    assert not np.array_equal(rounded, kernel)


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s.tiny])
def test_quantization_aware_copy_keeps_names_and_weights_and_stays_close(name):
    model = build(name)
    qat = quantization_aware_model(model)
    kinds = {type(layer) for layer in qat.layers}
    assert QATConv2D in kinds and ActivationFakeQuant in kinds
    if name != "mnv3_unet_tiny" or any(isinstance(layer, keras.layers.DepthwiseConv2D) for layer in model.layers):
        assert QATDepthwiseConv2D in kinds
    float_names = {layer.name for layer in model.layers}
    assert float_names <= {layer.name for layer in qat.layers}
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    np.testing.assert_array_equal(qat.get_layer(conv.name).get_weights()[0], conv.get_weights()[0])
    assert all(not layer.trainable for layer in qat.layers if isinstance(layer, keras.layers.BatchNormalization))
    x = np.random.default_rng(0).random((2, *model.input_shape[1:])).astype("float32")
    qat(x, training=True)  # sets the activation ranges
    simulated, exact = np.asarray(qat(x)), np.asarray(model(x))
    assert 0 < np.abs(simulated - exact).max() < 0.2


@pytest.mark.slow
def test_finetune_on_real_portraits_moves_weights_back_into_the_float_model(picsart):
    from selfieseg.data.pipeline import SegmentationSequence

    model = build("sinet_tiny")
    tuned = [w for layer in model.layers if not isinstance(layer, keras.layers.BatchNormalization) for w in layer.trainable_weights]
    before = [np.array(w) for w in tuned]
    data = SegmentationSequence(picsart, batch_size=4, size=32, augment=None, indices=range(16), valid_channel=True)
    history = quantization_aware_finetune(model, data, epochs=1, steps_per_epoch=4, learning_rate=1e-3, verbose=0)
    assert np.isfinite(history["loss"]).all() and "person_iou" in history
    changed = sum(not np.array_equal(a, np.array(w)) for a, w in zip(before, tuned))
    assert changed >= 0.9 * len(tuned), (changed, len(tuned))  # batch norm stays frozen, the rest moved


@pytest.mark.slow
def test_a_finetune_at_rate_zero_changes_no_weight_so_qat_starts_from_post_training_int8(picsart):
    """QAT can only lose to post-training int8 through what its fine-tune moves: at rate 0 it
    moves nothing (batch norm's statistics included), so the rate is the one dial, and its
    default is the small one the measurements chose."""
    import inspect

    from selfieseg.data.pipeline import SegmentationSequence
    from selfieseg.quantize import QAT_LEARNING_RATE

    assert inspect.signature(quantization_aware_finetune).parameters["learning_rate"].default == QAT_LEARNING_RATE <= 1e-5
    model = build("sinet_tiny")
    before = [np.array(w) for w in model.weights]
    data = SegmentationSequence(picsart, batch_size=4, size=32, augment=None, indices=range(16), valid_channel=True)
    quantization_aware_finetune(model, data, epochs=1, steps_per_epoch=3, learning_rate=0.0, verbose=0)
    for a, w in zip(before, model.weights):
        np.testing.assert_array_equal(a, np.array(w), err_msg=w.path)


def test_copy_back_counts_layers_and_ignores_unrelated_ones():
    a, b = build("sinet_tiny"), build("mnv2_unet_tiny")
    assert copy_back(a, build("sinet_tiny")) > 10
    assert copy_back(a, b) < 3  # the only shared names are generic ones (input rescaling)
