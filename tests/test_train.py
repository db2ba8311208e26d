"""Training: checkpoints, resume after a stop, corrupt checkpoints, the benchmark split refused."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

import selfieseg
from selfieseg.errors import DatasetError, ModelError
from selfieseg.models import build
from selfieseg.train import cosine_schedule, train, training_readers


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_run):
    """The session's tiny run, copied: tests here resume it."""
    shared, kwargs, first = tiny_run
    out = Path(shutil.copytree(shared, tmp_path_factory.mktemp("run") / "run"))
    return out, {**kwargs, "out": out}, first


@pytest.mark.slow
def test_checkpoints_every_epoch_and_resumes_where_it_stopped(run):
    out, kwargs, first = run
    assert first["epoch"] == 2 and 0 <= first["best"] <= 1
    for name in ("last.weights.h5", "best.weights.h5", "state.json", "log.csv"):
        assert (out / name).exists(), name
    second = train(epochs=3, resume=True, **kwargs)
    assert second["epoch"] == 3 and second["seconds"] > first["seconds"]
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    with pytest.raises(ModelError, match="resume=True"):
        train(epochs=4, **kwargs)


def test_best_weights_load_into_the_inference_model(run):
    import selfieseg

    out, _, _ = run
    model = selfieseg.load("sinet_tiny", weights=out / "best.weights.h5")
    assert model.output_shape == (None, 32, 32, 1)


