"""Data-parallel training over several accelerators, and over several hosts.

``selfieseg train --devices all`` (or ``--devices N``) gives :func:`selfieseg.train.train`
a :class:`keras.distribution.DataParallel` over a one-axis mesh of the devices: every
device holds all the weights, each training batch is cut into equal slices along its
first axis, one per device, and the gradients are summed across them. Nothing else in
a run changes: the same data, schedule, checkpoints and resume.

Why JAX only. Keras's distribution API is implemented for the JAX backend; its
TensorFlow implementation is a prototype marked "do not use" in Keras's own source
(``keras/src/backend/tensorflow/distribution_lib.py``), and TensorFlow's
``MirroredStrategy`` would mean a second training path (models built and compiled
inside a strategy scope, data fed through ``tf.data``), so a run would no longer be the
same code on one device and on eight. On TensorFlow, ``--devices`` accepts only one
device; the message says how to switch backend (``KERAS_BACKEND=jax``).

The global batch and the learning rate. ``batch_size`` stays the batch *per device*, so
memory per device is the same on one accelerator or many, and the global batch is
``batch_size * devices``. The learning rate is multiplied by the device count (the
linear scaling rule of Goyal et al., 2017, "Accurate, large minibatch SGD"), after the
first epoch's warm-up that :func:`selfieseg.callbacks.cosine_schedule` already has. A run on N
devices therefore takes 1/N as many steps per epoch, each N times larger, and sees the
same samples per epoch. Measured on this CPU with two forced host devices (tiny SINet,
real PicsArt batches of 8, two epochs of 2 steps, one resumed): the epoch losses of the
two-device run equal the one-device run's to 1e-7 relative (tests/test_distribute.py
allows 1e-4).

Several hosts. Keras reads three environment variables, the same on every host but the
last: ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator's ``host:port``, that of
process 0), ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``
(0 .. N-1). With more than one process, :func:`data_parallel` calls
:func:`keras.distribution.initialize`, which hands them to ``jax.distributed.initialize``;
the mesh then spans every host's devices, and each process prepares only its own slice
of each global batch (:func:`process_shard`), so no host decodes photos another uses.
Only process 0 should write checkpoints to a shared folder: give each process its own
``--out`` on local disk, or let process 0's folder be the one kept.
"""

from __future__ import annotations

import contextlib
import os

from selfieseg.errors import ModelError

MULTI_HOST_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


def parse_devices(devices) -> "int | str | None":
    """``None`` (one device, no distribution), ``"all"`` or a whole number >= 1.

    Accepts what the command line gives (``"all"``, ``"2"``) and what Python callers pass.
    """
    if devices is None or devices == "":
        return None
    if isinstance(devices, str):
        if devices.strip().lower() == "all":
            return "all"
        try:
            devices = int(devices)
        except ValueError:
            raise ModelError(f"--devices takes 'all' or a whole number >= 1, got {devices!r}.") from None
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ModelError(f"--devices takes 'all' or a whole number >= 1, got {devices!r}.")
    return devices


def _process_count_requested() -> int:
    value = os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "").strip()
    if not value:
        return 1
    try:
        count = int(value)
    except ValueError:
        raise ModelError(f"KERAS_DISTRIBUTION_NUM_PROCESSES must be a whole number, got {value!r}.") from None
    if count > 1:
        missing = [name for name in MULTI_HOST_VARIABLES if not os.environ.get(name, "").strip()]
        if missing:
            raise ModelError(f"a run over {count} processes needs {', '.join(missing)} set as well "
                             "(the coordinator's host:port and this process's id, 0 for the coordinator).")
    return count


def _start_multi_host() -> None:
    """``jax.distributed.initialize`` through Keras, once per process, when several are asked for."""
    if _process_count_requested() <= 1:
        return
    import jax
    import keras

    if jax.process_count() > 1:  # already started (a second run in the same process)
        return
    try:
        keras.distribution.initialize()  # reads the KERAS_DISTRIBUTION_* variables
    except Exception as exc:
        address = os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
        raise ModelError(f"could not join the run coordinated at {address}: {str(exc).splitlines()[0][:200]}") from None


def data_parallel(devices, backend: str | None = None):
    """The :class:`keras.distribution.DataParallel` for ``devices``, or ``None`` for one device.

    ``devices`` is ``None``/``1`` (no distribution), ``"all"`` (every accelerator found;
    on a machine without one, every CPU device JAX shows) or a count, which must not
    exceed what was found: ``--devices 4`` on a machine with two says so and names them.
    """
    import keras

    devices = parse_devices(devices)
    backend = backend or keras.backend.backend()
    if devices is None or devices == 1:
        return None
    if backend != "jax":
        if devices == "all":
            return None  # one device on this backend: nothing to spread over
        raise ModelError(
            f"--devices {devices}: data-parallel training runs on Keras's JAX backend, and this run uses "
            f"{backend}. Set KERAS_BACKEND=jax (with jax installed: pip install 'jax[cuda12]' on NVIDIA GPUs) "
            "and run again; see the 'Scaling out' chapter."
        )
    _start_multi_host()
    found = keras.distribution.list_devices()
    if devices == "all":
        devices = len(found)
    if devices > len(found):
        kinds = ", ".join(found) or "none"
        raise ModelError(f"--devices {devices}: found {len(found)} device(s) ({kinds}). "
                         f"Pass --devices {len(found)} or --devices all.")
    if devices == 1:
        return None
    mesh = keras.distribution.DeviceMesh((devices,), ["batch"], found[:devices])
    return keras.distribution.DataParallel(device_mesh=mesh)


def replica_count(distribution) -> int:
    """How many slices each global batch is cut into (1 without a distribution)."""
    if distribution is None:
        return 1
    return int(distribution.device_mesh.shape[0])


def process_shard() -> tuple[int, int]:
    """(this process's index, number of processes): which part of a global batch this host prepares."""
    if _process_count_requested() <= 1:
        return 0, 1
    import jax

    return int(jax.process_index()), int(jax.process_count())


def scope(distribution):
    """``distribution.scope()``, or a context that does nothing for a one-device run.

    A scope rather than :func:`keras.distribution.set_distribution`: a run leaves no
    global setting behind, so a notebook can train on one device after training on two.
    """
    return contextlib.nullcontext() if distribution is None else distribution.scope()


__all__ = ["MULTI_HOST_VARIABLES", "data_parallel", "parse_devices", "process_shard", "replica_count", "scope"]
