"""Source of book/scaling.ipynb: `python book/_sources/scaling.py` regenerates it."""

from notebook_builder import code, md, preamble, solution, write

cells = preamble(
    "Scaling out",
    "book/scaling.ipynb",
    """
Past the laptop a course runs on, two walls come up. Training on the full public
datasets (tens of thousands of photos, and an unlabelled set a teacher can label) wants
many accelerators. Segmenting a photo library, or pseudo-labelling a dataset, wants many
machines. Neither needs an engine of our own: Keras 3 splits a training batch across
devices with its distribution API, and Ray Data runs a model over millions of files on a
cluster. This chapter runs both for real on this machine, at the smallest size that
shows them working, and measures what they give.
""",
)

cells += [
    md("""
## Data-parallel training: one mesh, one global batch

`selfieseg train --devices all` (or `--devices N`) trains *data-parallel*: every device
holds a copy of the weights, each training batch is cut into equal slices along its first
axis, one slice per device, and the gradients are summed across devices before the
update. In Keras this is `keras.distribution.DataParallel` over a one-axis
`DeviceMesh` named `"batch"`; `selfieseg.distribute` builds it and `train()` makes every
model, metric and optimizer inside its scope.

Three rules make a run on N devices the same run as on one:

* **`--batch-size` is per device.** The global batch is `batch_size x N`, so memory per
  device does not change with N.
* **The learning rate scales with N** (the linear scaling rule of Goyal et al., 2017),
  after the first epoch's warm-up that the schedule already has. With AdamW at large N a
  smaller step can be safer: pass `--lr` to set the per-device base yourself.
* **Every batch splits evenly.** A training epoch drops its last short batch; validation
  pads its last batch with copies marked invalid, which the loss and the IoU ignore.

It runs on Keras's JAX backend (`KERAS_BACKEND=jax`). Keras's TensorFlow implementation
of the same API is a prototype its source marks "do not use", and `tf.distribute`'s
`MirroredStrategy` would be a second training path, so on TensorFlow `--devices` takes
only one device and says how to switch.

This machine has no GPU, but JAX can pretend its CPU is two devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=2`). The cell below trains the tiny
SINet on real PicsArt photos twice, in a JAX process of its own (a kernel's backend is
fixed once Keras is imported): once on one device with a batch of 8, once on two
devices with 4 each and half the base rate, which the scaling rule doubles back. Same
global batches, same effective rate: the losses should agree to float round-off.
"""),
    code("""
import json
import subprocess
import sys
import tempfile
import textwrap
from importlib.util import find_spec
from pathlib import Path

from selfieseg import viz

script = textwrap.dedent('''
    import csv, json, sys
    from selfieseg.train import train
    out = sys.argv[1]
    common = dict(model="sinet_tiny", data=("picsart",), epochs=2, steps_per_epoch=3, verbose=0, augment="mild")
    rows = []
    for devices, batch, rate in ((None, 8, 1e-3), (2, 4, 5e-4)):
        state = train(devices=devices, batch_size=batch, learning_rate=rate, out=f"{out}/devices_{devices or 1}", **common)
        with open(f"{out}/devices_{devices or 1}/log.csv") as f:
            losses = [float(row["loss"]) for row in csv.DictReader(f)]
        s = state["settings"]
        rows.append([s["replicas"], s["batch_size"], s["global_batch_size"], s["scaled_learning_rate"], *losses])
    print("ROWS " + json.dumps(rows))
''')
if find_spec("jax") is None:
    print("JAX is not installed here (pip install 'selfieseg[jax]'): the two-device run is skipped.")
    runs = None
else:
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", script, folder], env=environment, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("ROWS ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(done.stderr[-2000:])
    runs = json.loads(lines[-1][5:])
    display(viz.Table(["devices", "batch per device", "global batch", "learning rate", "loss, epoch 1", "loss, epoch 2"],
                      [[a, b, c, f"{d:g}", e, f] for a, b, c, d, e, f in runs],
                      caption="One device against two, on the same global batches"))
    gap = max(abs(x - y) / abs(x) for x, y in zip(runs[0][4:], runs[1][4:]))
    print(f"largest relative difference in the loss: {gap:.1e}")
"""),
    md("""
The two rows are one computation laid out two ways. What changes on real accelerators is
only speed. The shipped cards record one H100 and one H200 running Keras on JAX beside
this 2-core CPU: the MobileNetV3 U-Net at 192 px took 0.14 min an epoch on the GPU (batch
32) against 2.81 min on the CPU at 224 px, about 20 times faster, and the GPU then
waited on augmentation. So the first thing to scale with N devices is `--workers`, the
threads preparing batches: at 0.14 min an epoch, one GPU already eats about 300 photos a
second.

**Several hosts.** The mesh can span machines. Keras reads three environment variables,
the same on every host but the last, and hands them to `jax.distributed.initialize`:

```bash
export KERAS_BACKEND=jax
export KERAS_DISTRIBUTION_JOB_ADDRESSES=10.0.0.1:1234   # host:port of process 0, the coordinator
export KERAS_DISTRIBUTION_NUM_PROCESSES=4               # one process per host
export KERAS_DISTRIBUTION_PROCESS_ID=0                  # 0 on the coordinator, 1..3 on the others
selfieseg train --model portraitnet --data pfcn,picsart,voc_person,ccp --devices all --out runs/big
```

Each process then prepares only its own slice of every global batch (every host draws the
same order from the same seed), so no host decodes photos another one trains on. Give each
process its own `--out` on local disk, or keep process 0's.
"""),
    md("""
## A million photos: one process, then a cluster

`selfieseg segment FOLDER -o OUT` streams the folder, decodes in a thread pool, calls the
model on batches, writes every output atomically and skips finished ones, so a killed run
resumes where it stopped (`selfieseg.batch`). Past one machine the same per-batch step,
`selfieseg.batch.BatchOfPhotos`, runs inside Ray actors (`selfieseg.scale`, the optional
extra `pip install "selfieseg[scale]"`): `map_batches` hands batches of paths to a pool of
actors, each holding one LiteRT interpreter, with Ray's back-pressure keeping only a few
batches in flight. On the command line it is one flag:

```bash
selfieseg segment photos/ -o masks/ --ray                 # a local Ray
selfieseg segment photos/ -o masks/ --ray head:6379 --workers 64   # a cluster
```

**Pseudo-labelling** is the road to more data: a strong teacher labels photos nobody has
labelled, and a small student learns from them. Below, the best shipped model, exported
to LiteRT, labels PicsArt selfies as if they had no masks, on a local Ray of two CPUs.
Since they do have masks, we can also see how good the pseudo-labels are.
"""),
    code("""
import shutil

import numpy as np
import matplotlib.pyplot as plt

from selfieseg.data import open_dataset
from selfieseg.export import export
from selfieseg.io import read_mask
from selfieseg.metrics import iou
from selfieseg.models import best_shipped_model

picsart = open_dataset("picsart")
count = 24 if FAST else 300
work = Path(tempfile.mkdtemp(prefix="selfieseg-scaling-"))
unlabelled = work / "unlabelled"
unlabelled.mkdir()
for k in range(count):
    shutil.copy(picsart.records[k].image, unlabelled / picsart.records[k].image.name)

teacher_name = best_shipped_model()
teacher = export(teacher_name, work / f"{teacher_name}.tflite")
print(f"teacher: {teacher_name}, {teacher.stat().st_size / 1024:.0f} KB as LiteRT; {count} photos to label")
"""),
    code("""
if find_spec("ray") is None:
    print("Ray is not installed here (pip install 'selfieseg[scale]'): labelling in one process instead.")
    from selfieseg.batch import segment_folder

    labelled = segment_folder(unlabelled, work / "pseudo", model=teacher, progress=False)
else:
    from selfieseg.scale import segment_folder_ray

    labelled = segment_folder_ray(unlabelled, work / "pseudo", model=teacher, workers=2, num_cpus=2, progress=False)
print(f"{labelled.processed} pseudo-labels in {labelled.seconds:.1f} s ({labelled.photos_per_second:.1f} photos/s, "
      "Ray's start and model loading included)")

scores = []
for k in range(count):
    record = picsart.records[k]
    pseudo = read_mask(work / "pseudo" / f"{record.image.stem}_mask.png") > 127
    scores.append(iou(picsart[k].mask > 0, pseudo))
scores = np.array(scores)
order = np.argsort(scores)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].hist(scores, bins=20, color="tab:blue")
axes[0].set(xlabel="IoU of the pseudo-label against the real mask", ylabel="photos",
            title=f"{teacher_name} as a teacher: median {np.median(scores):.3f}")
axes[1].axis("off")
axes[1].text(0, 0.5, f"worst: {scores[order[0]]:.3f}\\nbest: {scores[order[-1]]:.3f}\\n"
             f"below 0.9: {(scores < 0.9).sum()} of {count}", fontsize=12)
plt.show()
"""),
    code("""
fig, axes = plt.subplots(3, 3, figsize=(9, 9))
for row, k in enumerate(order[:3]):  # the teacher's three worst labels
    record = picsart.records[k]
    panels = [picsart[k].image, read_mask(work / "pseudo" / f"{record.image.stem}_mask.png"), picsart[k].mask]
    for ax, panel, title in zip(axes[row], panels, ["photo", f"pseudo-label (IoU {scores[k]:.3f})", "real mask"]):
        ax.imshow(panel, cmap="gray"); ax.set_title(title); ax.axis("off")
plt.show()
"""),
    md("""
The labels are the teacher's mistakes too: where it misses a hand, the student learns to
miss it. Two defences: keep only photos where the teacher is sure (few pixels near 0.5),
and keep the real labelled sets in the mix so the student sees the truth as well. The
folder of pseudo-labels is an ordinary labelled set: `ImageMaskFolder` reads it (masks
named `<stem>_mask.png`), and the library's own distillation (`selfieseg train
--teacher portraitnet --distill 0.5`) blends the teacher's probabilities with real masks
during training, which is how the shipped SINet was trained.
"""),
    code("""
from selfieseg.data import ImageMaskFolder

student_data = ImageMaskFolder(unlabelled, work / "pseudo", mask_suffix="_mask")
print(f"{len(student_data)} photos with pseudo-labels, ready for a student; the first is "
      f"{student_data[0].image.shape[1]}x{student_data[0].image.shape[0]}, person {student_data[0].mask.mean():.0%} of it")
"""),
    md("""
## What it costs: the measured throughput

`benchmarks/batch.py` times, in one run on this machine, the old photo-at-a-time loop, the
batched command, the batched command on the LiteRT file, and Ray with one and two actors,
then estimates a cluster on paper. Its last result:
"""),
    code("""
from IPython.display import Markdown

results = Path(selfieseg.__file__).resolve().parents[1] / "benchmarks" / "results" / "batch.md"
if results.exists():
    display(Markdown(results.read_text()))
else:
    print("benchmarks/results/batch.md is not in this copy: run python benchmarks/batch.py")
"""),
    md("""
On two shared cores Ray does not beat the batched command: both are busy decoding JPEGs
and writing PNGs, and Ray adds its start-up and actor processes. What Ray buys is the step
from one machine to a hundred without changing the per-batch code: the rate per actor
above is what each core of a cluster adds, as long as the storage keeps up.

## Summary

* `--devices` cuts every batch across a mesh of devices; with the batch per device and the
  learning rate scaled by N, N devices compute what one device computes on the global
  batch, to float round-off (shown above on two CPU devices).
* Several hosts join one mesh through three environment variables read by
  `jax.distributed.initialize`; each host prepares only its slice of the batch.
* A folder of any size streams through `selfieseg segment`, resumable and atomic; with
  `--ray` the same per-batch step runs in an actor pool on a local Ray or a cluster.
* Pseudo-labels from a strong teacher turn unlabelled photos into training data; measure
  them against real masks where you can, and keep real labels in the mix.

## Exercises
"""),
    md("**1.** A run on 8 GPUs with `--batch-size 16 --lr 0.002`: what global batch and what peak learning rate does it use? Set both."),
    code("global_batch, peak_rate = None, None"),
    solution("global_batch, peak_rate = 16 * 8, 0.002 * 8"),
    code("""
from selfieseg import exercises

exercises.check_close(global_batch, 128, "global batch")
exercises.check_close(peak_rate, 0.016, "peak learning rate", rtol=1e-9)
"""),
    md("**2.** Two hosts share a global batch of 8 photos. Which rows of the batch does host 1 prepare? Build a validation `SegmentationSequence` over the pseudo-labelled folder with `batch_size=8, batch_multiple=2, shard=(1, 2)` and check its first batch equals the second half of the unsharded one."),
    code("host_one = None  # the x of the first batch host 1 prepares"),
    solution('''
from selfieseg.data import SegmentationSequence

common = dict(batch_size=8, size=64, shuffle=False, valid_channel=True, batch_multiple=2)
host_one = SegmentationSequence([student_data], shard=(1, 2), **common)[0][0]
'''),
    code('''
from selfieseg.data import SegmentationSequence

whole = SegmentationSequence([student_data], batch_size=8, size=64, shuffle=False, valid_channel=True, batch_multiple=2)[0][0]
assert host_one is not None and host_one.shape[0] == 4, "host 1 prepares 4 of the 8 rows"
exercises.check_close(float(np.abs(host_one - whole[4:]).max()) + 1.0, 1.0, "largest difference from rows 4-7 (+1)", rtol=1e-9)
'''),
    md("**3.** Keep only confident pseudo-labels: a photo passes when fewer than 5% of its pixels have a teacher probability between 0.2 and 0.8. Among the photos above, what is the mean IoU (against the real masks) of those that pass? Is it higher than the mean of all?"),
    code("confident_iou = None"),
    solution('''
passed = []
for k in range(count):
    probability = read_mask(work / "pseudo" / f"{picsart.records[k].image.stem}_mask.png") / 255.0
    passed.append(((probability > 0.2) & (probability < 0.8)).mean() < 0.05)
passed = np.array(passed)
confident_iou = float(scores[passed].mean()) if passed.any() else float("nan")
'''),
    code('''
def unsure_share(k):  # share of pixels where the teacher's probability is between 0.2 and 0.8
    probability = read_mask(work / "pseudo" / f"{picsart.records[k].image.stem}_mask.png") / 255.0
    return float(((probability > 0.2) & (probability < 0.8)).mean())

confident = np.array([unsure_share(k) < 0.05 for k in range(count)])
exercises.check_close(confident_iou, float(scores[confident].mean()), "mean IoU of the confident labels", rtol=1e-6)
print(f"all {count}: {scores.mean():.4f}; the {int(confident.sum())} confident ones: {scores[confident].mean():.4f}")
'''),
    md("**4.** From the benchmark's table, how many actors would label a million photos in one hour at the measured rate per actor? Open question: what else would you measure before renting them (storage, start-up, stragglers)?"),
]

write(cells, "book/scaling.ipynb", tables=["One device against two, on the same global batches"])