def test_corrupt_checkpoint_is_reported_with_its_path(run, tmp_path):
    out, kwargs, _ = run
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "state.json").write_text(json.dumps({"epoch": 1, "best": 0.1}))
    (broken / "last.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(ModelError, match="broken/last.weights.h5"):
        train(epochs=3, resume=True, **{**kwargs, "out": broken})


def test_the_benchmark_split_is_refused_and_schedule_decays(data_root):
    with pytest.raises(DatasetError, match="never trained on"):
        training_readers(["pfcn:test"], data_root)
    readers = training_readers(["pfcn"], data_root)
    assert len(readers[0]) == 1290  # PFCN's train list only
    # the committed held-out lists of VOC person and CCP, and the evaluation-only video
    for name, words in (("voc_person:test", "voc_person test split"), ("ccp:test", "ccp test split"),
                        ("ccp:all", "held-out test split"), ("davis", "davis")):
        with pytest.raises(DatasetError, match=words):
            training_readers(["picsart", name], data_root)
    voc, ccp = training_readers(["voc_person", "ccp"], data_root)
    assert (len(voc), len(ccp)) == (594 - 83, 854 - 137)  # everything but the committed test lists
    rate = cosine_schedule(1.0, 10, warmup=1)
    assert rate(0) < rate(1) and rate(1) == pytest.approx(1.0) and rate(9) < 0.1


def test_auto_encoder_start_and_quick_batch_norm():
    from selfieseg.train import auto_encoder_weights, follow_quickly

    assert auto_encoder_weights("portraitnet", {}) == "imagenet"
    assert auto_encoder_weights("mnv2_unet", {}) == "imagenet_sliced"
    assert auto_encoder_weights("mnv2_unet", {"alpha": 1.0}) == "imagenet"
    assert auto_encoder_weights("mnv3_unet", {}) is None and auto_encoder_weights("sinet", {}) is None
    model = selfieseg.load("mnv3_unet_tiny", weights=None)
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert any(layer.momentum > 0.99 for layer in norms)  # Keras's MobileNetV3 uses 0.999
    follow_quickly(model)
    assert norms and all(layer.momentum <= 0.99 for layer in norms)
    # and the cap is what training uses: the running mean moves 1% of the way per step
    layer = norms[0]
    before = np.asarray(layer.moving_mean).copy()
    x = np.random.default_rng(0).random((2, *model.input_shape[1:])).astype(np.float32)
    sub = keras.Model(model.input, layer.output)
    sub(x, training=True)
    batch_mean = np.asarray(keras.ops.mean(keras.Model(model.input, layer.input)(x), axis=(0, 1, 2)))
    np.testing.assert_allclose(np.asarray(layer.moving_mean), 0.99 * before + 0.01 * batch_mean, rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # real training runs (3 and 1 of PortraitNet-tiny): 135-220 s on 2 shared cores
def test_consistency_training_checkpoints_the_model_inside_the_twin(tmp_path, data_root, training_cache):
    from selfieseg.models import build
    from selfieseg.train import with_twin

    out = tmp_path / "twin"
    state = train(model="portraitnet_tiny", data=("picsart",), epochs=1, out=out, steps_per_epoch=2, batch_size=4,
                  cache_dir=training_cache, root=data_root, verbose=0, consistency=1.0, average_from=0)
    assert state["settings"]["consistency"] == 1.0 and 0 < state["best"] <= 1
    with pytest.raises(ModelError, match="consistency weight must be >= 0"):
        train(model="portraitnet_tiny", data=("picsart",), out=tmp_path / "negative", consistency=-1.0)
    header = next(csv.reader(open(out / "log.csv")))
    assert {"consistency_loss", "twin_mask_loss", "val_mask_person_iou"} <= set(header)
    # best.weights.h5 is the plain model (no twin), equal to the network trained inside the twin
    inference = selfieseg.load("portraitnet_tiny", weights=out / "best.weights.h5")
    trained = with_twin(build("portraitnet_tiny", logits=True, with_boundary=True))
    trained.load_weights(out / "last.weights.h5")
    x = np.random.default_rng(0).random((2, 32, 32, 4)).astype(np.float32)
    logits = np.asarray(trained({"image": x, "twin": x})["mask"])
    np.testing.assert_allclose(inference.predict(x, verbose=0), 1 / (1 + np.exp(-logits)), atol=1e-5)
    # one epoch averaged: the mean is that epoch's weights, saved in the inference model's form
    # (without the boundary head) so selfieseg.load reads it like best.weights.h5
    average = selfieseg.load("portraitnet_tiny", weights=out / "average.weights.h5")
    np.testing.assert_allclose(average.predict(x, verbose=0), 1 / (1 + np.exp(-logits)), atol=1e-5)
    # the training checkpoint holds the boundary head and the optimizer: refused by name, not
    # loaded layer by layer into the wrong places (which Keras does without a word)
    for checkpoint in ("last.weights.h5", "average_train.weights.h5"):
        with pytest.raises(ModelError, match=f"{checkpoint}: holds .* variables but portraitnet_tiny has"):
            selfieseg.load("portraitnet_tiny", weights=out / checkpoint)
    with pytest.raises(ModelError, match="training checkpoint"):
        selfieseg.load("portraitnet_tiny", weights=out / "last.weights.h5")
    with pytest.raises(ModelError, match="last.weights.h5: holds .* training checkpoint"):  # nor as --init
        train(model="portraitnet_tiny", data=("picsart",), epochs=1, out=tmp_path / "from_last", steps_per_epoch=1,
              batch_size=4, cache_dir=training_cache, root=data_root, verbose=0, init_weights=out / "last.weights.h5")
    untrained = build("portraitnet_tiny")
    assert any(not np.array_equal(a, b) for a, b in zip(untrained.get_weights(), inference.get_weights()))


@pytest.mark.slow
def test_init_seeds_a_fresh_run_even_with_resume_and_is_ignored_once_resuming(tiny_run, tmp_path):
    """`--resume --init W` is the safe command to repeat after every kill: the first call
    starts from W, later calls continue from the run's own checkpoint."""
    from selfieseg.data import Augmenter

    shared, kwargs, _ = tiny_run
    donor = shared / "best.weights.h5"
    fresh = tmp_path / "fresh"
    settings = {**kwargs, "out": fresh, "steps_per_epoch": 1}
    # an unknown recipe is refused before any decoding
    with pytest.raises(DatasetError, match="unknown augmentation 'wild'"):
        train(epochs=1, augment="wild", **{**settings, "out": tmp_path / "wild", "cache_dir": tmp_path / "no_cache"})
    assert not (tmp_path / "no_cache").exists() and not (tmp_path / "wild").exists()
    # zero learning rate: the trained weights stay the donor's exactly (batch-norm
    # statistics still move in training mode, so only trainable weights are compared);
    # a recipe of one's own is recorded as its settings
    own = Augmenter(max_rotation=5.0, composite=0.25)
    state = train(epochs=1, resume=True, init_weights=donor, learning_rate=0.0, augment=own, **settings)
    assert state["settings"]["augment"]["max_rotation"] == 5.0 and state["settings"]["init_weights"] == str(donor)
    assert state["settings"]["composite"] == 0.25  # the share in effect, for the model card
    reference = selfieseg.load("sinet_tiny", weights=donor)

    def same_trainables(path):
        model = build("sinet_tiny", logits=True)
        model.load_weights(path)
        return all(np.array_equal(a, b) for a, b in zip(reference.trainable_weights, model.trainable_weights))

    assert same_trainables(fresh / "last.weights.h5")
    # resuming continues from the run's checkpoint, whatever --init says
    other = tmp_path / "other.weights.h5"
    selfieseg.load("sinet_tiny", weights=None).save_weights(other)
    assert not same_trainables(other)
    again = train(epochs=2, resume=True, init_weights=other, learning_rate=0.0, augment=own, **settings)
    assert again["epoch"] == 2 and same_trainables(fresh / "last.weights.h5")


@pytest.mark.slow
def test_training_undoes_tensorflows_malloc_setting_after_every_step(tiny_run, tmp_path, monkeypatch):
    """TensorFlow's generator pins glibc's trim threshold (fit measured 1.5x slower);
    train() restores adaptive-like thresholds after each training batch."""
    import sys

    import selfieseg.callbacks as training

    if sys.platform.startswith("linux"):
        assert training.restore_malloc_thresholds() is True
    real, calls = training.restore_malloc_thresholds, []
    monkeypatch.setattr(training, "restore_malloc_thresholds", lambda: calls.append(real()) or calls[-1])
    _, kwargs, _ = tiny_run
    state = train(epochs=1, **{**kwargs, "out": tmp_path / "malloc", "steps_per_epoch": 2})
    assert state["epoch"] == 1 and len(calls) == 2
    assert all(calls) == sys.platform.startswith("linux")


def test_teacher_labels_are_the_teachers_view_computed_once_per_teacher(tmp_path, picsart):
    """The shipped SINet, as a teacher, agrees with real PicsArt masks; its maps are reused."""
    from selfieseg.data.pipeline import build_cache
    from selfieseg.inference import Segmenter
    from selfieseg.metrics import iou
    from selfieseg.train import teacher_labels

    cache = build_cache(picsart.subset(range(12)), tmp_path / "cache", size=(128, 128), progress=False)
    labels = teacher_labels(cache, "sinet", progress=False)
    assert labels.shape == (12, 128, 128) and labels.dtype == np.uint8
    files = list(cache.path.glob("teacher_sinet_*.npy"))
    assert len(files) == 1
    scores = [iou(np.asarray(cache.masks[i]) > 127, labels[i] > 127) for i in range(12)]
    assert np.mean(scores) > 0.85, scores
    assert 0 < np.mean((labels > 10) & (labels < 245)) < 0.2  # soft at the edges, sure elsewhere
    # a second call reads the stored maps; another teacher gets its own file
    stamp = files[0].stat().st_mtime_ns
    np.testing.assert_array_equal(teacher_labels(cache, "sinet", progress=False), labels)
    assert files[0].stat().st_mtime_ns == stamp
    untrained = Segmenter(selfieseg.load("sinet_tiny", weights=None))
    other = teacher_labels(cache, untrained, progress=False)
    assert len(list(cache.path.glob("teacher_*.npy"))) == 2 and not np.array_equal(other, labels)
    assert not list(cache.path.glob(".*"))  # no temporary file left behind


@pytest.mark.slow
def test_distilled_training_records_its_teacher(tiny_run, tmp_path):
    from selfieseg.inference import Segmenter
    from selfieseg.release import _markdown, _training_summary

    shared, kwargs, _ = tiny_run
    teacher = Segmenter(selfieseg.load("sinet_tiny", weights=shared / "best.weights.h5"))
    out = tmp_path / "student"
    state = train(epochs=1, **{**kwargs, "out": out}, teacher=teacher, distill=0.3)
    assert state["settings"]["teacher"] == teacher.name and state["settings"]["distill"] == 0.3
    assert 0 <= state["best"] <= 1 and (out / "best.weights.h5").exists()
    assert list(Path(kwargs["cache_dir"]).glob(f"*/teacher_{teacher.name}_*.npy"))
    summary = _training_summary(state)
    assert summary["teacher"] == teacher.name and summary["distill"] == 0.3
    with pytest.raises(DatasetError, match=r"in \(0, 1\]"):
        train(epochs=1, **{**kwargs, "out": tmp_path / "bad"}, teacher=teacher, distill=1.5)
    assert "Distilled from" not in _markdown_lines(_markdown, {**summary, "teacher": None})
    assert f"Distilled from {teacher.name}" in _markdown_lines(_markdown, summary)


def _markdown_lines(markdown, training):
    card = {"model": "sinet_tiny", "pfcn_test_images": 1, "pfcn_test_iou": 0.5, "tflite_ms": 1.0, "tflite_float_kb": 1.0,
            "input_size": 32, "trainable_params": 1, "mmacs": 1, "pfcn_test_dataset_iou": 0.5, "training": training}
    return markdown(card, [])


@pytest.mark.slow
def test_a_time_budget_sets_the_schedule_and_stops_before_it_runs_out(tiny_run, tmp_path):
    from selfieseg.train import TimeBudget

    budget = TimeBudget(1e-3, minutes=1.0)
    budget.on_train_begin()
    assert budget.rate(0) == pytest.approx(5e-4) and budget.rate(1) == pytest.approx(1e-3, rel=1e-2)
    budget.spent = 30.0  # half the minute spent (say, before a resume): half way down the cosine
    assert budget.rate(3) == pytest.approx(1e-3 * (0.02 + 0.98 / 2), rel=1e-2)
    budget.spent = 60.0  # all of it: the floor
    assert budget.rate(5) == pytest.approx(2e-5, rel=1e-3)
    with pytest.raises(ModelError, match="> 0 minutes"):
        TimeBudget(1e-3, minutes=0)
    # the stop: at an epoch's end, when one more epoch as long as that one would overrun
    import time
    from types import SimpleNamespace

    budget = TimeBudget(1e-3, minutes=1.0)
    budget.set_model(SimpleNamespace(stop_training=False))
    budget.started, budget.epoch_started = time.time() - 40, time.time() - 10  # 40 s spent, last epoch 10 s
    budget.on_epoch_end(3)
    assert not budget.model.stop_training
    budget.started, budget.epoch_started = time.time() - 45, time.time() - 20  # 45 + 20 > 60
    budget.on_epoch_end(4)
    assert budget.model.stop_training

    _, kwargs, _ = tiny_run
    out = tmp_path / "budget"
    state = train(**{**kwargs, "out": out}, epochs=40, minutes=0.2)
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert 1 <= state["epoch"] == len(rows) < 40  # stopped by the clock, not the epoch ceiling
    rates = [float(row["learning_rate"]) for row in rows]
    assert rates[0] == pytest.approx(kwargs.get("learning_rate", 2e-3) / 2, rel=1e-4)
    assert all(later <= earlier for earlier, later in zip(rates[1:], rates[2:]))
    assert state["settings"]["minutes"] == 0.2 and state["settings"]["backend"] == keras.backend.backend()
    with pytest.raises(ModelError, match="> 0 minutes"):  # refused before any data is read
        train(**{**kwargs, "out": tmp_path / "never"}, minutes=-1)
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_a_seeded_run_never_asks_for_imagenet_weights(tiny_run, tmp_path, monkeypatch):
    """--init overwrites the encoder at once, so a seeded run trains on a machine without
    Keras's ImageNet cache (a rented GPU, an offline laptop); an unseeded one still asks."""
    shared, kwargs, _ = tiny_run

    def offline(model, options):
        raise ConnectionError(f"asked for {model}'s ImageNet weights")

    monkeypatch.setattr("selfieseg.train.auto_encoder_weights", offline)
    seeded = train(epochs=1, init_weights=shared / "best.weights.h5", out=tmp_path / "seeded",
                   **{**kwargs, "steps_per_epoch": 1})
    assert seeded["epoch"] == 1 and seeded["settings"]["encoder_weights"] is None
    with pytest.raises(ConnectionError, match="ImageNet"):
        train(epochs=1, out=tmp_path / "unseeded", **{**kwargs, "steps_per_epoch": 1})


@pytest.mark.slow  # real training runs (3 and 1 of PortraitNet-tiny): 135-220 s on 2 shared cores
def test_a_training_checkpoint_seeds_a_run_with_its_boundary_head(tmp_path, data_root, training_cache):
    """--init takes PortraitNet's last.weights.h5 too (the training network: boundary
    head and optimizer state) and keeps the head; a shipped-style file leaves it fresh."""
    settings = dict(model="portraitnet_tiny", data=("picsart",), steps_per_epoch=1, batch_size=4, epochs=1,
                    cache_dir=training_cache, root=data_root, verbose=0, input_size=64)
    train(out=tmp_path / "first", **settings)
    checkpoint = tmp_path / "first" / "last.weights.h5"

    def head(path):
        net = build("portraitnet_tiny", input_size=64, logits=True, with_boundary=True)
        net.load_weights(path)
        weights = [np.array(w) for w in net.get_layer("boundary_conv").weights]
        assert weights  # the head has weights to compare
        return weights

    train(out=tmp_path / "second", init_weights=checkpoint, learning_rate=0.0, **settings)
    assert all(np.array_equal(a, b) for a, b in zip(head(checkpoint), head(tmp_path / "second" / "last.weights.h5")))
    train(out=tmp_path / "third", init_weights=tmp_path / "first" / "best.weights.h5", learning_rate=0.0, **settings)
    assert not all(np.array_equal(a, b) for a, b in zip(head(checkpoint), head(tmp_path / "third" / "last.weights.h5")))


def test_an_existing_cache_trains_without_the_raw_datasets(tiny_run, tmp_path, training_cache):
    """A cache built (or unpacked) earlier is enough: the raw datasets may be elsewhere."""
    from selfieseg.train import training_sequences

    nowhere = tmp_path / "no_data_here"
    nowhere.mkdir()
    train_seq, val_seq = training_sequences(("picsart",), 64, batch_size=4, root=nowhere, cache_dir=training_cache,
                                            workers=2)
    x, y, *_ = train_seq[0]
    assert x.shape == (4, 64, 64, 3) and len(val_seq) > 0
    assert train_seq.workers == 2 and not train_seq.use_multiprocessing
    with pytest.raises(DatasetError):  # a new cache still needs the data
        training_sequences(("picsart",), 64, root=nowhere, cache_dir=tmp_path / "fresh_cache")
    with pytest.raises(DatasetError, match="never trained on"):
        training_sequences(("pfcn:test",), 64, cache_dir=training_cache)


def test_weight_average_is_the_running_mean_and_is_restored_after_use():
    from selfieseg.train import WeightAverage

    net = build("sinet_tiny")
    original = [np.array(v) for v in net.weights]
    average = WeightAverage(net, start=0, validation=None, monitor="val_person_iou", out=Path("."))
    rng = np.random.default_rng(0)
    sets = [[rng.normal(size=w.shape).astype(w.dtype) for w in original] for _ in range(3)]
    for weights in sets:
        average.update(weights)
    assert average.count == 3
    with average.swapped_in():
        inside = [np.array(v) for v in net.weights]
    for got, *parts in zip(inside, *sets):
        np.testing.assert_allclose(got, np.mean(parts, axis=0), rtol=1e-5, atol=1e-6)
    for now, before in zip(net.weights, original):  # the model's own weights are back
        np.testing.assert_array_equal(np.array(now), before)
    with pytest.raises(ModelError, match="average_from"):
        WeightAverage(net, start=-1, validation=None, monitor="val_person_iou", out=Path("."))


@pytest.mark.slow
def test_weight_averaging_holds_the_rate_validates_the_mean_and_resumes(tiny_run, tmp_path):
    _, kwargs, _ = tiny_run
    out = tmp_path / "averaged"
    state = train(**{**kwargs, "out": out}, epochs=3, average_from=1, learning_rate=1e-3)
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert len(rows) == 3 and rows[0]["val_average_iou"] == "nan"
    scores = [float(row["val_average_iou"]) for row in rows[1:]]
    assert all(0 <= s <= 1 for s in scores)
    # after one epoch in the mean, the mean is that epoch's weights: the same score
    assert scores[0] == pytest.approx(float(rows[1]["val_person_iou"]), abs=1e-6)
    rates = [float(row["learning_rate"]) for row in rows]
    assert rates[1] == rates[2] == pytest.approx(state["average_rate"])
    assert state["averaged"] == 2 and state["settings"]["average_from"] == 1
    assert (out / "average.weights.h5").exists()
    best = max(float(r["val_person_iou"]) for r in rows)
    assert state["best"] == pytest.approx(max([best, *scores]), abs=1e-6)
    # the model card says the weights were averaged, and whether the average was shipped
    from selfieseg.release import _markdown, _training_summary

    summary = _training_summary(state)
    assert summary["averaged_epochs"] == 2 and summary["average_from"] == 1
    card = _markdown_lines(_markdown, summary)
    assert "Weight averaging from epoch 1" in card and "2 epochs averaged" in card
    assert f"held at {state['average_rate']:.2g} from epoch 1" in card
    assert ("that average (it scored best on validation)." in card) == state["best_is_average"]
    assert "Weight averaging" not in _markdown_lines(_markdown, {**summary, "average_from": None})
    # shipping the average by choice (ship --weights average) says so, with both scores
    chosen = _training_summary({**state, "best_is_average": False}, "average")
    assert chosen["average_validation_iou"] == pytest.approx(scores[-1], abs=1e-4)
    assert "chosen over the best single epoch (validation IoU" in _markdown_lines(_markdown, chosen)
    # the averaged weights file holds the mean the run validated
    from selfieseg.train import training_sequences

    net = build("sinet_tiny", input_size=kwargs.get("input_size") or 32, logits=True)
    net.load_weights(out / "average_train.weights.h5")
    inference = selfieseg.load("sinet_tiny", weights=out / "average.weights.h5")  # the same mean, to serve
    for a, b in zip(net.weights, inference.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    net.compile(loss=selfieseg.losses.SegmentationLoss(), metrics=[selfieseg.metrics.PersonIoU()])
    _, val_seq = training_sequences(kwargs["data"], 32, batch_size=kwargs["batch_size"],
                                    cache_dir=kwargs["cache_dir"], root=kwargs["root"])
    assert net.evaluate(val_seq, verbose=0, return_dict=True)["person_iou"] == pytest.approx(scores[-1], abs=1e-5)
    resumed = train(**{**kwargs, "out": out}, epochs=4, average_from=1, learning_rate=1e-3, resume=True)
    assert resumed["averaged"] == 3 and resumed["average_rate"] == state["average_rate"]
    with pytest.raises(ModelError, match="average_from"):
        train(**{**kwargs, "out": tmp_path / "never"}, average_from=-2)
    with pytest.raises(ModelError, match="nothing would be averaged"):  # at or past the last epoch
        train(**{**kwargs, "out": tmp_path / "never"}, epochs=3, average_from=3)
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_a_run_on_the_mix_records_its_weights_and_recipe(tmp_path, data_root, training_cache):
    """--data picsart,voc_person --data-weights voc_person=1,picsart=1 --augment wide: the run
    trains, never reads VOC's test list, and its settings keep what made it."""
    from selfieseg.data.splits import held_out_names

    state = train(model="sinet_tiny", data=("picsart", "voc_person"), data_weights="voc_person=1,picsart=1",
                  augment="wide", epochs=1, steps_per_epoch=2, batch_size=4, out=tmp_path / "mix",
                  cache_dir=training_cache, root=data_root, verbose=0)
    assert state["epoch"] == 1 and state["settings"]["data_weights"] == {"voc_person": 1.0, "picsart": 1.0}
    assert state["settings"]["augment"] == "wide"
    from selfieseg.data.pipeline import ArrayCache

    (cache,) = [ArrayCache(path) for path in training_cache.iterdir() if path.name.startswith("picsart+voc_person")]
    voc = {name.split("/", 1)[1] for name in cache.names if name.startswith("voc_person/")}
    assert len(voc) == 594 - 83 and not voc & held_out_names("voc_person")
