"""Source of book/data.ipynb: run `python book/_sources/data.py` to regenerate it."""

from notebook_builder import code, md, preamble, solution, write

TABLES = (
    "Person share and people counted, per dataset",
    "Held-out test splits of VOC person and CCP",
)

cells = preamble(
    "Data: portraits, people in the wild and a video, one interface",
    "book/data.ipynb",
    """
A segmentation model is only as good as its masks. This chapter reads the seed datasets
in the formats their authors published, looks at what is in them (who, where, how big),
shows how training sees them after augmentation, and makes training on a CPU affordable
with a pre-resized cache. Three sets then go beyond portraits: Pascal VOC photos of people
in the wild, full standing bodies with clothing labels from Clothing Co-Parsing (CCP), and
a DAVIS video of a running person: how big their people are and how many, the test split
committed for VOC and CCP, what CCP's labels mean, and how the person moves in the video.
It ends with your own data and exercises.

Every reader returns the same thing: an RGB `uint8` image, a `{0, 1}` person mask of the
same size, and an optional *ignore* mask for pixels nobody labelled.
""",
)

cells += [
    md("""
## Where the data lives

The library looks for datasets under one folder: the `root` you pass, else the
environment variable `SELFIESEG_DATA`, else `~/selfieseg_data`. Each dataset sits in a
sub-folder named after it (`pfcn/`, `picsart/`, ...). The manifest records, for each, its
URL, licence, citation and on-disk layout.
"""),
    code("""
import numpy as np
import matplotlib.pyplot as plt

from selfieseg import data, viz

root = data.data_root()
manifest = data.load_manifest()
present = data.available()
if not present:
    # On Colab or a fresh laptop: fetch the smallest labelled set (PicsArt, about 30 MB).
    print(f"No dataset under {root}: downloading PicsArt ...")
    data.download("picsart")
    present = data.available()

print(f"data root: {root}\\n")
print(f"{'dataset':22s} {'here':5s} {'samples':>8s}  layout")
readers = {}
for name, entry in manifest.items():
    if name in present:
        options = {"split": "train"} if name == "pfcn" else {}
        readers[name] = data.open_dataset(name, **options)
    count = f"{len(readers[name]):,}" if name in readers else "-"
    print(f"{name:22s} {'yes' if name in readers else 'no':5s} {count:>8s}  {entry['layout'][:70]}")
"""),
    md("""
PFCN (Shen et al., 2016) is the benchmark: its official *test* list is what every
chapter reports on, so it is never used for training or for tuning. Many of its
Flickr photos have disappeared; the reader skips numbers whose files are absent and
says how many.
"""),
    code("""
if "pfcn" in present:
    test = data.open_dataset("pfcn", split="test")
    print(f"PFCN train: {len(readers['pfcn'])} pairs ({len(readers['pfcn'].missing)} listed numbers absent)")
    print(f"PFCN test:  {len(test)} pairs ({len(test.missing)} listed numbers absent)")
"""),
    md("""
## A gallery from each portrait set present

The person is tinted; grey stripes would mark ignored pixels. VOC person, CCP and DAVIS
have their own section below.
"""),
    code("""
WILD = ("voc_person", "ccp", "davis")  # people beyond portraits: their own section below
portraits = {name: reader for name, reader in readers.items() if name not in WILD}
for name, reader in portraits.items():
    picks = np.linspace(0, len(reader) - 1, 8).astype(int)
    fig = viz.gallery([reader[int(i)] for i in picks], columns=8, size=1.6, figure_title=f"{name} ({len(reader):,} samples)")
    plt.show()
"""),
    md("""
## Formats, decoded

The same person mask arrives in very different containers. A few of them, decoded by hand
beside the library, to see there is no magic:

* **PFCN**: a MATLAB v5 `.mat` file per image with a `uint8` variable `mask` (0/1).
* **PicsArt, Portrait_256, Supervisely Portrait, Baidu_Aug**: PNG masks with 0/255.
* **Pascal VOC**: *palette* PNGs whose pixel values are class indices: 15 is person,
  255 is the "void" border around objects, which becomes the ignore mask.
* **AISegment**: RGBA mattes whose alpha channel is the person (soft at hair).
* **Supervisely Person**: JSON with polygons (and holes) or bitmaps, a base64 string of
  a zlib-compressed PNG placed at an origin.
* **UCF Selfie**: no masks at all; useful for demos and pseudo-labels, not for training.
"""),
    code("""
if "pfcn" in present:
    import scipy.io

    record = readers["pfcn"].records[0]
    raw = scipy.io.loadmat(record.mask)["mask"]
    print(record.mask.name, raw.dtype, raw.shape, np.unique(raw))
    assert np.array_equal(raw, readers["pfcn"][0].mask)  # the library reads exactly this
"""),
    md("""
## Mask statistics: how much person, and where

Portrait sets are strongly biased: a centred head and shoulders covering a large part of
the frame. A model trained only on them struggles with a person at the edge of a wide
video frame. The histogram shows the share of each image that is person; the heatmap is
the average mask, the probability that a pixel is person.
"""),
    code("""
limit = 60 if FAST else None
from selfieseg.data.stats import mask_statistics

stats = {name: mask_statistics(reader, size=64, limit=limit) for name, reader in portraits.items()}

fig, axes = plt.subplots(1, 1 + len(stats), figsize=(4 + 3 * len(stats), 3.2))
for name, s in stats.items():
    axes[0].hist(s["area"], bins=20, alpha=0.6, label=f"{name} (median {np.median(s['area']):.2f})")
axes[0].set_xlabel("person share of the image")
axes[0].set_ylabel("images")
axes[0].legend(fontsize=8)
for ax, (name, s) in zip(axes[1:], stats.items()):
    shown = ax.imshow(s["heatmap"], vmin=0, vmax=1, cmap="magma")
    ax.scatter(s["centroids"][:, 0] * 63, s["centroids"][:, 1] * 63, s=2, c="cyan", alpha=0.5)
    ax.set_title(f"{name}: P(person), centroids", fontsize=9)
    ax.axis("off")
fig.colorbar(shown, ax=axes[1:].tolist(), shrink=0.8)
plt.show()
"""),
    md("""
## What training sees: augmentation

`Augmenter` applies the seed project's and PortraitNet's recipe: a horizontal flip,
rotation up to 45 degrees, scale 0.5 to 1.5 and a shift, as one affine warp straight to
the model's size, applied identically to the image and its mask; then colour jitter,
blur and sensor noise on the image alone. The last row shows PortraitNet's fourth input:
the previous frame's mask, simulated by deforming the ground truth (and left empty half
the time, as on a video's first frame).
"""),
    code("""
from selfieseg.data import Augmenter
from selfieseg.data.augment import previous_frame_prior

sample = next(iter(readers.values()))[3]
augmenter = Augmenter()
rng = np.random.default_rng(0)
images, masks, priors = [], [], []
for _ in range(6):
    image, mask, _ = augmenter(sample.image, sample.mask * 255, None, rng, (160, 160))
    images.append(viz.overlay(image, mask / 255.0))
    masks.append(mask / 255.0)
    priors.append(previous_frame_prior(mask / 255.0, rng))
fig = viz.image_grid(images + masks + priors, columns=6, cmap="gray",
                     titles=["augmented"] * 6 + ["mask"] * 6 + ["previous-frame prior"] * 6)
plt.show()
"""),
    md("""
That is the `full` recipe. Training can run in stages: the `mild` recipe (rotation up to
15 degrees, scale 0.8 to 1.25, smaller shifts) fine-tunes a model on pictures framed
the way portraits are (`selfieseg train --init W --augment mild`). The same photo under both:
"""),
    code("""
from selfieseg.data.augment import augmenter as recipe

rng = np.random.default_rng(1)
panels, titles = [], []
for name in ("full", "mild"):
    for _ in range(6):
        image, mask, _ = recipe(name)(sample.image, sample.mask * 255, None, rng, (160, 160))
        panels.append(viz.overlay(image, mask / 255.0))
        titles.append(name)
fig = viz.image_grid(panels, columns=6, titles=titles)
plt.show()
"""),
    md("""
## A cache that makes CPU training affordable

Decoding a 600x800 JPEG and a `.mat` file costs more than a training step of a small
model on a laptop CPU. `build_cache` decodes every image once, resizes it to a working
size and stores `uint8` arrays that the training input memory-maps. Below, the same
`SegmentationSequence` (the `keras.utils.PyDataset` that `model.fit` consumes) runs with
and without the cache.
"""),
    code("""
import tempfile
import time
from pathlib import Path

from selfieseg.data import SegmentationSequence, build_cache

source = readers.get("pfcn") or next(iter(readers.values()))
count = 48 if FAST else 320


subset = source.subset(range(count))  # the first `count` samples, so this stays quick
cache_dir = Path(tempfile.mkdtemp()) / f"{source.name}_256"
start = time.perf_counter()
cache = build_cache(subset, cache_dir, size=(256, 256))
build_seconds = time.perf_counter() - start


def images_per_second(sequence):
    start = time.perf_counter()
    seen = 0
    for batch in range(len(sequence)):
        seen += len(sequence[batch][0])
    return seen / (time.perf_counter() - start)


direct = images_per_second(SegmentationSequence(subset, batch_size=16, size=224, augment=True))
cached = images_per_second(SegmentationSequence(cache, batch_size=16, size=224, augment=True))
print(f"cache of {len(cache)} images built in {build_seconds:.1f} s, {sum(f.stat().st_size for f in cache_dir.iterdir()) / 1e6:.1f} MB")
print(f"augmented batches at 224x224: {direct:.0f} images/s from files, {cached:.0f} images/s from the cache ({cached / direct:.1f}x)")
"""),
    md("""
### New backgrounds

PFCN's portraits were shot against a limited set of rooms, walls and skies, so a model
can partly learn *which backgrounds* are background instead of *where the person ends*.
Background compositing (`selfieseg train --composite 0.5`) puts that share of the
training people in front of another training photo's background, whose own person is
smeared out first (`smear_person`): the labels stay exactly as they were, only what
surrounds the person changes. It needs other photos to borrow from, so it runs on the
cache. Top: the mild recipe; bottom: the same warps and colours with every background
replaced; last row: a photo that lent its background, and that background.
"""),
    code("""
from selfieseg.data.augment import smear_person

common = dict(batch_size=6, size=160, shuffle=False, indices=range(6))
kept, _, _ = SegmentationSequence(cache, augment=recipe("mild"), **common)[0]
swapped, targets, _ = SegmentationSequence(cache, augment=recipe("mild", composite=1.0), **common)[0]
picture, label, _ = cache.get(7)
panels = [*kept, *swapped, picture / 255.0, np.clip(smear_person(picture, label), 0, 255) / 255.0]
fig = viz.image_grid(panels, columns=6, titles=["mild"] * 6 + ["composited"] * 6 + ["a lender", "its background"])
plt.show()
"""),
    md("""
## People beyond portraits: VOC person, CCP and a real video

Portrait sets teach one picture: a head and shoulders, centred and large. A phone or a
webcam also sees people small, several at once, whole from head to feet, and moving.
Three sets bring such people, each with hand-made masks:

* **VOC person**: Pascal VOC 2012 photos that contain people, at any scale, often
  several, partly hidden. A *void* border (grey stripes below) runs along every object's
  outline; nobody labelled it, so losses and metrics ignore it.
* **CCP** (Clothing Co-Parsing): full-body street-fashion photos, one standing person
  each, labelled by clothing part.
* **DAVIS**: one parkour sequence, every frame labelled, with the camera moving too. It
  is for measuring video accuracy and stability, never for training.
"""),
    code("""
wild = {name: readers[name] for name in WILD if name in readers}
for name in WILD:
    if name not in wild:
        print(f"{name} is not under {root}: data.download({name!r}) fetches it, then rerun this section")
for name in ("voc_person", "ccp"):
    if name in wild:
        reader = wild[name]
        picks = np.linspace(0, len(reader) - 1, 8).astype(int)
        fig = viz.gallery([reader[int(i)] for i in picks], columns=8, size=1.6,
                          figure_title=f"{name} ({len(reader):,} samples)")
        plt.show()
"""),
    md("""
### How big, and how many

The share of the image that is person, beside PFCN's (void pixels are left out: they are
neither person nor background), and where the person sits. For VOC also the number of
people per photo. VOC gives class masks only, no mask per person, so
`person_count` (in `selfieseg.data.stats`) counts the separate person regions: pixels
joined through their edges, so that VOC's void line keeps two touching people apart,
and regions of at least `MIN_PERSON_SHARE` of the image (a fleck of a hand is not a
person). It is a proxy, and says so: people who overlap with no void line between them
count as one, a person cut in two by a table or a bicycle counts as two. CCP, one person
per photo by construction, shows how often it is right there. In `FAST` mode each set
is read through an evenly spaced subset (the table says how many images).
"""),
    code("""
from selfieseg.data.stats import MIN_PERSON_SHARE, person_count, person_regions

wild_limit = 40 if FAST else None
wild_stats = {name: mask_statistics(reader, size=64, limit=wild_limit) for name, reader in wild.items()}
beside = ({"pfcn": stats["pfcn"]} if "pfcn" in stats else {}) | wild_stats

fig, axes = plt.subplots(1, 2 + len(wild_stats), figsize=(8 + 2.8 * len(wild_stats), 3.4),
                         gridspec_kw={"width_ratios": [1.6, 1.2] + [1] * len(wild_stats)})
axes[0].boxplot([s["area"] for s in beside.values()], tick_labels=list(beside))
axes[0].set_yscale("log")
axes[0].axhline(0.05, color="grey", lw=0.8, ls="--")
axes[0].set_ylabel("person share of the image (log)")
if "voc_person" in wild_stats:
    people = wild_stats["voc_person"]["people"]
    counts = np.bincount(people)
    axes[1].bar(np.arange(len(counts)), counts)
    axes[1].set_xlabel("people counted in one VOC photo")
    axes[1].set_ylabel("photos")
for ax, (name, s) in zip(axes[2:], wild_stats.items()):
    shown = ax.imshow(s["heatmap"], vmin=0, vmax=1, cmap="magma")
    ax.scatter(s["centroids"][:, 0] * 63, s["centroids"][:, 1] * 63, s=2, c="cyan", alpha=0.5)
    ax.set_title(f"{name}: P(person)", fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()
print(f"a person region counts when it covers at least {MIN_PERSON_SHARE:.2%} of the image")
viz.Table(["dataset", "images read", "median person share", "person under 5%", "counted as one person",
           "most people counted"],
          [[name, s["count"], f"{np.median(s['area']):.1%}", f"{np.mean(s['area'] < 0.05):.0%}",
            f"{np.mean(s['people'] == 1):.0%}", int(s["people"].max())] for name, s in beside.items()],
          caption="Person share and people counted, per dataset")
"""),
    md("""
The regions behind a few counts: each colour is one person as `person_regions` sees
them, largest first. Check them against the photos: where the proxy joins or splits
people, you can see why.
"""),
    code("""
if "voc_person" in wild:
    voc = wild["voc_person"]
    voc_index = {record.name: index for index, record in enumerate(voc.records)}
    voc_people = dict(zip(wild_stats["voc_person"]["names"], wild_stats["voc_person"]["people"]))
    shown_names = [next(n for n, c in voc_people.items() if c == want) for want in (1, 2, 3, 4, 5, 6)
                   if want in voc_people.values()][:4]
    fig, axes = plt.subplots(1, len(shown_names), figsize=(3.6 * len(shown_names), 3), squeeze=False)
    for ax, name in zip(axes[0], shown_names):
        photo = voc[voc_index[name]]
        regions, shares = person_regions(photo.mask, photo.ignore)
        ax.imshow(viz.overlay(photo.image, photo.mask, ignore=photo.ignore, alpha=0.0))
        ax.imshow(np.ma.masked_equal(regions, 0), cmap="tab10", vmin=1, vmax=10, alpha=0.55, interpolation="nearest")
        ax.set_title(f"{name}: {len(shares)} counted ({', '.join(f'{x:.1%}' for x in shares)})", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    plt.show()
"""),
    md("""
### The committed test split

PFCN's authors published a test list; VOC person and CCP came without one. A test split
drawn by a seeded shuffle changes whenever a file is added or the seed changes, so here a
sample is held out by its file name alone: the first eight bytes of `sha256(name)`, read
as a number, below 15% of `2**64`. The rule was applied once and its result committed in
`selfieseg/data/splits/<set>_test.txt`; the readers read those lists. The table checks
that the list, the rule and `open_dataset(..., split="test")` agree.
"""),
    code("""
from selfieseg.data import splits

split_rows = []
for name in splits.HELD_OUT_SETS:
    if name not in wild:
        continue
    whole, train, test = (data.open_dataset(name, split=split) for split in ("all", "train", "test"))
    listed = splits.held_out_names(name)
    read_as_test = {record.name for record in test.records}
    assert read_as_test == listed - set(test.missing)  # what split="test" returns is the committed list
    assert listed == set(splits.hash_split(record.name for record in whole.records))  # which is the rule's choice
    assert len(train) + len(test) == len(whole) and not read_as_test & {r.name for r in train.records}
    split_rows.append([name, len(whole), len(train), len(test), f"{len(test) / len(whole):.1%}",
                       f"selfieseg/data/splits/{splits.split_list_path(name).name}", len(listed),
                       "yes" if read_as_test == listed else f"{len(test.missing)} listed names absent"])
viz.Table(["dataset", "samples", "train", "test", "test share", "committed list", "names listed",
           'split="test" reads all of them'], split_rows, caption="Held-out test splits of VOC person and CCP")
"""),
    md("""
A model that has seen its test images reports a score that means nothing. `selfieseg
train` checks what it is asked to train on with `refuse_held_out` before it reads or
caches anything; below, the same call on a few requests, printed as the command prints
the refusal:
"""),
    code("""
from selfieseg.data.splits import held_out_splits, refuse_held_out
from selfieseg.errors import DatasetError

for request in ("pfcn,voc_person,ccp", "voc_person:test", "ccp:all", "davis"):
    asked = request.split(",")
    print(f"$ selfieseg train --data {request} ...")
    try:
        refuse_held_out(asked)
        print(f"  accepted: reads {held_out_splits(asked)}")
    except DatasetError as error:
        print(f"  selfieseg: error: {error}")
"""),
    md("""
### What the CCP labels are

CCP labels every pixel with one of the names in its `label_list.mat`. Label 0, `null`,
is the background; every other label (a garment, skin, hair, a bag, sunglasses) is part
of the person, so the reader's person mask is `label > 0`. `CCP.parts(i)` gives the
label map itself and `label_names` the names.
"""),
    code("""
if "ccp" in wild:
    ccp = wild["ccp"]
    label_names = ccp.label_names
    print(f"label_list.mat: {len(label_names)} labels, 0 = {label_names[0]!r} (the background)\\n")
    for start in range(0, len(label_names), 6):
        print("   ".join(f"{i:2d} {label_names[i]:11s}" for i in range(start, min(start + 6, len(label_names)))))
    assert np.array_equal(ccp[0].mask, (ccp.parts(0) > 0).astype(np.uint8))  # person = any label but null
"""),
    md("""
One photo's parts (the one of the sample with the most different labels), and then the
share of all person pixels that each label covers, over the sample:
"""),
    code("""
from matplotlib.patches import Patch

from selfieseg.data.stats import label_shares

if "ccp" in wild:
    ccp_picks = np.linspace(0, len(ccp) - 1, min(wild_limit or len(ccp), len(ccp))).astype(int)
    ccp_parts = [ccp.parts(int(i)) for i in ccp_picks]
    richest = int(np.argmax([len(np.unique(labels)) for labels in ccp_parts]))
    photo, labels = ccp[int(ccp_picks[richest])], ccp_parts[richest]
    present_labels = [int(label) for label in np.unique(labels) if label > 0]
    palette = np.zeros((len(label_names), 3))
    colours = plt.get_cmap("tab20").colors + plt.get_cmap("tab20b").colors
    for k, label in enumerate(present_labels):
        palette[label] = colours[k % len(colours)]
    tinted = photo.image / 255.0
    tinted = np.where((labels > 0)[..., None], 0.35 * tinted + 0.65 * palette[labels], 0.5 * tinted)
    part_shares = label_shares(ccp_parts, len(label_names))
    top = np.argsort(-part_shares)[:12]

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1, 1.5]})
    axes[0].imshow(photo.image)
    axes[0].set_title(f"CCP {photo.name}", fontsize=9)
    axes[1].imshow(tinted)
    axes[1].set_title(f"{len(present_labels)} labels", fontsize=9)
    for ax in axes[:2]:
        ax.axis("off")
    axes[1].legend(handles=[Patch(color=palette[label], label=label_names[label]) for label in present_labels],
                   loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes[2].barh([label_names[label] for label in top][::-1], part_shares[top][::-1])
    axes[2].set_xlabel(f"share of person pixels ({len(ccp_parts)} photos)")
    fig.tight_layout()
    plt.show()
    print(f"the top {len(top)} labels cover {part_shares[top].sum():.0%} of the person; "
          f"{int((part_shares > 0).sum())} of the {len(label_names) - 1} labels appear in the sample")
"""),
    md("""
### DAVIS parkour: one person, frame after frame

The reader returns the frames in order, so neighbours in the reader are neighbours in
time. A strip of the clip, then three curves over all its frames: the person's share of
the frame, where the person is (the mask's centre, left to right: the camera follows the
runner), and how much of the mask stays in place from one frame to the next (its IoU with the previous frame's
mask). That motion, of the person and of the camera, is what a video model must follow
without flicker.
"""),
    code("""
if "davis" in wild:
    davis = wild["davis"]
    strip = np.linspace(0, len(davis) - 1, 6).astype(int)
    fig = viz.gallery([davis[int(i)] for i in strip], columns=6, size=2.2,
                      titles=[f"frame {i}" for i in strip], figure_title=f"DAVIS {davis.sequence} ({len(davis)} frames)")
    plt.show()

    clip = davis.masks().astype(bool)  # (frames, height, width), in order
    share = clip.mean(axis=(1, 2))
    centre = np.array([np.nonzero(m)[1].mean() / m.shape[1] if m.any() else np.nan for m in clip])
    overlap = np.logical_and(clip[1:], clip[:-1]).sum(axis=(1, 2)) / np.maximum(
        np.logical_or(clip[1:], clip[:-1]).sum(axis=(1, 2)), 1)
    fig, axes = plt.subplots(1, 3, figsize=(12, 2.8))
    axes[0].plot(share)
    axes[0].set_ylabel("person share of the frame")
    axes[1].plot(centre)
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("mask centre, x / width")
    axes[2].plot(np.arange(1, len(clip)), overlap)
    axes[2].set_ylabel("IoU with the previous frame")
    for ax in axes:
        ax.set_xlabel("frame")
    fig.tight_layout()
    plt.show()
    print(f"person share: {share.min():.1%} to {share.max():.1%}; centre from x = {np.nanmin(centre):.2f} to "
          f"{np.nanmax(centre):.2f} of the width; IoU with the previous frame: median {np.median(overlap):.2f}, "
          f"lowest {overlap.min():.2f} (frame {int(np.argmin(overlap)) + 1})")
"""),
    md("""
## Your own data

The question asked most often upstream: *how do I train on my own photos?* Put images in
one folder and masks (0/255 or 0/1, any image format) in another, with the same file
names. Here we write a few real portraits in that shape and read them back; a suffix
such as `_mask` in mask names is stripped with `mask_suffix`.
"""),
    code("""
from selfieseg.io import write_image

own = Path(tempfile.mkdtemp())
for i in range(4):
    s = source[i]
    write_image(own / "photos" / f"holiday_{i}.jpg", s.image)
    write_image(own / "masks" / f"holiday_{i}_mask.png", s.mask * 255)
write_image(own / "photos" / "no_mask_yet.jpg", source[5].image)

mine = data.ImageMaskFolder(own / "photos", own / "masks", mask_suffix="_mask")
print(mine, "| images without a mask:", mine.missing)
fig = viz.gallery(list(mine), columns=4, size=2)
plt.show()
"""),
    md("""
Your folder can then go through the same cache and `SegmentationSequence` as any seed
dataset, alone or mixed with them: `build_cache([mine, readers["picsart"]], ...)`.

## Summary

* Many datasets, as many formats, one `Sample`: image, `{0, 1}` mask, optional ignore mask.
* The PFCN test split is the benchmark: it is read, viewed and reported on, never trained on.
* VOC person, CCP and DAVIS show people portrait sets do not: small and several (VOC,
  counted by `person_count`, a proxy from connected regions), whole bodies (CCP), moving
  (DAVIS); the shares and counts are printed above.
* VOC person and CCP hold out a committed test split (about 15%, chosen by a hash of the
  file name); `selfieseg train` refuses it, as it refuses PFCN's test split and DAVIS.
* CCP labels clothing parts; every label but `null` is person, so its mask is `label > 0`.
* Portrait data is centred and large; augmentation (rotation, scale, shift) widens what
  the model sees, and PortraitNet's prior channel is simulated from the mask itself.
* Background compositing swaps what surrounds a person while keeping the labels exact.
* A pre-resized cache turns decoding into memory reads; the speed-up is printed above.

## Exercises

Each exercise has a check: run it after your answer. It tells you what is wrong.
Instructors: the hidden cells hold solutions; `selfieseg exercises book/data.ipynb -o student.ipynb`
writes the copy without them.

**1.** Write `person_fraction(mask)`: the share of pixels that are person. It must work
for 0/1 and for 0/255 masks.
"""),
    code('''
def person_fraction(mask):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def person_fraction(mask):
    return float((np.asarray(mask) > 0).mean())
'''),
    code("""
from selfieseg import exercises

exercises.check_person_fraction(person_fraction, masks=[s.mask for s in source[:3]])
"""),
    md("""
**2.** Pascal VOC stores class indices in a palette PNG. Write `voc_to_person(classes)`
returning `(person, ignore)`: person is 1 where the class is 15, ignore is `True` on the
void border (255).
"""),
    code('''
def voc_to_person(classes):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def voc_to_person(classes):
    classes = np.asarray(classes)
    return (classes == 15).astype(np.uint8), classes == 255
'''),
    code("exercises.check_voc_to_person(voc_to_person)"),
    md("""
**3.** A mirrored selfie is still a selfie. Write `flip_pair(image, mask)` that flips both
left-right. (Why would an up-down flip be a poor augmentation for portraits?)
"""),
    code('''
def flip_pair(image, mask):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def flip_pair(image, mask):
    return image[:, ::-1], mask[:, ::-1]
'''),
    code("exercises.check_flip_pair(flip_pair, sample=source[0])"),
    md("""
**4.** Which photo of the VOC sample above shows the most people, by `person_count`?
Set `answer_4` to its name (`"2008_000123"`), then show it with `person_regions`: does
the count match the people you see, and if not, does the proxy join people or split one?
"""),
    code("answer_4 = None"),
    solution('''
counted = {name: person_count(voc[voc_index[name]].mask, voc[voc_index[name]].ignore) for name in voc_people}
answer_4 = max(counted, key=counted.get)
'''),
    code("""
if "voc_person" in wild:
    assert answer_4 in voc_people, f"{answer_4!r} is not a photo of the VOC sample: give a name from voc_people"
    most = max(voc_people.values())
    assert voc_people[answer_4] == most, f"{answer_4}: {voc_people[answer_4]} counted; one photo has {most}"
    print(f"right: {answer_4}, {most} people counted")
"""),
    md("""
**5.** CCP shows whole bodies, feet included, which portrait sets never do. Over the CCP
sample (`ccp_parts`), what share of all person pixels is footwear: any of the labels for
boots, shoes, sneakers, heels and the like (find them all in `label_names`)? Set
`answer_5`. What would it be in PFCN?
"""),
    code("answer_5 = None"),
    solution('''
footwear = [label_names.index(name) for name in
            ("boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes", "sneakers", "wedges")]
answer_5 = float(label_shares(ccp_parts, len(label_names))[footwear].sum())
'''),
    code("""
if "ccp" in wild:
    shoe_words = ("boot", "clog", "flat", "heel", "loafer", "pump", "sandal", "shoe", "sneaker", "wedge")
    footwear_labels = [i for i, name in enumerate(label_names) if any(word in name for word in shoe_words)]
    person_pixels = sum(int((labels > 0).sum()) for labels in ccp_parts)
    footwear_pixels = sum(int(np.isin(labels, footwear_labels).sum()) for labels in ccp_parts)
    exercises.check_close(answer_5, footwear_pixels / person_pixels, "footwear share of CCP person pixels", rtol=1e-6)
"""),
    md("""
**6 (open).** The heatmap above shows where people are. Build a cache of PicsArt and of
PFCN train separately and compare their median person share. Which one looks more like a
webcam frame, and what augmentation would close the gap?
"""),
]

write(cells, "book/data.ipynb", tables=TABLES)
