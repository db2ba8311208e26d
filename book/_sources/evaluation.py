"""Source of book/evaluation.ipynb: `python book/_sources/evaluation.py` regenerates it."""

from notebook_builder import code, md, preamble, solution, write

TABLES = (
    "PFCN test: every shipped model beside MediaPipe, scored in this run",
    "Per-image mean against pooled IoU, per dataset",
    "Across four datasets, from benchmarks/accuracy.py",
    "Mean IoU by kind of photo, all four datasets",
)

cells = preamble(
    "Evaluation: what the numbers say, and what they hide",
    "book/evaluation.ipynb",
    """
How the shipped models are scored against Google's MediaPipe selfie segmenter, what each
number measures, and what an average leaves out. The chapter scores every model live on
the PFCN test split, reads the benchmark's table across four datasets, asks whether a
difference of a few thousandths is a difference at all (a paired bootstrap), and then
looks at the photos where our best model fails, to name what goes wrong.

In the fast mode (`SELFIESEG_FAST=1`, the tests) every dataset is a small, evenly spaced
subset; the full build scores whole test splits.
""",
)

cells += [
    md("""
## One scoring loop for every model

Every model goes through the same code, `selfieseg.evaluation.evaluate_split`: the photo
is squashed to the model's input, the probability is resized back to the photo's own
size, thresholded at 0.5, and compared with the mask pixel by pixel. The command line,
`selfieseg ship` (which writes the numbers into the model cards), the benchmarks and this
chapter all call it, so a number here, in a card and in `benchmarks/results/` comes from
one place. MediaPipe runs from its own `.tflite` file on LiteRT.

Four test sets, none seen in training:

* **PFCN test**: 264 half-body portraits, the standard benchmark for this task;
* **VOC person test**: people in the wild (sport, streets, groups, often small); VOC
  leaves a void band around every object, which is ignored;
* **CCP test**: full-body street-fashion photos;
* **DAVIS parkour**: 100 frames of one video of a running, jumping man, each scored as a photo.
"""),
    code("""
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, display

from selfieseg import exercises, viz
from selfieseg.data import open_dataset
from selfieseg.evaluation import BENCHMARK_SETS, evaluate_split
from selfieseg.inference import Segmenter, TFLiteSegmenter
from selfieseg.metrics import bootstrap_means, paired_difference
from selfieseg.models import best_shipped_model, shipped_models

anchors = Path(os.environ.get("SELFIESEG_ANCHORS", "../../shared/anchors"))
mediapipe_file = anchors / "mediapipe_selfie_segmentation.tflite"
if not mediapipe_file.exists():
    raise FileNotFoundError(f"{mediapipe_file} not found: set SELFIESEG_ANCHORS to the folder that holds "
                            "MediaPipe's mediapipe_selfie_segmentation.tflite")

# the benchmark's four held-out sets (the model cards' columns too); the fast mode takes every step-th image
FAST_STEP = {"PFCN test": 11, "VOC person test": 10, "CCP test": 17, "DAVIS parkour": 12}
readers = {}
for title, name, options in BENCHMARK_SETS:
    reader = open_dataset(name, **options)
    readers[title] = reader.subset(slice(None, None, FAST_STEP[title])) if FAST else reader
print(", ".join(f"{title}: {len(reader)} images" for title, reader in readers.items()))

best = best_shipped_model()  # the highest PFCN-test IoU in its model card
segmenters = {"MediaPipe": TFLiteSegmenter(mediapipe_file)}
segmenters.update({name: Segmenter(name) for name in shipped_models()})
print("models:", ", ".join(segmenters), f"(best shipped: {best})")
"""),
    md("""
## Side by side on PFCN test

Each row is one model on the same portraits, scored in this run. *Mean IoU* is the
project's benchmark number: the IoU of each image, averaged, so every portrait counts
the same. *Pooled IoU* divides the set's total intersection by its total union. The
*boundary F-score* looks at the outline only (below). The last column is the paired
difference to MediaPipe with its 95% bootstrap interval (also below).
"""),
    code("""
pfcn = readers["PFCN test"]
# the boundary F-score's tolerance: 0.8% of the image diagonal, as in the DAVIS benchmark (8 px on 600x800)
tolerance = int(np.ceil(0.008 * np.hypot(*pfcn[0].image.shape[:2])))
scores = {label: evaluate_split(segmenter, pfcn, progress=False, boundary_tolerance=tolerance)
          for label, segmenter in segmenters.items()}
rows = []
for label, result in scores.items():
    per_image = np.asarray(result.per_image)
    if label == "MediaPipe":
        versus = "-"
    else:
        d = paired_difference(result.per_image, scores["MediaPipe"].per_image)
        versus = f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
    rows.append([label, len(per_image), result.mean_iou, result.dataset_iou, result.mean_boundary_f,
                 int((per_image < 0.90).sum()), versus])
viz.Table(["model", "images", "mean IoU", "pooled IoU", f"boundary F ({tolerance} px)", "images below 0.90",
           "mean IoU - MediaPipe [95% interval]"], rows,
          caption="PFCN test: every shipped model beside MediaPipe, scored in this run")
"""),
    md("""
## Per image, or pooled?

The two IoUs answer different questions. Pooled IoU counts pixels: a portrait filling
the frame has a hundred times the pixels of a small figure in a crowd, so it weighs a
hundred times more, and a model that misses every small person barely moves the score.
The per-image mean counts photos. On PFCN, where one person fills most of every frame,
the two agree to a few ten-thousandths; elsewhere they do not.
"""),
    code("""
across = {"PFCN test": {label: scores[label] for label in ("MediaPipe", best)}}
for title, reader in readers.items():
    if title != "PFCN test":
        across[title] = {label: evaluate_split(segmenters[label], reader, progress=False) for label in ("MediaPipe", best)}
rows = []
for title, results in across.items():
    for label, result in results.items():
        rows.append([title, len(result.per_image), label, result.mean_iou, result.dataset_iou,
                     f"{result.dataset_iou - result.mean_iou:+.4f}"])
viz.Table(["dataset", "images", "model", "per-image mean IoU", "pooled IoU", "pooled - mean"], rows,
          caption="Per-image mean against pooled IoU, per dataset")
"""),
    md("""
They part in both directions, depending on the size of the failures. Missed small
people have few pixels, so pooled IoU forgives them and comes out higher (VOC person:
about 0.12 above the per-image mean in the full build, for both models). A failure that
marks a large area wrongly adds its pixels to the pooled union, so pooled IoU comes out
lower (DAVIS parkour: 0.06 below for PortraitNet, 0.11 for MediaPipe; the gallery below
shows PortraitNet marking a whole wall as the runner). Neither is wrong, but only the
per-image mean says how often a photo comes out bad, which is what a user meets. This
project reports it and prints the pooled one beside it.

## Averages hide failures

A mean of 0.96 sounds like every portrait is nearly right. The histograms say otherwise
(note each panel's own scale). On PFCN most portraits sit above 0.95 and a tail of a few
dozen trails below 0.9, and the tail is where a user notices. On VOC person a heap sits
at 0: people missed altogether. On DAVIS, MediaPipe's frames cluster between 0.7 and 0.9
while ours spread from 0.1 to 0.8. A box per model (whiskers at the 5th and 95th
percentiles, dots beyond them) shows the PFCN tail for every shipped model.
"""),
    code("""
fig, axes = plt.subplots(1, len(across), figsize=(4.2 * len(across), 3.2), sharey=False)
for ax, (title, results) in zip(axes, across.items()):
    lowest = min(min(results[label].per_image) for label in results)
    bins = np.linspace(np.floor(lowest * 10) / 10, 1, 41)  # each panel from its own worst image up to 1
    for label, color in (("MediaPipe", "tab:red"), (best, "tab:blue")):
        per_image = np.asarray(results[label].per_image)
        ax.hist(per_image, bins=bins, alpha=0.5, color=color, label=f"{label} (mean {per_image.mean():.3f})")
    below = int((np.asarray(results[best].per_image) < 0.9).sum())
    ax.set(title=f"{title}: {below} of {len(results[best].per_image)} below 0.9 ({best})", xlabel="per-image IoU")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="upper left")
axes[0].set_ylabel("images")
fig.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(7, 3))
labels = list(scores)
ax.boxplot([scores[label].per_image for label in labels], whis=(5, 95), showfliers=True)
ax.set_xticks(range(1, len(labels) + 1), labels, rotation=20)
ax.axhline(0.95, color="grey", linestyle=":", label="0.95")
ax.set(ylabel="per-image IoU", title=f"PFCN test, {len(pfcn)} portraits")
ax.legend(loc="lower left")
plt.show()
"""),
    md("""
## The boundary F-score

IoU is dominated by the body, which every model gets right. Hair, fingers and the gap
between an arm and the waist are a few hundred pixels of outline on a 600x800 portrait,
and a mask that gets them wrong can still score 0.97 (in the full build, the portrait on
the right below, 01023: IoU 0.969, boundary F 0.694, the strands of hair on either side
lost): exactly the errors a blurred or replaced background makes visible. The boundary F-score (`selfieseg.metrics.boundary_f_score`,
as in the DAVIS benchmark) looks only at the outline: a predicted boundary pixel is right
if a true one lies within a tolerance, recall the other way round, and F
is their harmonic mean. The tolerance is the DAVIS benchmark's, 0.8% of the image
diagonal: 8 pixels on PFCN's 600x800 portraits. At 2 pixels every model scores about 0.5
(measured on every 11th PFCN test portrait: MediaPipe 0.51, PortraitNet 0.51, SINet 0.39),
since the hand-drawn outlines themselves are not that exact.

Each dot below is one PFCN portrait: IoU on one axis, boundary F on the other. The two
agree on the bad images; among the good ones, boundary F still spreads widely, and that
spread is the difference between a clean cut-out and a halo.
"""),
    code("""
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for label, color in (("MediaPipe", "tab:red"), (best, "tab:blue")):
    axes[0].scatter(scores[label].per_image, scores[label].boundary_f, s=12, alpha=0.6, color=color,
                    label=f"{label}: mean boundary F {scores[label].mean_boundary_f:.3f}")
axes[0].set(xlabel="per-image IoU", ylabel=f"boundary F-score ({tolerance} px)", title="PFCN test, one dot per portrait")
axes[0].legend(fontsize=8)

# one portrait: where the two outlines disagree
index = int(np.argsort(scores[best].boundary_f)[len(pfcn) // 4])  # a typical weak outline, not the worst image
sample = pfcn[index]
probability = segmenters[best].predict(sample.image)
kernel = np.ones((3, 3), np.uint8)
truth_edge = sample.mask - cv2.erode(sample.mask, kernel)
predicted = (probability > 0.5).astype(np.uint8)
predicted_edge = predicted - cv2.erode(predicted, kernel)
shown = sample.image.copy()
shown[cv2.dilate(truth_edge, kernel) > 0] = (0, 255, 0)
shown[cv2.dilate(predicted_edge, kernel) > 0] = (255, 0, 255)
axes[1].imshow(shown)
axes[1].set(title=f"{sample.name}: IoU {scores[best].per_image[index]:.3f}, boundary F {scores[best].boundary_f[index]:.3f}"
            "\\ngreen: true outline, magenta: " + best)
axes[1].title.set_fontsize(9)
axes[1].axis("off")
fig.tight_layout()
plt.show()
"""),
    md("""
## Across four datasets: the benchmark's table

`benchmarks/accuracy.py` scores every shipped model and both MediaPipe segmenters on
the four whole test sets in one run, and times their float TFLite files together
(interleaved rounds, so the machine's drift in speed does not favour one model). The
chapter reads its committed table rather than running it again (it takes about an hour
here). Below each IoU is the paired difference to MediaPipe (general) with its 95%
interval; the second figure draws those intervals.
"""),
    code("""
results_dir = Path("../benchmarks/results")
if not (results_dir / "accuracy.md").exists():  # a reader without the repository (Colab): fetch the committed files
    import requests

    results_dir = Path(tempfile.mkdtemp())
    for name in ("accuracy.md", "accuracy.png"):
        answer = requests.get(f"https://raw.githubusercontent.com/selfieseg/selfieseg/main/benchmarks/results/{name}",
                              timeout=60)
        answer.raise_for_status()
        (results_dir / name).write_bytes(answer.content)

lines = (results_dir / "accuracy.md").read_text().splitlines()
start = next(i for i, line in enumerate(lines) if line.startswith("| model |"))
header = [cell.strip() for cell in lines[start].strip("|").split("|")]
benchmark = []
for line in lines[start + 2:]:
    if not line.startswith("|"):
        break
    benchmark.append(dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))))
run_line = next(line for line in lines if line.startswith("Run "))
columns = ["PFCN test", "VOC person test", "CCP test", "DAVIS parkour", "mean"]
print(run_line)
viz.Table(["model", "params", "input", *columns, "TFLite ms", "latency / MediaPipe"],
          [[row[key] for key in ("model", "params", "input", *columns, "TFLite ms", "latency / MediaPipe")]
           for row in benchmark],
          caption="Across four datasets, from benchmarks/accuracy.py")
"""),
    code("""
display(Image(filename=str(results_dir / "accuracy.png")))


def parse(cell):
    \"\"\"'0.9618 +0.0005 [-0.0034, +0.0048]' -> (0.9618, 0.0005, -0.0034, 0.0048); MediaPipe's cells have no interval.\"\"\"
    parts = cell.replace("[", " ").replace("]", " ").replace(",", " ").split()
    return tuple(float(part) for part in parts) if len(parts) == 4 else (float(parts[0]), 0.0, 0.0, 0.0)


fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.4), sharey=True)
others = [row for row in benchmark if row["model"] != "mediapipe"]
for ax, column in zip(axes, columns):
    for position, row in enumerate(others):
        _, difference, low, high = parse(row[column])
        tie = low <= 0 <= high
        ax.errorbar(difference, position, xerr=[[difference - low], [high - difference]], fmt="o",
                    color="tab:grey" if tie else ("tab:green" if difference > 0 else "tab:red"), capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(title=column, xlabel="IoU - MediaPipe")
    ax.title.set_fontsize(9)
axes[0].set_yticks(range(len(others)), [row["model"] for row in others])
fig.suptitle("Paired differences to MediaPipe (general), 95% intervals; grey: a tie", fontsize=10)
fig.tight_layout()
plt.show()
"""),
    md("""
On the portraits they were trained for, the shipped models are level with MediaPipe or
just behind it (PortraitNet's interval holds 0: a tie). Away from portraits every one
trails it, by 0.02 on full-body street photos and by 0.1 to 0.4 on people in the wild and
on the parkour video: the PFCN and PicsArt training photos are half-body portraits, and
the models have learnt that a person is a large shape in the middle of the frame. The
latency panel of the first figure is the other half of the trade: SINet is as fast as
MediaPipe at the cost of accuracy, PortraitNet is two to three times slower.

The `+ mirror` rows (green in the first figure) are the same weights run twice, on the
photo and on its mirror image, with the two probabilities averaged
(`Segmenter(name, mirror=True)`, `--mirror` on the command line). A person seen in a
mirror is still a person, and the two answers err in different places, so their mean errs
less: in the 2026-12-07 run every model gained on every set but one (the MobileNetV3
U-Net on VOC person, -0.001), for twice the latency. A photo can afford that; a video
call at 30 frames a second usually cannot.

## A paired bootstrap: what "a tie" means

Two means 0.0005 apart: is one model better? The test set is one draw of portraits; a
different 264 would give different means. The **paired bootstrap** asks how much the
mean *difference* would move:

1. score both models on the same images and take the per-image differences (ours minus
   MediaPipe's): pairing removes each image's own difficulty, which both models share;
2. draw as many images as there are, with replacement, and average their differences;
   repeat 10,000 times (seeded);
3. the middle 95% of those averages is the interval.

If it holds 0, this test set cannot tell the two apart: **a tie**, whatever the means
say. Below, live, on this run's PFCN images (in the fast mode a small subset, so the
interval is wide), beside the same test computed without pairing.
"""),
    code("""
ours, theirs = np.asarray(scores[best].per_image), np.asarray(scores["MediaPipe"].per_image)
tie = paired_difference(ours, theirs)
paired_means = bootstrap_means(ours - theirs)
# without pairing: each model's images resampled on their own, as if they had been scored on different photos
unpaired_means = bootstrap_means(ours, seed=1) - bootstrap_means(theirs, seed=2)
unpaired = np.percentile(unpaired_means, [2.5, 97.5])
verdict = "a tie (the interval holds 0)" if tie["low"] <= 0 <= tie["high"] else "a difference (the interval excludes 0)"
print(f"{best} - MediaPipe on {len(ours)} PFCN test portraits: {tie['mean']:+.4f}, "
      f"95% interval [{tie['low']:+.4f}, {tie['high']:+.4f}]: {verdict}")
print(f"{best} better on {tie['better']} images, MediaPipe on {tie['worse']}")
print(f"without pairing the interval would be [{unpaired[0]:+.4f}, {unpaired[1]:+.4f}], "
      f"{(unpaired[1] - unpaired[0]) / (tie['high'] - tie['low']):.1f}x as wide")
full = next(row for row in benchmark if row["model"] == best)["PFCN test"]
print(f"the benchmark, on the whole split: {full}")

fig, ax = plt.subplots(figsize=(8, 3))
ax.hist(unpaired_means, bins=80, alpha=0.4, color="tab:grey", label="unpaired")
ax.hist(paired_means, bins=80, alpha=0.7, color="tab:blue", label="paired")
for edge in (tie["low"], tie["high"]):
    ax.axvline(edge, color="tab:blue", linestyle="--", lw=1)
ax.axvline(0, color="black", lw=1)
ax.set(xlabel=f"mean IoU difference, {best} - MediaPipe, over 10,000 resamples", ylabel="resamples")
ax.legend()
plt.show()
"""),
    md("""
The interval also says how many images a claim needs: its width shrinks with the square
root of their number, so halving it takes four times the photos. On the whole PFCN split
(264 portraits) PortraitNet's interval is about ±0.004, so no difference smaller than
that can be claimed from this benchmark, in either direction.

## The worst images, beside MediaPipe

For each dataset, the photos where our best model scores lowest, each beside the truth
and beside MediaPipe's mask on the same photo (tinted: the predicted person; hatched
grey in the truth: pixels nobody labelled).
"""),
    code("""
worst_count = 2 if FAST else 4
for title, reader in readers.items():
    per_image = np.asarray(across[title][best].per_image)
    panels, titles = [], []
    for index in np.argsort(per_image)[:worst_count]:
        sample = reader[int(index)]
        panels += [sample.image, viz.overlay(sample.image, sample.mask, ignore=sample.ignore)]
        titles += [sample.name, "truth"]
        for label in (best, "MediaPipe"):
            prediction = segmenters[label].predict(sample.image) > 0.5
            panels.append(viz.overlay(sample.image, prediction))
            titles.append(f"{label}: IoU {across[title][label].per_image[int(index)]:.3f}")
    fig = viz.image_grid(panels, columns=4, titles=titles, size=2.6)
    fig.suptitle(f"{title}: the {worst_count} lowest IoUs of {best}", fontsize=10)
    fig.tight_layout()
    plt.show()
"""),
    md("""
## Failure modes

What the worst images share, read from the galleries of the full build (whole test
sets, the weights of 2026-12-02; the photos are named by their file numbers), and
measured below where a mask can tell:

* **Hair.** PFCN's worst portraits are loose or backlit hair against a very dark or a
  very bright background (01151, 01068): PortraitNet's mask swells past the hair into
  the background, where MediaPipe's stays on the outline (0.940 against 0.804 on 01151).
  Finer strands that neither keeps cost little IoU and much of the boundary F-score.
* **Hands and arms.** On CCP, hands on the hips leave a gap between arm and waist that
  PortraitNet fills (0266: 0.732 against MediaPipe's 0.914), and an arm holding a phone in
  front of a pale balustrade is cut into and spills onto the stone (0103: 0.670 against
  0.958). Half-body portraits, the whole of our training data, rarely show a free arm.
* **Small people.** Each of VOC's four worst photos holds one person covering 0.2% to
  2.2% of the frame (a figure beside grazing cows, a carriage driver at night, a marshal
  beside a rally car, a man behind a bicycle). PortraitNet scores 0 on all four and
  marks the largest thing in the frame instead: a cow, the horses, the car, the
  bicycle; MediaPipe misses three of the four people too. On DAVIS it marks the concrete wall the runner
  crosses (frames 21, 23, 29: IoU 0.05-0.13, MediaPipe 0.66-0.88). It has learnt that a
  person is the large shape in the middle of the picture.
* **Several people.** Where several people stand in the frame, the models mark them all,
  but a dataset may label one: CCP labels its main subject only, so the passers-by both
  models find count as errors (0643: 0.520 and 0.545). PFCN's 00735 puts a painted face
  beside the real one, and both take it for a second person.

Hair and hands need labels the datasets do not have, so the last two are the ones
measured: each photo is sorted by the share of the frame its truth covers and by how
many separate person regions the truth holds (connected components of at least 0.5% of
the frame: several people, or one person cut in two by something in front).
"""),
    code("""
kinds = {"one person, at least 5% of the frame": [], "a small person (under 5%)": [], "several people": []}
paired_scores = {label: {kind: [] for kind in kinds} for label in (best, "MediaPipe")}
share_of_frame, ours_all, theirs_all = [], [], []
for title, reader in readers.items():
    for index, sample in enumerate(reader):
        person = (sample.mask > 0).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(person)
        regions = int((stats[1:, cv2.CC_STAT_AREA] >= 0.005 * person.size).sum())
        share = float(person.mean())
        kind = "several people" if regions >= 2 else ("a small person (under 5%)" if share < 0.05
                                                     else "one person, at least 5% of the frame")
        for label in (best, "MediaPipe"):
            paired_scores[label][kind].append(across[title][label].per_image[index])
        share_of_frame.append(share)
        ours_all.append(across[title][best].per_image[index])
        theirs_all.append(across[title]["MediaPipe"].per_image[index])
share_of_frame, ours_all, theirs_all = map(np.asarray, (share_of_frame, ours_all, theirs_all))
rows = []
for kind in kinds:
    count = len(paired_scores[best][kind])
    if count:
        rows.append([kind, count, float(np.mean(paired_scores[best][kind])), float(np.mean(paired_scores["MediaPipe"][kind])),
                     f"{np.mean(paired_scores[best][kind]) - np.mean(paired_scores['MediaPipe'][kind]):+.4f}"])
viz.Table(["photo", "images", f"{best} mean IoU", "MediaPipe mean IoU", "difference"], rows,
          caption="Mean IoU by kind of photo, all four datasets")
"""),
    code("""
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.scatter(share_of_frame, ours_all, s=10, alpha=0.6, color="tab:blue", label=best)
ax.scatter(share_of_frame, theirs_all, s=10, alpha=0.6, color="tab:red", label="MediaPipe")
ax.set(xscale="log", xlabel="share of the frame the person covers (truth)", ylabel="per-image IoU",
       title="Smaller people, worse masks (all four datasets)")
ax.axvline(0.05, color="grey", linestyle=":")
ax.legend()
plt.show()
"""),
    md("""
## Summary

* One loop (`evaluate_split`) scores every model the same way; the per-image mean IoU is
  the benchmark number, pooled IoU and the boundary F-score stand beside it.
* Pooled IoU counts pixels and so forgives missed small people; the per-image mean counts
  photos. A mean still hides its tail: look at the histogram and the worst images.
* A difference between two models is only a difference when its paired bootstrap
  interval excludes 0. PortraitNet against MediaPipe on PFCN test is a tie; off
  portraits, every shipped model trails MediaPipe by intervals far from 0.
* The failures have names: hair against plain backgrounds, free arms and hands, small
  people (where our models mark the largest object instead), and several people. The
  last two are measured above and point to the next step: training on photos that have
  them (the Training chapter's mix of VOC person and CCP with `--augment wide`).

## Exercises
"""),
    md("""
**1.** Write the pooled (dataset) IoU of a list of `(truth, probability)` pairs: the total
intersection over the total union, the probability thresholded at 0.5. The check uses six
VOC photos with our best model's predictions, where pooled and per-image IoU differ.
"""),
    code('''
voc_pairs = [(sample.mask, segmenters[best].predict(sample.image)) for sample in readers["VOC person test"][:6]]


def my_pooled_iou(pairs):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def my_pooled_iou(pairs):
    intersection = union = 0
    for truth, probability in pairs:
        truth, predicted = np.asarray(truth) > 0, np.asarray(probability) > 0.5
        intersection += np.logical_and(truth, predicted).sum()
        union += np.logical_or(truth, predicted).sum()
    return intersection / union
'''),
    code("exercises.check_pooled_iou(my_pooled_iou, voc_pairs)"),
    md("""
**2.** Write the 95% paired bootstrap interval of the mean difference `ours - theirs`:
resample the per-image differences `resamples` times with replacement and take the
2.5th and 97.5th percentiles of the resampled means. Return `(low, high)`. Is our best
model against MediaPipe on these PFCN images a tie?
"""),
    code('''
def my_paired_interval(ours, theirs, resamples):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def my_paired_interval(ours, theirs, resamples):
    difference = np.asarray(ours) - np.asarray(theirs)
    draws = np.random.default_rng(42).integers(0, len(difference), (resamples, len(difference)))
    means = difference[draws].mean(axis=1)
    return np.percentile(means, 2.5), np.percentile(means, 97.5)
'''),
    code("exercises.check_paired_interval(my_paired_interval, scores[best].per_image, scores['MediaPipe'].per_image)"),
    md("""
**3.** Over the evaluated photos of all four datasets in which the person covers less than
5% of the frame (`share_of_frame < 0.05`), by how much does our best model's mean IoU
trail MediaPipe's? Give MediaPipe's mean minus ours.
"""),
    code("answer_3 = None"),
    solution("answer_3 = float(theirs_all[share_of_frame < 0.05].mean() - ours_all[share_of_frame < 0.05].mean())"),
    code('''
small = share_of_frame < 0.05
exercises.check_close(answer_3, float(theirs_all[small].mean() - ours_all[small].mean()), "gap on small people", rtol=1e-6)
'''),
]

write(cells, "book/evaluation.ipynb", tables=TABLES)
