"""Shipping a run: the model card is generated from the run and a fresh evaluation."""

from __future__ import annotations

import json

import numpy as np


def test_ship_writes_weights_and_a_card_measured_beside_mediapipe(tmp_path, data_root, anchors_root, monkeypatch):
    from selfieseg.models import load
    from selfieseg.release import ship
    from selfieseg.train import train

    monkeypatch.setenv("SELFIESEG_ANCHORS", str(anchors_root))
    run = tmp_path / "run"
    train("sinet_tiny", data=("picsart",), epochs=1, out=run, batch_size=4, steps_per_epoch=2, root=data_root,
          cache_dir=tmp_path / "cache", verbose=0)
    card = ship(run, root=data_root, runs=3, weights_dir=tmp_path / "weights")
    assert card["pfcn_test_images"] == 264 and 0 <= card["pfcn_test_iou"] <= 1
    assert card["mediapipe"]["pfcn_test_iou"] > 0.9  # measured in this call, on the same images
    assert 0 <= card["int8_per_tensor"]["pfcn_test_iou"] <= 1 and card["int8_per_tensor"]["tflite_ms"] > 0
    assert card["training"]["epochs"] == 1 and len(card["history"]) == 1
    saved = json.loads((tmp_path / "weights" / "sinet_tiny.json").read_text())
    assert saved == card
    text = (tmp_path / "weights" / "sinet_tiny.md").read_text()
    assert "| PFCN test IoU" in text and "int8 TFLite" in text and "## Training log" in text
    assert card["training"]["encoder_start"] == "random (from scratch)" and "Start: random (from scratch)" in text
    model = load("sinet_tiny", weights=tmp_path / "weights" / "sinet_tiny.weights.h5")
    assert np.isfinite(np.asarray(model(np.zeros((1, 32, 32, 3), "float32")))).all()
