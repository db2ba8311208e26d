"""Interpolating a fine-tuned run towards its start: the line, the choice, the run folder it writes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from selfieseg.errors import ModelError
from selfieseg.weight_interpolation import choose_point, interpolated_weights


def test_interpolated_weights_lie_on_the_line_between_the_two_ends():
    start = [np.zeros((2, 3), np.float32), np.full(4, 2.0, np.float32), np.array([5], np.int64)]
    end = [np.ones((2, 3), np.float32), np.full(4, 4.0, np.float32), np.array([9], np.int64)]
    quarter = interpolated_weights(start, end, 0.25)
    np.testing.assert_array_equal(quarter[0], np.full((2, 3), 0.25, np.float32))
    np.testing.assert_array_equal(quarter[1], np.full(4, 2.5, np.float32))
    assert quarter[0].dtype == np.float32
    assert quarter[2].tolist() == [9]  # a counter is not a weight: taken from the fine-tuned end
    # the two ends are the two weight sets themselves, bit for bit
    for got, want in zip(interpolated_weights(start, end, 0.0), start[:2]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(interpolated_weights(start, end, 1.0), end):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ModelError, match="weight 1 is"):
        interpolated_weights(start, [end[0], np.ones(5, np.float32), end[2]], 0.5)
    with pytest.raises(ModelError, match="not the same network"):
        interpolated_weights(start, end[:2], 0.5)


def test_the_choice_is_the_best_mean_among_points_that_keep_every_dataset():
    # the shape measured on PortraitNet's mixed fine-tuning: portraits fall, VOC rises
    table = [
        {"alpha": 0.0, "pfcn": 0.970, "voc_person": 0.433, "mean": 0.7015},
        {"alpha": 0.5, "pfcn": 0.965, "voc_person": 0.493, "mean": 0.7290},
        {"alpha": 1.0, "pfcn": 0.958, "voc_person": 0.547, "mean": 0.7525},
    ]
    assert choose_point(table)["alpha"] == 1.0
    assert choose_point(table, keep=0.006)["alpha"] == 0.5  # 1.0 loses 0.012 on pfcn
    assert choose_point(table, keep=0.001)["alpha"] == 0.0  # the start is always eligible
    tied = [{"alpha": 0.0, "a": 0.5, "mean": 0.5}, {"alpha": 0.5, "a": 0.5, "mean": 0.5}]
    assert choose_point(tied)["alpha"] == 0.5  # a tie goes to more of the fine-tuning


@pytest.mark.slow
def test_interpolate_writes_the_validation_choice_as_a_run_that_ship_reads(tmp_path, tiny_run, data_root,
                                                                           training_cache, monkeypatch, capsys):
    """A real second stage (tiny SINet, PicsArt) interpolated through the command line."""
    from selfieseg.cli import main
    from selfieseg.data.training import validation_samples
    from selfieseg.evaluation import evaluate_by_dataset
    from selfieseg.inference import Segmenter
    from selfieseg.models import load
    from selfieseg.release import _interpolation_words, _training_summary
    from selfieseg.train import train

    first, kwargs, _ = tiny_run
    second = tmp_path / "second"
    train(epochs=1, out=second, init_weights=first / "best.weights.h5", learning_rate=0.05,
          **{**kwargs, "steps_per_epoch": 2})
    monkeypatch.setenv("SELFIESEG_DATA", str(data_root))
    monkeypatch.setenv("SELFIESEG_CACHE", str(training_cache))
    out = tmp_path / "blend"
    assert main(["interpolate", "--run", str(second), "--out", str(out), "--alphas", "0,0.5,1", "--save-points"]) == 0
    printed = capsys.readouterr().out
    assert "<- chosen" in printed and f"selfieseg ship --run {out}" in printed

    state = json.loads((out / "state.json").read_text())
    record = state["interpolation"]
    assert state["settings"] == json.loads((second / "state.json").read_text())["settings"]
    assert record["start"] == str(first / "best.weights.h5") and record["end"] == str(second / "best.weights.h5")
    assert [row["alpha"] for row in record["table"]] == [0.0, 0.5, 1.0]
    assert set(record["table"][0]) == {"alpha", "picsart", "mean"}
    assert record["alpha"] == choose_point(record["table"])["alpha"]
    assert (out / "log.csv").read_text() == (second / "log.csv").read_text()
    assert (out / "interpolation.png").stat().st_size > 5_000 and (out / "interpolation.csv").exists()

    # each saved point is the line's point; the shipped file is the chosen one
    def weights(path):
        model = load("sinet_tiny", weights=path, input_size=32)
        return model, model.get_weights()

    _, start = weights(first / "best.weights.h5")
    _, end = weights(second / "best.weights.h5")
    for alpha in (0.0, 0.5, 1.0):
        _, point = weights(out / f"alpha_{alpha:.3f}.weights.h5")
        for got, want in zip(point, interpolated_weights(start, end, alpha)):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
    model, chosen = weights(out / "best.weights.h5")
    _, expected = weights(out / f"alpha_{record['alpha']:.3f}.weights.h5")
    for got, want in zip(chosen, expected):
        np.testing.assert_array_equal(got, want)
    # the table's scores are the chosen weights' own, on the run's own validation samples
    cache, indices = validation_samples(["picsart"], 32, root=data_root, cache_dir=training_cache)
    assert record["validation_images"] == len(indices) > 0
    again = evaluate_by_dataset(Segmenter(model), cache, indices, progress=False)
    row = next(row for row in record["table"] if row["alpha"] == record["alpha"])
    assert abs(again["picsart"] - row["picsart"]) < 1e-4

    # the card's account: the point, its start, the criterion
    summary = _training_summary(state)["interpolation"]
    assert summary["alpha"] == record["alpha"] and summary["chosen_validation"] == row
    assert "chosen on validation" in _interpolation_words(summary) and str(first) in _interpolation_words(summary)

    # refusals, each naming what to do
    with pytest.raises(ModelError, match="new folder"):
        from selfieseg.weight_interpolation import interpolate_run

        interpolate_run(second, second)
    with pytest.raises(ModelError, match="started from scratch"):
        interpolate_run(first, tmp_path / "never")
    assert main(["interpolate", "--run", str(second), "--out", str(tmp_path / "x"), "--alphas", "0,2"]) == 2
    assert "must lie in [0, 1]" in capsys.readouterr().err
    assert main(["interpolate", "--run", str(second), "--out", str(tmp_path / "x"), "--alphas", "half"]) == 2
    assert "comma-separated numbers" in capsys.readouterr().err
    moved = tmp_path / "moved"
    shutil.copytree(second, moved)
    state_moved = json.loads((moved / "state.json").read_text())
    state_moved["settings"]["init_weights"] = str(tmp_path / "gone.weights.h5")
    (moved / "state.json").write_text(json.dumps(state_moved))
    with pytest.raises(ModelError, match="gone.weights.h5: the start weights are missing"):
        interpolate_run(moved, tmp_path / "never")
