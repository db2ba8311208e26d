"""Data-parallel training (selfieseg.distribute): device parsing, refusals, and a real
two-device run on this CPU (JAX with two forced host devices) against a one-device run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from selfieseg import distribute
from selfieseg.errors import ModelError

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("given, parsed", [(None, None), ("", None), ("all", "all"), ("ALL", "all"), ("2", 2), (3, 3)])
def test_devices_are_all_or_a_count(given, parsed):
    assert distribute.parse_devices(given) == parsed


@pytest.mark.parametrize("bad", ["0", "-1", "two", 0, 1.5, True])
def test_other_device_requests_are_refused_with_what_is_accepted(bad):
    with pytest.raises(ModelError, match="'all' or a whole number >= 1"):
        distribute.parse_devices(bad)


def test_tensorflow_runs_on_one_device_and_says_how_to_get_more():
    assert distribute.data_parallel(None, backend="tensorflow") is None
    assert distribute.data_parallel(1, backend="tensorflow") is None
    assert distribute.data_parallel("all", backend="tensorflow") is None
    with pytest.raises(ModelError, match="KERAS_BACKEND=jax"):
        distribute.data_parallel(2, backend="tensorflow")
    assert distribute.replica_count(None) == 1


def test_several_processes_need_the_coordinator_and_an_id(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.delenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", raising=False)
    monkeypatch.delenv("KERAS_DISTRIBUTION_PROCESS_ID", raising=False)
    with pytest.raises(ModelError, match="KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_PROCESS_ID"):
        distribute.process_shard()
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "x")
    with pytest.raises(ModelError, match="whole number"):
        distribute.process_shard()
    monkeypatch.delenv("KERAS_DISTRIBUTION_NUM_PROCESSES")
    assert distribute.process_shard() == (0, 1)


def test_batches_split_evenly_across_devices_and_hosts(picsart):
    """Training drops a short last batch; validation pads it with invalid copies; each
    host's shard is its contiguous slice of the same global batch."""
    from selfieseg.data import SegmentationSequence
    from selfieseg.metrics import PersonIoU

    photos = [picsart[i] for i in range(7)]

    class Few:  # seven real PicsArt samples, decoded once
        def __len__(self):
            return len(photos)

        def __getitem__(self, i):
            return photos[i]

    train = SegmentationSequence([Few()], batch_size=4, size=32, augment=True, valid_channel=True, batch_multiple=2)
    assert len(train) == 1  # 7 samples: one full batch of 4, the short one dropped
    validation = SegmentationSequence([Few()], batch_size=4, size=32, shuffle=False, valid_channel=True, batch_multiple=2)
    assert len(validation) == 2
    x, y = validation[1]
    assert x.shape[0] == 4  # 3 real samples, padded to split over 2 devices
    assert y[3, ..., 1].sum() == 0 and (y[:3, ..., 1].reshape(3, -1).sum(1) > 0).all()
    # the padding is not scored: the IoU of the padded batch is that of its 3 real images
    logits = np.where(y[..., :1] > 0.5, 5.0, -5.0).astype(np.float32)
    logits[0] = -logits[0]  # one image wrong everywhere
    padded, real = PersonIoU(), PersonIoU()
    padded.update_state(y, logits)
    real.update_state(y[:3], logits[:3])
    assert float(padded.result()) == pytest.approx(float(real.result()), abs=1e-6)
    assert float(real.result()) < 0.99
    # two hosts: the same global batch, each its own half
    whole = SegmentationSequence([Few()], batch_size=4, size=32, shuffle=False, valid_channel=True, batch_multiple=2)[0]
    halves = [SegmentationSequence([Few()], batch_size=4, size=32, shuffle=False, valid_channel=True,
                                   batch_multiple=2, shard=(i, 2))[0] for i in range(2)]
    np.testing.assert_array_equal(np.concatenate([h[0] for h in halves]), whole[0])
    with pytest.raises(Exception, match="does not split into 3"):
        SegmentationSequence([Few()], batch_size=4, size=32, valid_channel=True, batch_multiple=3)


@pytest.mark.slow
def test_two_cpu_devices_train_as_one_on_the_same_batches(tmp_path, data_root, training_cache):
    """Two JAX CPU devices, each half of every batch: the loss equals a one-device run's
    on the same global batches (float tolerance), through resume, with the batch sharded
    over both devices and the weights replicated on both."""
    pytest.importorskip("jax", reason="jax is not installed (pip install jax): the data-parallel path needs it")
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, str(HERE / "jax_data_parallel_run.py"), str(training_cache), str(data_root),
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=840)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT "):])
    assert report["backend"] == "jax" and len(report["devices"]) == 2
    assert "--devices 4: found 2 device(s)" in report["too_many"]

    one, two = report["one"], report["two"]
    assert two["settings"]["replicas"] == 2 and two["settings"]["global_batch_size"] == 8
    assert two["settings"]["scaled_learning_rate"] == pytest.approx(one["settings"]["scaled_learning_rate"])
    assert one["settings"]["replicas"] == 1
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-4)
    assert two["epoch"] == one["epoch"] == 2 and len(two["resumed_losses"]) == 2
    np.testing.assert_allclose(two["resumed_losses"], one["resumed_losses"], rtol=1e-4)
    np.testing.assert_allclose(two["resumed_losses"][0], two["losses"][0], rtol=1e-6)  # epoch 1 kept, not redone

    shards = report["batch_shards"]
    assert len({device for device, _ in shards}) == 2 and all(rows == 4 for _, rows in shards)
    assert len(report["weight_devices"]) == 2 and report["weight_replicated"]
    validation = report["validation"]
    assert validation["last_batch"] % 2 == 0
    assert validation["last_batch_valid_images"] == validation["samples"] - 8 * (validation["batches"] - 1)
