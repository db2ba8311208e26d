"""The model contract, for every architecture: tiny variants in seconds, full sizes marked slow."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import selfieseg
from selfieseg.errors import ModelError
from selfieseg.models import build

FULL = ["mnv2_unet", "mnv3_unet", "portraitnet", "sinet"]
TINY = [f"{name}_tiny" for name in FULL]


def _input(model, seed=0):
    return np.random.default_rng(seed).random((2, *model.input_shape[1:])).astype(np.float32)


@pytest.mark.parametrize("name", TINY)
def test_output_is_a_probability_at_input_resolution(name):
    model = selfieseg.load(name, weights=None)
    x = _input(model)
    y = model.predict(x, verbose=0)
    assert y.shape == (2, 32, 32, 1)
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert model.input_shape[-1] == (4 if name.startswith("portraitnet") else 3)


@pytest.mark.parametrize("name", TINY)
def test_logits_model_shares_weights_with_the_probability_model(name):
    probability = selfieseg.load(name, weights=None)
    logits = selfieseg.load(name, weights=None, logits=True)
    logits.set_weights(probability.get_weights())
    x = _input(probability)
    z = logits.predict(x, verbose=0)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), probability.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", TINY)
def test_gradients_reach_every_trainable_weight(name):
    model = selfieseg.load(name, weights=None, logits=True)
    x = tf.constant(_input(model))
    target = tf.constant((np.random.default_rng(1).random((2, 32, 32, 1)) > 0.5).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(target, model(x, training=True), from_logits=True)
        loss = tf.reduce_mean(loss)
    grads = tape.gradient(loss, model.trainable_weights)
    disconnected = [w.path for w, g in zip(model.trainable_weights, grads) if g is None]
    assert disconnected == [], f"no gradient path reaches {disconnected[:5]}"
    # Exactly zero is legitimate only for a batch-norm shift that a later conv + batch norm
    # cancels (at the tiny variants' 1x1 bottleneck the shift is exactly constant).
    zero = [w.path for w, g in zip(model.trainable_weights, grads) if not np.any(g.numpy())]
    assert all(path.endswith("_BN/beta") for path in zero), zero


@pytest.mark.parametrize("name", TINY)
def test_config_and_keras_file_round_trip(name, tmp_path):
    model = selfieseg.load(name, weights=None)
    x = _input(model)
    expected = model.predict(x, verbose=0)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(x, verbose=0), expected)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    model.save(tmp_path / "m.keras")
    reloaded = selfieseg.load(name, weights=tmp_path / "m.keras")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
    model.save_weights(tmp_path / "m.weights.h5")
    again = selfieseg.load(name, weights=tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(again.predict(x, verbose=0), expected)


def test_layer_names_do_not_depend_on_what_was_built_before():
    first = [layer.name for layer in build("mnv3_unet_tiny").layers]
    build("mnv2_unet_tiny")
    second = [layer.name for layer in build("mnv3_unet_tiny").layers]
    assert first == second


def test_weights_load_at_another_input_size(tmp_path):
    model = selfieseg.load("sinet_tiny", weights=None)
    model.save_weights(tmp_path / "s.weights.h5")
    bigger = selfieseg.load("sinet_tiny", weights=tmp_path / "s.weights.h5", input_size=64)
    assert bigger.output_shape == (None, 64, 64, 1)
    for a, b in zip(model.get_weights(), bigger.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- bad input --------------------------------------------------------------------------
def test_unknown_name_lists_valid_ones():
    with pytest.raises(ModelError, match="valid names: mnv2_unet, mnv3_unet, portraitnet, sinet"):
        selfieseg.load("unet")


@pytest.mark.parametrize("size", [100, 16, (224, 200)])
def test_unsupported_input_size_is_explained(size):
    with pytest.raises(ModelError, match="multiple of 32"):
        selfieseg.load("sinet", weights=None, input_size=size)


def test_weights_of_another_architecture_and_corrupt_files(tmp_path):
    selfieseg.load("sinet_tiny", weights=None).save_weights(tmp_path / "sinet.weights.h5")
    with pytest.raises(ModelError, match="another architecture"):
        selfieseg.load("mnv2_unet_tiny", weights=tmp_path / "sinet.weights.h5")
    (tmp_path / "broken.weights.h5").write_bytes(b"\x89HDF\r\n garbage")
    with pytest.raises(ModelError, match="corrupt"):
        selfieseg.load("sinet_tiny", weights=tmp_path / "broken.weights.h5")
    selfieseg.load("sinet_tiny", weights=None).save(tmp_path / "s.keras")
    with pytest.raises(ModelError, match="holds a 'sinet_tiny' model"):
        selfieseg.load("mnv2_unet_tiny", weights=tmp_path / "s.keras")
    with pytest.raises(ModelError, match="not found"):
        selfieseg.load("sinet_tiny", weights=tmp_path / "missing.weights.h5")


def test_missing_shipped_weights_say_what_to_do():
    from selfieseg.models import shipped_weights_path

    if shipped_weights_path("sinet_tiny").exists():
        pytest.skip("tiny weights are shipped")
    with pytest.raises(ModelError, match="weights=None"):
        selfieseg.load("sinet_tiny")


def test_encoder_weights_that_are_not_here_fail_loudly_with_choices():
    # width 0.35 is in no cache here and there is no internet: never a silent random init
    with pytest.raises(ModelError, match="encoder_weights=None"):
        selfieseg.load("mnv2_unet_tiny", weights=None, encoder_weights="imagenet")


# --- full-size models ---------------------------------------------------------------------
def test_list_models_reports_sizes_and_sinet_matches_the_paper(capsys):
    rows = {row["name"]: row for row in selfieseg.list_models()}
    assert list(rows) == FULL
    for row in rows.values():
        paper = f"{row['paper_params']:,}" if row["paper_params"] else "n/a"
        print(f"{row['name']}: {row['params']:,} trainable parameters (paper: {paper})")
    assert abs(rows["sinet"]["params"] - 86_900) / 86_900 <= 0.03
    assert abs(rows["portraitnet"]["params"] - 2_100_000) / 2_100_000 <= 0.10
    assert rows["mnv2_unet"]["input_size"] == 128 and rows["portraitnet"]["channels"] == 4


def test_imagenet_encoder_loads_offline_from_the_keras_cache():
    import os

    from selfieseg.models.common import keras_cache_dir

    if not any(keras_cache_dir().glob("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_*_no_top.h5")):
        if os.environ.get("CI"):
            pytest.fail(f"CI sets KERAS_HOME to ../shared/keras, but {keras_cache_dir()} has no MobileNetV2 weights")
        pytest.skip("ImageNet MobileNetV2 1.0 weights are not in KERAS_HOME")
    pretrained = selfieseg.load("portraitnet", weights=None, encoder_weights="imagenet", input_size=128)
    reference = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights="imagenet")
    np.testing.assert_array_equal(pretrained.get_layer("block_5_project").get_weights()[0], reference.get_layer("block_5_project").get_weights()[0])
    first = pretrained.get_layer("Conv1").get_weights()[0]
    assert first.shape[2] == 4 and not first[:, :, 3].any()  # the prior channel starts at zero
    np.testing.assert_array_equal(first[:, :, :3], reference.get_layer("Conv1").get_weights()[0])

def test_narrow_encoder_starts_from_the_wide_imagenet_weights_sliced():
    import os

    from selfieseg.models.common import keras_cache_dir

    if not any(keras_cache_dir().glob("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_*_no_top.h5")):
        if os.environ.get("CI"):
            pytest.fail(f"CI sets KERAS_HOME to ../shared/keras, but {keras_cache_dir()} has no MobileNetV2 weights")
        pytest.skip("ImageNet MobileNetV2 1.0 weights are not in KERAS_HOME")
    # width 0.35 has no ImageNet weights here; its layers get the leading channels of width 1.0's
    narrow = selfieseg.load("mnv2_unet_tiny", weights=None, encoder_weights="imagenet_sliced")
    reference = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights="imagenet")
    checked = 0
    for layer in narrow.layers:
        if layer.name.startswith(("Conv1", "expanded_conv", "block_")) and layer.weights:
            for mine, wide in zip(layer.get_weights(), reference.get_layer(layer.name).get_weights()):
                assert all(m <= w for m, w in zip(mine.shape, wide.shape))
                np.testing.assert_array_equal(mine, wide[tuple(slice(0, n) for n in mine.shape)])
            checked += 1
    assert checked > 90
    # the copy is consistent along the chain: the first conv's 8 filters see what width 1.0's first 8 see
    image = np.random.default_rng(0).random((1, 32, 32, 3)).astype(np.float32) * 2 - 1
    ours = keras.Model(narrow.get_layer("Conv1").input, narrow.get_layer("Conv1").output)(image)
    theirs = keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)
    theirs.build((None, 32, 32, 3))
    theirs.set_weights(reference.get_layer("Conv1").get_weights())
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs(image))[..., : ours.shape[-1]], atol=1e-5)


def test_sliced_encoder_needs_rgb_and_unknown_sources_are_refused():
    with pytest.raises(ModelError, match="3-channel"):
        selfieseg.load("portraitnet_tiny", weights=None, encoder_weights="imagenet_sliced")
    with pytest.raises(ModelError, match="imagenet_sliced"):
        selfieseg.load("mnv2_unet_tiny", weights=None, encoder_weights="coco")


# TFLite and ONNX parity of all four full models: tests/test_export.py


# Timing (tflite_latencies, time_together) is tested with a fake clock: tests/test_profile.py
