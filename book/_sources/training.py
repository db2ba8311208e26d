"""Source of book/training.ipynb: `python book/_sources/training.py` regenerates it."""

from notebook_builder import code, md, preamble, solution, write

cells = preamble(
    "Training on a CPU",
    "book/training.ipynb",
    """
How the shipped weights were trained on a 2-core laptop-class CPU, and how to train your
own, here or on a Colab GPU. How they compare with Google's MediaPipe selfie segmenter,
and where they fail, is the next chapter, Evaluation.
""",
)

cells += [
    md("""
## The recipe

* **Data**: PFCN's *train* list and the PicsArt selfies, decoded once into a 256x256
  cache; 10% held out (seeded) for choosing the best epoch. The PFCN *test* list is the
  benchmark and is refused by the training code. The mixed recipe (below) adds VOC
  person and CCP, each without its committed test list.
* **Augmentation**: flip, rotation up to 45 degrees, scale 0.5-1.5, shift, colour, blur,
  noise (`--augment full`; the Data chapter shows them).
* **Stages**: a run can start from another's weights (`--init`). A second stage with
  `--augment mild` (rotation up to 15 degrees, scale 0.8-1.25, smaller shifts) and a
  lower learning rate fine-tunes on pictures framed the way portraits are; the model
  card then lists every stage and totals their epochs and time.
* **Background compositing** (optional, `--composite 0.5`): that share of the training
  people is put in front of another training photo's background, its own person
  smeared out (the Data chapter shows it). The labels do not change, so the model cannot
  lean on which rooms and walls PFCN and PicsArt happen to use as backgrounds. Preparing
  a 192-px example with its background swapped took 6.2-7.0 ms against 2.7-3.9 ms
  without (a 2-core CPU, while a training run shared it), so `--composite 0.5` adds
  about 2 ms per image, some 30 ms per batch of 16 against a 400 ms SINet step at 192
  there. SINet's last stage trained with it (validation 0.9456 to 0.9471, PFCN test
  0.9542 to 0.9564), but no run without it was made beside that one, so compositing's
  share of the gain is not measured; a PortraitNet fine-tune with it on a GPU gained
  nothing (below).
* **Loss**: binary cross-entropy plus Dice; PortraitNet adds its boundary loss (focal loss
  on mask edges, weight 0.3) and SINet weighs the boundary band 3x in the cross-entropy.
* **Consistency** (optional, `--consistency 1.0`): PortraitNet's idea. Each training image
  also goes through the network with a second, independent texture change (colour,
  blur, noise; the same geometry), and a KL term pulls that prediction towards the
  first. It teaches the model that lighting is not shape, at twice the compute per step;
  the shipped models were trained without it (the CPU budget went to more epochs).
* **Distillation** (optional, `--teacher portraitnet --distill 0.5`): a small model learns
  from a larger one's probabilities as well as from the labels. The teacher runs once
  over the cache (its maps are stored beside it, keyed by a hash of its weights), the
  maps are warped with the masks, and each training target becomes
  `(1 - distill) * mask + distill * teacher`; validation keeps the plain masks. It costs
  nothing per step. The shipped MobileNet U-Nets were distilled from PortraitNet; no
  run without the teacher was made beside them, so the gain of distillation alone is
  not measured.
* **Time budget** (optional, `--minutes 30`): for a Colab session or a rented GPU. The
  cosine schedule follows the clock instead of the epoch count, and training stops at
  an epoch's end before the budget runs out; `--epochs` becomes a ceiling. With
  `--workers 4`, threads prepare batches so that a GPU does not wait on augmentation.
* **Weight averaging** (optional, `--average-from 0`): for a last stage. From that epoch
  on the learning rate stays where the schedule put it, the weights at each epoch's end
  join a running mean (stochastic weight averaging), and the mean is validated every
  epoch and kept as the best checkpoint whenever it beats every single epoch. A
  fine-tune at a small rate wanders around a good solution; the mean of the places it
  visits tends to sit nearer the middle of that basin. Measured on the MobileNetV3
  U-Net's last stage (30 epochs at 224 from weights trained at 192, rate held at 2e-4,
  84 min on this CPU): validation IoU 0.9343 at the start, 0.9377 for the mean of all
  30 epochs, 0.9390 for the best single epoch, which therefore shipped (PFCN test 0.9478
  to 0.9506). On the same validation images mirrored the two tie (0.9377 and 0.9374):
  the best of 30 noisy epochs flatters itself a little, the mean does not. The stage
  also moved training to the served size, so the share of the gain due to averaging
  alone is not measured. PortraitNet's fourth stage did the same (18 epochs at 224,
  rate held at 2e-4, 41 min): validation 0.9563 at the start, 0.9579 for the mean,
  0.9586 for the luckiest single epoch, but mirrored 0.9575 for the mean against 0.9566
  for that epoch, so the mean shipped (`selfieseg ship --run RUN --weights average`) and
  took PFCN test from 0.9595 to 0.9618 (MediaPipe 0.9613: a tie, paired image by image,
  95% interval -0.0034 to +0.0048; a fifth stage on the four labelled sets, in "Training
  on the mix" below, then traded 0.0019 of it for people outside portraits). The run folder keeps
  the mean twice: `average.weights.h5` to load and ship, `average_train.weights.h5`
  (with the training-only boundary head) to resume from.
* **Encoder start**: ImageNet where it is cached (PortraitNet's MobileNetV2 width 1.0; the
  MobileNetV2 U-Net takes those weights sliced to width 0.5), from scratch otherwise.
  Batch-norm momentum is capped at 0.99 so running statistics keep up in short runs.
* **Optimiser**: AdamW, a one-epoch warm-up then cosine decay.
* **Checkpoints** every epoch, and `--resume` continues a killed run where it stopped.
* **Backends**: the same `train()` runs on Keras's JAX backend (`KERAS_BACKEND=jax`),
  which is how the MobileNet U-Nets' last stages ran on a GPU machine without TensorFlow;
  each card's stage table says which machine trained which stage.
"""),
    code("""
import json

import numpy as np
import matplotlib.pyplot as plt

from selfieseg import losses, exercises
from selfieseg.train import cosine_schedule

rate = cosine_schedule(1e-3, 30)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot([rate(e) for e in range(30)])
axes[0].set(xlabel="epoch", ylabel="learning rate", title="warm-up + cosine")

# what each loss sees on one real mask, as the prediction gets better
from selfieseg.data import open_dataset

sample = open_dataset("pfcn", split="train")[0]
truth = sample.mask[None, ::4, ::4, None].astype("float32")
for name, fn in [("BCE", losses.binary_crossentropy), ("Dice", losses.dice_loss), ("focal", losses.focal_loss)]:
    values = [float(np.asarray(fn(truth, (truth * 2 - 1) * sharp))[0]) for sharp in np.linspace(0, 6, 13)]
    axes[1].plot(np.linspace(0, 6, 13), values, label=name)
axes[1].set(xlabel="logit magnitude on the right side", ylabel="loss", title="losses as predictions sharpen")
axes[1].legend()
plt.show()
"""),
    md("What the consistency loss compares: one warped picture, two texture draws, one mask."),
    code("""
from selfieseg import viz
from selfieseg.data import SegmentationSequence

pairs = SegmentationSequence(open_dataset("picsart").subset(range(4)), batch_size=4, size=160, augment=True,
                             twin=True, seed=3)
x, y, _ = pairs[0]
viz.image_grid([*x["image"], *x["twin"]], columns=4, titles=["image"] * 4 + ["texture twin"] * 4, size=2.0)
plt.show()
"""),
    md("""
## Train, for real, on this machine

The same function as `selfieseg train` on the command line. In the fast (CI) mode it runs
two steps of the tiny SINet; otherwise 40 steps of the real one at 128x128. It
checkpoints every epoch and a second call with `resume=True` continues where the first
stopped.
"""),
    code("""
import tempfile
from pathlib import Path

from selfieseg.train import train

out = Path(tempfile.mkdtemp()) / "sinet_demo"
# CI's fast mode runs the same code on the 32x32 test-size SINet (tracing the full one costs a minute)
model, size, steps = ("sinet_tiny", 32, 2) if FAST else ("sinet", 128, 40)
state = train(model, data=("picsart",), epochs=1, out=out, input_size=size, batch_size=8, steps_per_epoch=steps, verbose=2)
print({k: state[k] for k in ("epoch", "best")}, sorted(p.name for p in out.iterdir()))
state = train(model, data=("picsart",), epochs=2, out=out, input_size=size, batch_size=8, steps_per_epoch=steps, verbose=2, resume=True)
print("after resume:", state["epoch"], "epochs")
"""),
    md("""
On the command line, in the background so it outlives the terminal:

```bash
nohup selfieseg train --model portraitnet --data pfcn,picsart --epochs 14 --input-size 160 \\
    --out runs/portraitnet_160 > runs/portraitnet_160.log 2>&1 &
selfieseg train --model portraitnet ... --out runs/portraitnet_160 --resume   # after a stop
selfieseg ship --run runs/portraitnet_160    # evaluate, copy into the package, write the model card
```

Measured on this project's 2-core CPU (batch 16, median step after warm-up): SINet at
224 about 2.2-2.7 s per step, PortraitNet at 224 about 4.4 s and at 160 about 1.5 s,
MobileNetV2-0.5 U-Net at 128 about 1.0 s; an epoch over PFCN train + PicsArt (2,233
training images) is about 140 steps, so PortraitNet's second stage took about 4 min an
epoch with validation. Anything else running on the two cores (a test suite, a
notebook) roughly doubles these.

One trap cost the first runs a third of their time: the first time TensorFlow's
generator dataset runs (Keras wraps every `PyDataset` in one), it pins glibc's malloc
trim threshold at 128 KB, which switches off glibc's adaptive mmap threshold, so every
large activation buffer is mapped and unmapped again on every step. Measured on
PortraitNet at 160: `fit` 2.20 s per step, `train_on_batch` on the same batches 1.59 s,
`fit` after restoring the thresholds 1.50 s. `selfieseg.train` restores them after every
step (`restore_malloc_thresholds`); the shipped SINet and U-Net runs, and PortraitNet's
first stage, were trained before that fix.

On a GPU the same command is two orders of magnitude faster: an H100 (Keras on JAX,
batch 32) trained the MobileNetV3 U-Net at 192 for 27 epochs in 3.9 min, about 9 s an
epoch, where this CPU takes about 7.5 min (its card's stage table has both). We have not
measured a Colab GPU; expect it between the two.

A faster machine is not a better model, though. PortraitNet at 224 (batch 16, Keras on
JAX, `--workers 14`) ran 33 epochs in 7.0 min on an H200, 12.7 s an epoch with
validation where this CPU takes about 130 s. At 41-53 ms a step the likely limit was
the threads preparing batches (one thread here augments a batch of 16 in 84 ms), not the
GPU; we did not profile it. That run continued the shipped weights
(`--augment mild --composite 0.5`, cosine from 5e-4, the packed cache of
`book/setup.md`) and did not beat them: validation IoU 0.9576 against their 0.9579
(both scored here on the original cache, not the GPU's WebP copy). The first epoch knocked it back (0.948 on the
GPU's validation) and the rest of the schedule only climbed back, so the shipped
weights were kept. The CPU stages had gained less each time (best validation 0.9207,
0.9504, 0.9550, 0.9586 after stages 1 to 4); this run suggests the recipe has run its
course on these 2,481 photos, and that more data, not more epochs, is the next step.
`--init` takes any
weights file a run writes, the training checkpoints with PortraitNet's boundary head
as well; seeding from one or from the shipped file made no difference (40 steps from
each: validation 0.9564 against 0.9569, and 0.9694 against 0.9696 on a second seeded
split).

## Training on the mix

More data means other kinds of photo, not more portraits. The library reads four
labelled sets for training: PFCN train and PicsArt (half-body portraits and selfies),
VOC person (people in the wild, often small, void borders ignored) and CCP (full-body
street photos). VOC person and CCP hold out a committed test list (about 15% each,
chosen by a hash of the file name: `selfieseg/data/splits/`), and `selfieseg train`
refuses any test split by name, as it refuses PFCN's.

```bash
nohup selfieseg train --model sinet --data pfcn,picsart,voc_person,ccp \
    --data-weights pfcn=1,picsart=1,voc_person=1,ccp=1 --augment wide \
    --init selfieseg/weights/sinet.weights.h5 --out runs/sinet_mix --resume > runs/sinet_mix.log 2>&1 &
```

`--data-weights` sets each dataset's share of an epoch whatever its size: with equal
weights the 511 VOC training photos (of 3,709) are a quarter of every epoch instead of one photo in seven.
`--augment wide` zooms down to 0.2x (drawn in log space), so a half-body portrait also
becomes a person of a few percent of the frame, as in VOC.

PortraitNet, continued from its shipped weights this way for 19 epochs (2 h on this
CPU), learned the new kinds of photo and forgot a little of the old: +0.089 IoU on VOC
person test, +0.015 on CCP test, but -0.007 on PFCN test. Both ends are fine-tunings of
one network, so the straight line between them in weight space is a working network too,
and a point on it can keep most of each. `selfieseg interpolate` walks that line, scores
each point on the run's own validation images *per dataset*, and keeps the best mean
over datasets among the points that lose no dataset more than `--keep` (never on a
test split: the point is chosen on validation, the test split only reports it):

```bash
selfieseg interpolate --run runs/portraitnet_mix --out runs/portraitnet_mix_interp --keep 0.005
selfieseg ship --run runs/portraitnet_mix_interp
```

Here it is for real on a small run: a second stage of the run above, at a learning rate
high enough to move it, interpolated back towards the first.
"""),
    code("""
from selfieseg.weight_interpolation import interpolate_run

second = out.parent / "sinet_demo_second"
train(model, data=("picsart",), epochs=1, out=second, input_size=size, batch_size=8, steps_per_epoch=steps,
      init_weights=out / "best.weights.h5", learning_rate=0.02, verbose=0)
record = interpolate_run(second, out.parent / "sinet_demo_interp", alphas=(0, 0.25, 0.5, 0.75, 1), progress=False)
viz.Table(["alpha", "PicsArt validation IoU"], [[row["alpha"], row["picsart"]] for row in record["table"]],
          caption="A small run interpolated towards its start, on its validation images")
"""),
    md("""
The shipped models' cards carry the same record when they were shipped this way, and
every card now scores the benchmark's four held-out sets beside MediaPipe:
"""),
    code("""
from selfieseg.models import WEIGHTS_DIR

shipped_cards = {p.stem: json.loads(p.read_text()) for p in sorted(WEIGHTS_DIR.glob("*.json"))}
held_out = ["PFCN test", "VOC person test", "CCP test", "DAVIS parkour", "mean"]
rows = [[name, card["training"]["data"] and ", ".join(card["training"]["data"]),
         *[card.get("held_out", {}).get(column, {}).get("iou", float("nan")) for column in held_out]]
        for name, card in shipped_cards.items()]
reference = next((card["held_out"] for card in shipped_cards.values() if card.get("held_out")), None)
if reference:
    rows.insert(0, ["MediaPipe", "(Google's)", *[reference[column]["mediapipe"] for column in held_out]])
viz.Table(["model", "trained on", *held_out], rows, caption="The shipped models' cards: four held-out sets beside MediaPipe")
"""),
    code("""
for name, card in shipped_cards.items():
    line = card["training"].get("interpolation")
    if not line:
        continue
    table = line["validation"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for key in [key for key in table[0] if key != "alpha"]:
        ax.plot([row["alpha"] for row in table], [row[key] for row in table], marker="o", label=key,
                lw=2.5 if key == "mean" else 1.2)
    ax.axvline(line["alpha"], color="grey", ls="--")
    ax.set(xlabel="alpha (0: the start, 1: the fine-tuned run)", ylabel="validation IoU",
           title=f"{name}: the line it was shipped from (alpha {line['alpha']:g})")
    ax.legend(fontsize=8, ncol=3)
    plt.show()
"""),
    md("""
On the test splits (`benchmarks/results/interpolation_portraitnet.md`, MediaPipe in the
same run) the chosen point, alpha 0.5, keeps PFCN test at 0.9599 (the start: 0.9618,
MediaPipe 0.9613), lifts VOC person test from 0.401 to 0.465 (MediaPipe 0.518), CCP test
from 0.897 to 0.910 (0.919) and the DAVIS frames from 0.516 to 0.717 (0.639), so its mean
over the four, 0.763, is the first of ours above MediaPipe's 0.759. The points between
0.6 and 0.9 beat the fine-tuned end itself on VOC and DAVIS: the line is not a simple
trade.

The same recipe with that PortraitNet as the teacher (`--teacher portraitnet`: half of
each training target is its prediction) made the shipped MobileNetV2 U-Net
(`benchmarks/results/interpolation_mnv2_unet.md`, 27 epochs in 63 min on one CPU core).
Its validation images chose alpha 1, the fine-tune itself: VOC person test went from 0.315
to 0.404, CCP test from 0.825 to 0.884 and the DAVIS frames from 0.279 to 0.649, a tie
with MediaPipe, for 0.0009 of its PFCN test score (0.9515 to 0.9506). On SINet the same
run did not pay: at its chosen point (alpha 0.5) PFCN test fell from 0.9564 to 0.9532
(`benchmarks/results/interpolation_sinet_distilled.md`). The SINet shipped now comes
from a third run with the sampling tilted back to portraits
(`--data-weights pfcn=2,picsart=1,voc_person=0.5,ccp=0.5`), less of the teacher
(`--distill 0.3`) and a stricter rule fixed before it ran (`--keep 0.002`). Its
validation images chose alpha 0.25 (`benchmarks/results/interpolation_sinet_tilted.md`):
PFCN test 0.9558 (0.0006 under its start), VOC person 0.326 to 0.348, CCP 0.852 to 0.859,
the DAVIS frames 0.325 to 0.358. Small steps, and every point further along trades more
PFCN for more of the rest. The MobileNetV3 U-Net's first run (equal weights, 17 epochs,
121 min on one core) met the same rule only at alpha 0, its start
(`benchmarks/results/interpolation_mnv3_unet.md`). The shipped one comes from the tilted
recipe at a lower rate (`--lr 0.0003`, 14 epochs in 94 min), with the rule and a finer
grid of points (every eighth) fixed before it ran: validation chose alpha 0.25
(`benchmarks/results/interpolation_mnv3_unet_tilted.md`), PFCN test 0.9506 to 0.9516, VOC
person 0.304 to 0.324, CCP 0.834 to 0.846, the DAVIS frames 0.223 to 0.255. Exercise 4
below asks why a model of 87K parameters might trade one kind of photo for the other
where one of 1.2M did not.

## The shipped models: loss curves from their own runs

Each shipped model's card (`selfieseg/weights/NAME.json`) holds its training log.
"""),
    code("""
cards = {p.stem: json.loads(p.read_text()) for p in sorted(WEIGHTS_DIR.glob("*.json"))}
if not cards:
    print("No shipped weights in this version.")
for name, card in cards.items():
    # earlier stages first (a run started from another's weights), then this run
    stages = [*card["training"].get("earlier_stages", []), {"history": card.get("history", [])}]
    history = [row for stage in stages for row in stage["history"]]
    fig, ax = plt.subplots(figsize=(6, 3))
    epochs = np.arange(1, len(history) + 1)
    ax.plot(epochs, [row["loss"] for row in history], label="training loss")
    val = [row.get("val_person_iou", row.get("val_mask_person_iou")) for row in history]
    ax2 = ax.twinx()
    ax2.plot(epochs, val, color="C1", label="validation IoU")
    for boundary in np.cumsum([len(stage["history"]) for stage in stages[:-1]]):
        ax.axvline(boundary + 0.5, color="grey", linestyle=":")  # where the next stage started
    minutes = card["training"].get("total_wall_minutes", card["training"]["wall_minutes"])
    ax.set(xlabel="epoch (all stages)", title=f"{name}: {minutes} min on {card['training']['machine']}")
    fig.legend(loc="lower center", ncol=2, fontsize=8)
    plt.show()
"""),
    md("""
## Summary

* Training is one function (and one command) that caches, augments, checkpoints every
  epoch and resumes; the PFCN test split is refused for training.
* Each shipped model's card records its data, epochs, wall time and test IoU beside
  MediaPipe's; the Evaluation chapter measures them all side by side, across four
  datasets, and shows where they fail.

## Exercises
"""),
    md("**1.** Implement the per-image person IoU of a binary prediction and a mask."),
    code('''
def my_iou(mask, prediction):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def my_iou(mask, prediction):
    mask, prediction = np.asarray(mask) > 0, np.asarray(prediction) > 0.5
    union = np.logical_or(mask, prediction).sum()
    return 1.0 if union == 0 else np.logical_and(mask, prediction).sum() / union
'''),
    code('''
from selfieseg.metrics import iou

rng = np.random.default_rng(0)
for s in open_dataset("picsart")[:3]:
    noisy = np.clip(s.mask + (rng.random(s.mask.shape) > 0.97), 0, 1)
    exercises.check_close(my_iou(s.mask, noisy), iou(s.mask, noisy), f"IoU of {s.name}", rtol=1e-6)
'''),
    md("**2.** Compute the soft Dice loss of one prediction by hand (numpy) and compare with `selfieseg.losses.dice_loss` (smooth = 1)."),
    code('''
truth = sample.mask[::8, ::8].astype("float32")
logits = np.where(truth > 0, 2.0, -1.0).astype("float32")
answer_2 = None  # your number
'''),
    solution('''
p = 1 / (1 + np.exp(-logits))
answer_2 = 1 - (2 * (p * truth).sum() + 1) / (p.sum() + truth.sum() + 1)
'''),
    code('exercises.check_close(answer_2, float(np.asarray(losses.dice_loss(truth[None, ..., None], logits[None, ..., None]))[0]), "Dice loss", rtol=1e-4)'),
    md("**3.** The schedule above, `cosine_schedule(1e-3, 30)`: at which epoch (counting from 0) does the learning rate first fall below half its peak?"),
    code("answer_3 = None"),
    solution("answer_3 = next(epoch for epoch in range(30) if rate(epoch) < 0.5 * max(rate(e) for e in range(30)))"),
    code('''
peak = max(rate(epoch) for epoch in range(30))
exercises.check_close(answer_3, next(epoch for epoch in range(30) if rate(epoch) < 0.5 * peak), "first epoch below half the peak rate", rtol=0.0)
'''),
    md("""**4.** Open question. The same mixed, distilled fine-tune cost the MobileNetV2 U-Net
(1.2M parameters) 0.0009 on PFCN test at alpha 1 and SINet (87K) 0.0083
(`benchmarks/results/interpolation_mnv2_unet.md`, `interpolation_sinet_distilled.md`);
tilting SINet's sampling back to portraits cut that to 0.0045 at alpha 1
(`interpolation_sinet_tilted.md`).
Plot PFCN test IoU against the mean of the other three sets along each line. What would
you change to test the idea that the small model runs out of room, rather than out of
epochs: a longer run, a lower `--distill`, data weights tilted back towards portraits, or
a wider SINet? Which one costs least to try on a 2-core CPU?"""),
]

write(cells, "book/training.ipynb", tables=(
    "A small run interpolated towards its start, on its validation images",
    "The shipped models' cards: four held-out sets beside MediaPipe",
))
