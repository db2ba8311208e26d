"""A run's settings: one validated object; the command line takes its defaults from it."""

from __future__ import annotations

import dataclasses

import pytest

from selfieseg.errors import DatasetError, ModelError
from selfieseg.settings import TrainSettings


def test_the_command_line_defaults_are_the_settings_defaults():
    from selfieseg.cli import build_parser

    args = build_parser().parse_args(["train", "--model", "sinet", "--out", "runs/x"])
    pairs = {"data": ",".join(TrainSettings.default("data")), "epochs": "epochs", "batch_size": "batch_size",
             "lr": "learning_rate", "seed": "seed", "consistency": "consistency", "augment": "augment",
             "composite": "composite", "distill": "distill", "workers": "workers"}
    for flag, setting in pairs.items():
        expected = setting if flag == "data" else TrainSettings.default(setting)
        assert getattr(args, flag) == expected, flag
    settings = TrainSettings(model="sinet", data=args.data, out=args.out)
    assert settings.data == ("pfcn", "picsart") and settings.size == 224


@pytest.mark.parametrize("bad, error, words", [
    (dict(model="resnet"), ModelError, "unknown model"),
    (dict(consistency=-1), ModelError, "consistency"),
    (dict(minutes=0), ModelError, "time budget"),
    (dict(augment="wild"), DatasetError, "unknown augmentation"),
    (dict(composite=1.5), DatasetError, "composite"),
    (dict(augment="none", composite=0.5), DatasetError, "needs an augmentation recipe"),
    (dict(average_from=30, epochs=30), ModelError, "not before the last epoch"),
    (dict(epochs=0), ModelError, "epochs must be >= 1"),
    (dict(validation=1.0), ModelError, "validation"),
    (dict(teacher="portraitnet", distill=2.0), Exception, "distil"),
    (dict(data=()), ModelError, "at least one dataset"),
    (dict(devices="two"), ModelError, "'all' or a whole number"),
])
def test_bad_settings_fail_when_made(bad, error, words, tmp_path):
    with pytest.raises(error, match=words):
        TrainSettings(**{"out": tmp_path / "never", **bad})
    assert not (tmp_path / "never").exists()


def test_keywords_that_are_not_settings_are_builder_options_and_the_record_keeps_the_file_format():
    settings = TrainSettings.from_kwargs(model="mnv2_unet_tiny", epochs=3, alpha=0.35)
    assert settings.options == {"alpha": 0.35} and settings.epochs == 3
    record = settings.record("tensorflow", "a test machine")
    assert set(record) == {"model", "data", "data_weights", "epochs", "input_size", "batch_size", "learning_rate", "validation",
                           "seed", "options", "init_weights", "consistency", "augment", "teacher", "distill",
                           "minutes", "composite", "average_from", "devices", "backend", "machine"}
    assert record["data"] == ["pfcn", "picsart"] and record["input_size"] == 32
    assert {f.name for f in dataclasses.fields(TrainSettings)} >= {"model", "options", "verbose"}


def test_train_takes_settings_or_keywords_not_both(tmp_path):
    from selfieseg.train import train

    with pytest.raises(ModelError, match="not both"):
        train(TrainSettings(model="sinet_tiny", out=tmp_path), epochs=2)
    with pytest.raises(ModelError, match="unknown model 'resnet'"):  # the name may come first, as the chapter passes it
        train("resnet", epochs=2, out=tmp_path / "never")
    with pytest.raises(TypeError):  # and only once
        train("sinet_tiny", model="sinet", out=tmp_path / "never")


def test_data_weights_are_parsed_and_checked_against_the_data():
    settings = TrainSettings(data="pfcn,picsart,voc_person:train", data_weights="voc_person=2,pfcn=0.5")
    assert settings.data_weights == {"voc_person": 2.0, "pfcn": 0.5}
    assert TrainSettings(data_weights="").data_weights is None
    for bad, words in (("ccp=1", "not among the training data"), ("pfcn=x", "name=weight"),
                       ("pfcn", "name=weight"), ("pfcn=-1", ">= 0"), ("pfcn=0,picsart=0", "weight 0")):
        with pytest.raises(ModelError, match=words):
            TrainSettings(data_weights=bad)
