"""The registry owns each architecture's rules; a fifth architecture is one builder plus one entry."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import selfieseg
from selfieseg.errors import ModelError
from selfieseg.models import SPECS, ModelSpec, register, spec_of


def build_two_conv(input_size=32, width: int = 4, encoder_weights=None, logits: bool = False, name="two_conv"):
    """A deliberately small architecture written outside the package, as a user's fifth one would be."""
    from selfieseg.models.common import conv_bn_act, probability_head

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = conv_bn_act(inputs, width, name="stem")
    x = keras.layers.Conv2D(1, 1, name="head")(x)
    return keras.Model(inputs, probability_head(x, logits), name=name)


@pytest.fixture
def fifth():
    spec = register(ModelSpec("two_conv", build_two_conv, 32, options=dict(width=4), tiny=True,
                              description="two convolutions (a test architecture)"))
    yield spec
    del SPECS["two_conv"]


@pytest.mark.slow
def test_a_registered_architecture_trains_exports_and_serves_like_the_four(fifth, tmp_path, data_root,
                                                                        training_cache):
    from selfieseg.export import export
    from selfieseg.inference import open_segmenter
    from selfieseg.train import train

    assert spec_of("two_conv") is fifth and "two_conv" in [row["name"] for row in selfieseg.list_models(True)]
    state = train(model="two_conv", data=("picsart",), epochs=1, steps_per_epoch=2, batch_size=4, out=tmp_path / "run",
                  cache_dir=training_cache, root=data_root, verbose=0)
    assert state["epoch"] == 1 and state["settings"]["options"] == {}
    model = selfieseg.load("two_conv", weights=tmp_path / "run" / "best.weights.h5")
    path = export(model, tmp_path / "two_conv.tflite")
    image = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    from_file, from_keras = open_segmenter(path).predict(image), open_segmenter(model).predict(image)
    assert from_file.shape == (40, 30) and np.abs(from_file - from_keras).max() < 1e-4
    with pytest.raises(ModelError, match="already registered"):
        register(fifth)


def test_the_rules_live_in_the_entries():
    from selfieseg.train import auto_encoder_weights, training_objective

    assert spec_of("portraitnet").boundary_head and spec_of("portraitnet_tiny").boundary_head
    assert spec_of("sinet").boundary_emphasis == 2.0 and spec_of("sinet").export_form is not None
    assert spec_of("mnv2_unet").export_form is None
    outputs, losses, _, _, monitor = training_objective(spec_of("portraitnet"))
    assert outputs == ("mask", "boundary") and set(losses) == {"mask", "boundary"} and monitor == "val_mask_person_iou"
    outputs, losses, _, _, monitor = training_objective(spec_of("sinet"), consistency=1.0)
    assert outputs == ("mask", "twin_mask", "consistency") and monitor == "val_mask_person_iou"
    assert training_objective(spec_of("sinet"))[1].boundary_emphasis == 2.0
    assert training_objective(spec_of("mnv3_unet"))[1].boundary_emphasis == 0.0
    assert auto_encoder_weights("portraitnet", {"alpha": 0.5}) is None
    # the demo's preference and video's speed order come from the entries too
    from selfieseg.models import fastest_shipped_model, shipped_models, video_shipped_model

    assert shipped_models() == ["portraitnet", "mnv2_unet", "mnv3_unet", "sinet"]
    assert fastest_shipped_model() == "sinet"
    assert shipped_models(order="video") == ["portraitnet", "sinet", "mnv2_unet", "mnv3_unet"]
    assert video_shipped_model() == "portraitnet"
    with pytest.raises(ModelError, match="'accuracy', 'speed' or 'video'"):
        shipped_models(order="size")
    with pytest.raises(ModelError, match="unknown model"):
        spec_of("resnet")


def test_loading_a_shipped_model_checks_its_recorded_builder_options():
    import json

    from selfieseg.models import WEIGHTS_DIR, builder_options

    for name in ("mnv2_unet", "mnv3_unet", "portraitnet", "sinet"):
        assert json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["options"] == builder_options(name)
    with pytest.raises(ModelError, match=r"built with options \{'alpha': 0.5\}"):
        selfieseg.load("mnv2_unet", alpha=0.35)
    assert selfieseg.load("mnv2_unet", weights=None, alpha=0.35).count_params() > 0  # untrained: any width
