"""Source of book/data.ipynb: run `python book/_sources/data.py` to regenerate it."""

from notebook_builder import code, md, preamble, solution, write

cells = preamble(
    "Data: nine portrait datasets, one interface",
    "book/data.ipynb",
    """
A segmentation model is only as good as its masks. This chapter reads the seed datasets
in the formats their authors published, looks at what is in them (who, where, how big),
shows how training sees them after augmentation, and makes training on a CPU affordable
with a pre-resized cache. It ends with your own data and exercises.

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
    md("## A gallery from each dataset present\n\nThe person is tinted; grey stripes would mark ignored pixels."),
    code("""
for name, reader in readers.items():
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

stats = {name: mask_statistics(reader, size=64, limit=limit) for name, reader in readers.items()}

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

* Nine datasets, nine formats, one `Sample`: image, `{0, 1}` mask, optional ignore mask.
* The PFCN test split is the benchmark: it is read, viewed and reported on, never trained on.
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
**4 (open).** The heatmap above shows where people are. Build a cache of PicsArt and of
PFCN train separately and compare their median person share. Which one looks more like a
webcam frame, and what augmentation would close the gap?
"""),
]

write(cells, "book/data.ipynb")
