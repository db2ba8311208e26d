"""Shipping a run: the model card is generated from the run and a fresh evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from selfieseg.errors import ModelError


@pytest.mark.slow
def test_ship_writes_weights_and_a_card_measured_beside_mediapipe(tmp_path, data_root, anchors_root, monkeypatch,
                                                                  tiny_run):
    from selfieseg.models import load
    from selfieseg.release import ship

    monkeypatch.setenv("SELFIESEG_ANCHORS", str(anchors_root))
    run, _, _ = tiny_run
    card = ship(run, root=data_root, runs=3, weights_dir=tmp_path / "weights", input_size=64)
    assert card["pfcn_test_images"] == 264 and 0 <= card["pfcn_test_iou"] <= 1
    assert card["input_size"] == 64 and card["training"]["input_size"] == 32  # served larger than trained
    assert card["mediapipe"]["pfcn_test_iou"] > 0.9  # measured in this call, on the same images
    # the benchmark's held-out columns, MediaPipe beside each, measured in the same call
    held = card["held_out"]
    assert list(held) == ["PFCN test", "VOC person test", "CCP test", "DAVIS parkour", "mean"]
    assert [held[k]["images"] for k in list(held)[:4]] == [264, 83, 137, 100]
    assert held["PFCN test"] == {"iou": card["pfcn_test_iou"], "images": 264,
                                 "mediapipe": card["mediapipe"]["pfcn_test_iou"]}
    assert held["VOC person test"]["mediapipe"] > 0.4 and held["CCP test"]["mediapipe"] > 0.85
    assert abs(held["mean"]["iou"] - sum(held[k]["iou"] for k in list(held)[:4]) / 4) < 1e-4
    assert card["training"]["interpolation"] is None  # a plain run, not a point between two
    for key in ("int8", "int8_per_tensor"):  # both quantizations, each evaluated and timed
        assert 0 <= card[key]["pfcn_test_iou"] <= 1 and card[key]["tflite_ms"] > 0, key
    assert card["tflite_ms"] > 0 and card["mediapipe"]["tflite_ms"] > 0 and card["latency_runs"] == 6
    from selfieseg.models import builder_options

    # the builder options the weights were built with, which loading a shipped file checks
    assert card["options"] == builder_options("sinet_tiny") and card["options"]["widths"] == [4, 8, 8, 16]
    assert card["int8_per_tensor"]["tflite_kb"] < card["int8"]["tflite_kb"]  # one scale per tensor: fewer bytes
    assert card["training"]["epochs"] == 2 and len(card["history"]) == 2
    saved = json.loads((tmp_path / "weights" / "sinet_tiny.json").read_text())
    assert saved == card
    # written through temporary files that are renamed into place: none is left behind
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == [
        "sinet_tiny.json", "sinet_tiny.md", "sinet_tiny.weights.h5"]
    text = (tmp_path / "weights" / "sinet_tiny.md").read_text()
    assert "| PFCN test IoU" in text and "## Training log" in text
    assert "| VOC person test IoU (per-image mean, 83 images) |" in text and "| mean IoU over the 4 sets above |" in text
    assert "Trained at 32x32; served at 64" in text
    assert "median of 6 invokes per file" in text and "interleaved rounds" in text
    assert "int8 TFLite (per channel): PFCN test IoU" in text and "int8 TFLite (per tensor): size" in text
    assert card["training"]["encoder_start"] == "random (from scratch)" and "Start: random (from scratch)" in text
    model = load("sinet_tiny", weights=tmp_path / "weights" / "sinet_tiny.weights.h5")
    assert np.isfinite(np.asarray(model(np.zeros((1, 32, 32, 3), "float32")))).all()
    # a run that averaged no weights has no average to ship: refused before any evaluation
    with pytest.raises(ModelError, match="no weight average to ship"):
        ship(run, root=data_root, weights_dir=tmp_path / "never", weights="average")
    with pytest.raises(ModelError, match="'best' or 'average'"):
        ship(run, root=data_root, weights_dir=tmp_path / "never", weights="last")
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_a_later_stage_card_counts_the_earlier_stages(tmp_path, tiny_run):
    """A run started with --init from shipped weights (or a run folder) is a second stage:
    the card lists the stages on record beside those weights and totals their epochs and time."""
    from selfieseg.release import _history, _markdown, _read_log, earlier_stages, without_this_run
    from selfieseg.train import train

    first, kwargs, first_state = tiny_run
    assert earlier_stages({}) == [] and earlier_stages({"init_weights": str(tmp_path / "nothing.weights.h5")}) == []
    # weights shipped from the first run: a card beside them
    shipped = tmp_path / "weights"
    shipped.mkdir()
    (shipped / "sinet_tiny.weights.h5").write_bytes((first / "best.weights.h5").read_bytes())
    (shipped / "sinet_tiny.json").write_text(json.dumps({
        "pfcn_test_iou": 0.5, "history": [{"epoch": 0.0}, {"epoch": 1.0}],
        "training": {"epochs": 2, "learning_rate": 2e-3, "augment": "full", "wall_minutes": 1.5,
                     "best_validation_iou": first_state["best"], "encoder_start": "random (from scratch)"}}))
    second = tmp_path / "second"
    state = train(epochs=1, out=second, init_weights=shipped / "sinet_tiny.weights.h5", augment="mild",
                  composite=0.5, **{**kwargs, "steps_per_epoch": 1})
    [stage] = earlier_stages(state["settings"])
    assert stage["epochs"] == 2 and stage["wall_minutes"] == 1.5 and len(stage["history"]) == 2
    # shipping the second run puts its weights and card where it started from; shipping it
    # again (another serving size) must not count the run as its own earlier stage
    kept_weights, kept_card = (shipped / "sinet_tiny.weights.h5").read_bytes(), (shipped / "sinet_tiny.json").read_text()
    (shipped / "sinet_tiny.weights.h5").write_bytes((second / "best.weights.h5").read_bytes())
    history, wall = _history(_read_log(second / "log.csv")), round(state["seconds"] / 60, 1)
    (shipped / "sinet_tiny.json").write_text(json.dumps(
        {"history": history, "training": {"epochs": 1, "wall_minutes": wall, "earlier_stages": [stage]}}))
    relisted = earlier_stages(state["settings"])  # the run's own card is beside its init weights now
    assert [s["epochs"] for s in relisted] == [2, 1] and relisted[1]["history"] == history
    assert without_this_run(relisted, history, wall) == [stage]
    # the same card seen by a later run (another log) keeps both stages
    log = [{"epoch": 0.0, "val_person_iou": 0.4}]
    assert without_this_run(relisted, log, wall) == relisted
    this = {"epochs": 1, "wall_minutes": 0.5, "history": log}
    assert without_this_run([stage, this], log, 0.5) == [stage]
    assert without_this_run([stage, this], log, 0.7) == [stage, this]  # same log, other time: another run
    # an averaging run's log holds NaN before the average starts (NaN != NaN): still this run
    averaging = [{"epoch": 0.0, "val_average_iou": float("nan")}, {"epoch": 1.0, "val_average_iou": 0.4}]
    this = {"epochs": 2, "wall_minutes": 0.5, "history": json.loads(json.dumps(averaging))}  # as read from a card
    assert without_this_run([stage, this], _history([{"epoch": "0", "val_average_iou": "nan"},
                                                     {"epoch": "1", "val_average_iou": "0.4"}]), 0.5) == [stage]
    (shipped / "sinet_tiny.weights.h5").write_bytes(kept_weights)
    (shipped / "sinet_tiny.json").write_text(kept_card)
    # a third run started from the second run's folder: both earlier stages, oldest first
    stages = earlier_stages({"init_weights": str(second / "best.weights.h5")})
    assert [s["epochs"] for s in stages] == [2, 1] and stages[1]["augment"] == "mild"
    assert stages[0].get("composite", 0.0) == 0.0 and stages[1]["composite"] == 0.5
    assert stages[1]["source"] == str(second) and len(stages[1]["history"]) == 1
    # and straight from a run folder with no card: its own state and log
    [from_run] = earlier_stages({"init_weights": str(first / "best.weights.h5")})
    assert from_run["epochs"] == 2 and len(from_run["history"]) == 2 and from_run["source"] == str(first)
    training = {"epochs": 1, "planned_epochs": 1, "batch_size": 4, "learning_rate": 1e-3, "data": ["picsart"],
                "wall_minutes": 0.5, "best_validation_iou": 0.5, "machine": "x", "earlier_stages": stages,
                "total_epochs": 4, "total_wall_minutes": 2.5}
    def text_of(training):
        return _markdown({"model": "sinet_tiny", "input_size": 32, "trainable_params": 1, "mmacs": 0.1,
                          "tflite_float_kb": 1, "pfcn_test_iou": 0.5, "pfcn_test_dataset_iou": 0.5,
                          "pfcn_test_images": 264, "tflite_ms": 1.0, "training": training}, [])

    text = text_of(training)
    assert "## Training stages" in text and "4 epochs and 2.5 min in all" in text
    assert text.count("| mild, 50% of backgrounds replaced |") == 1
    assert "| 3 | 1 | full | 0.001 | stage 2's weights |" in text
    assert "| 1 | 2 | full | 0.002 | random (from scratch) |" in text
    # each stage says where it trained (recorded by train()); a time-budgeted run says so
    from selfieseg.train import describe_machine

    assert stages[1]["machine"] == describe_machine() and "Keras on tensorflow" in stages[1]["machine"]
    assert "machine" not in stages[0]  # that card predates the field: shown as not recorded
    assert text.count(f"| {describe_machine()} |") == 1 and "| not recorded |" in text and "| x |" in text
    assert "Epochs: 1 of 1 planned" in text
    assert "Epochs: 1 in a 3.9-minute budget" in text_of({**training, "minutes": 3.9})
    # a first stage shipped before starts were recorded is shown with the default start it had
    older = [{k: v for k, v in stages[0].items() if k != "encoder_start"}, stages[1]]
    text = text_of({**training, "earlier_stages": older})
    assert "| 1 | 2 | full | 0.002 | random (from scratch) |" in text


def test_a_shipped_card_is_rewritten_from_its_own_json_with_every_stage_data(tmp_path):
    """``rewrite_card`` lays a shipped card out again from the JSON ``ship`` wrote: the text
    is the shipped one, and every stage row says which datasets and which teacher it had."""
    from selfieseg.models import WEIGHTS_DIR
    from selfieseg.release import rewrite_card

    for suffix in (".json", ".md"):
        (tmp_path / f"mnv2_unet{suffix}").write_bytes((WEIGHTS_DIR / f"mnv2_unet{suffix}").read_bytes())
    (tmp_path / "mnv2_unet.md").write_text("stale")
    written = rewrite_card("mnv2_unet", weights_dir=tmp_path)
    text = written.read_text()
    assert text == (WEIGHTS_DIR / "mnv2_unet.md").read_text()
    stages = text.split("## Training stages")[1].split("## Training log")[0]
    stage_rows = [line for line in stages.splitlines() if line[:3] in {f"| {n}" for n in range(1, 10)}]
    assert len(stage_rows) == 4 and all(line.count(" | ") == 9 for line in stage_rows)
    assert "| pfcn, picsart | none |" in text  # the portrait-only stages
    assert "| pfcn 1, picsart 1, voc_person 1, ccp 1 | portraitnet (0.5 of each target) |" in text  # the mix
    with pytest.raises(ModelError, match=r"nothing\.json: no model card data; ship the model first"):
        rewrite_card("nothing", weights_dir=tmp_path)
