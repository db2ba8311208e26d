"""Data-parallel training checks, run by tests/test_distribute.py in a process of their own.

Keras's backend is fixed when ``keras`` is first imported, and the test session runs on
TensorFlow, so these checks run here with ``KERAS_BACKEND=jax`` and
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (two CPU devices). They train the
tiny SINet on real PicsArt photos through :func:`selfieseg.train.train` and print one
JSON object of what they saw; the test asserts on it.

usage: python tests/jax_data_parallel_run.py CACHE_DIR DATA_ROOT OUT_DIR
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def losses(run: Path) -> list[float]:
    with open(run / "log.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def main(cache_dir: str, data_root: str, out_dir: str) -> None:
    import jax
    import keras
    import numpy as np

    from selfieseg import distribute
    from selfieseg.errors import ModelError
    from selfieseg.train import train, training_sequences

    out = Path(out_dir)
    report: dict = {"backend": keras.backend.backend(), "devices": [str(d) for d in jax.devices()]}
    common = dict(model="sinet_tiny", data=("picsart",), steps_per_epoch=2, cache_dir=cache_dir, root=data_root,
                  verbose=0, seed=0, augment="mild")

    # asking for more devices than there are
    try:
        train(devices=4, epochs=1, out=out / "too_many", batch_size=4, **common)
        report["too_many"] = None
    except ModelError as exc:
        report["too_many"] = str(exc)

    # one device with a batch of 8, and two devices with 4 each: the same global batches,
    # the same effective learning rate (2 x 5e-4 = 1e-3)
    one = train(epochs=1, out=out / "one", batch_size=8, learning_rate=1e-3, **common)
    two = train(devices=2, epochs=1, out=out / "two", batch_size=4, learning_rate=5e-4, **common)
    report["one"] = {"losses": losses(out / "one"), "settings": one["settings"]}
    report["two"] = {"losses": losses(out / "two"), "settings": two["settings"]}

    # resume both for a second epoch: the two-device run continues from its checkpoint
    one = train(epochs=2, out=out / "one", batch_size=8, learning_rate=1e-3, resume=True, **common)
    two = train(devices=2, epochs=2, out=out / "two", batch_size=4, learning_rate=5e-4, resume=True, **common)
    report["one"].update(resumed_losses=losses(out / "one"), epoch=one["epoch"])
    report["two"].update(resumed_losses=losses(out / "two"), epoch=two["epoch"])

    # how a batch and the weights are laid out under the same distribution train() uses
    distribution = distribute.data_parallel(2)
    train_seq, val_seq = training_sequences(("picsart",), 64, 8, batch_multiple=2, cache_dir=cache_dir,
                                            root=data_root, augment="mild")
    x = np.asarray(train_seq[0][0])
    batch = jax.device_put(x, distribution.get_data_layout(x.shape).backend_layout)
    report["batch_shards"] = sorted((str(shard.device), shard.data.shape[0]) for shard in batch.addressable_shards)
    with distribute.scope(distribution):
        model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Conv2D(2, 3)])
    kernel = model.weights[0].value
    report["weight_devices"] = sorted(str(d) for d in kernel.sharding.device_set)
    report["weight_replicated"] = bool(kernel.sharding.is_fully_replicated)
    last = val_seq[len(val_seq) - 1]
    report["validation"] = {"samples": len(val_seq.indices), "batches": len(val_seq),
                            "last_batch": int(last[0].shape[0]),
                            "last_batch_valid_images": int((last[1][..., 1].reshape(last[1].shape[0], -1).sum(1) > 0).sum())}
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
