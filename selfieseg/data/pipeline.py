"""Training input: a compact on-disk cache and a ``keras.utils.PyDataset`` over any reader.

Decoding a 600x800 JPEG and a ``.mat`` mask costs far more than a training step of a
small model on a CPU, so :func:`build_cache` decodes each dataset once, resizes it to a
working size a little larger than the model's input, and stores uint8 arrays that
:class:`SegmentationSequence` memory-maps. Augmentation then works on small arrays.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

from selfieseg.data.augment import Augmenter, person_free_background, previous_frame_prior, resize_pair, warp
from selfieseg.errors import DatasetError

CACHE_VERSION = 1


def _mask_to_u8(mask) -> np.ndarray:
    """Reader masks (0/1 uint8, or float alpha in [0, 1]) -> uint8 0..255."""
    mask = np.asarray(mask)
    if mask.dtype == np.uint8 and mask.max(initial=0) <= 1:
        return mask * np.uint8(255)
    if np.issubdtype(mask.dtype, np.floating):
        return np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return mask.astype(np.uint8)


class ArrayCache:
    """Pre-resized uint8 arrays on disk: ``images.npy``, ``masks.npy``, ``ignore.npy``, ``meta.json``."""

    def __init__(self, path):
        path = Path(path)
        meta_path = path / "meta.json"
        if not meta_path.exists():
            raise DatasetError(f"{path}: not a selfieseg cache (no meta.json). Build it with build_cache().")
        self.path = path
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("version") != CACHE_VERSION:
            raise DatasetError(f"{path}: cache version {self.meta.get('version')} is stale; rebuild it.")
        try:
            self.images = np.load(path / "images.npy", mmap_mode="r")
            self.masks = np.load(path / "masks.npy", mmap_mode="r")
            ignore = path / "ignore.npy"
            self.ignore = np.load(ignore, mmap_mode="r") if ignore.exists() else None
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: cache arrays are unreadable ({exc}); delete the folder and rebuild.") from None
        self.names = self.meta["names"]

    def __len__(self) -> int:
        return len(self.images)

    def get(self, index: int):
        ignore = None if self.ignore is None else np.asarray(self.ignore[index])
        return np.asarray(self.images[index]), np.asarray(self.masks[index]), ignore

    def __repr__(self) -> str:
        return f"ArrayCache({len(self)} samples {self.meta['size']} from {self.meta['sources']})"


def build_cache(datasets, path, size=(256, 256), overwrite: bool = False, progress: bool = True) -> ArrayCache:
    """Decode ``datasets`` (a reader or a list of readers) once into an :class:`ArrayCache`.

    Images are resized to ``size`` (h, w) with area interpolation; masks are stored as
    uint8 0..255 so that later warps interpolate them smoothly. The cache is written to
    a temporary folder and renamed into place, so an interrupted build leaves nothing.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    if path.exists() and not overwrite:
        return _existing_cache(path, size)
    readers = list(datasets) if isinstance(datasets, (list, tuple)) else [datasets]
    total = sum(len(r) for r in readers)
    if total == 0:
        raise DatasetError("build_cache: the datasets hold no samples.")
    height, width = size
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        images = np.lib.format.open_memmap(staging / "images.npy", "w+", np.uint8, (total, height, width, 3))
        masks = np.lib.format.open_memmap(staging / "masks.npy", "w+", np.uint8, (total, height, width))
        ignore = None
        names, sources = [], []
        row = 0
        with tqdm(total=total, desc=f"caching {path.name}", disable=not progress) as bar:
            for reader in readers:
                if not getattr(reader, "labelled", True):
                    raise DatasetError(f"{reader!r} has no masks and cannot be used for training.")
                for sample in reader:
                    image, mask, ign = resize_pair(sample.image, _mask_to_u8(sample.mask), sample.ignore, size)
                    images[row], masks[row] = image, mask
                    if ign is not None and ign.any():
                        if ignore is None:
                            ignore = np.lib.format.open_memmap(staging / "ignore.npy", "w+", bool, (total, height, width))
                        ignore[row] = ign
                    names.append(f"{reader.name}/{sample.name}")
                    row += 1
                    bar.update(1)
                sources.append({"dataset": reader.name, "samples": len(reader), "root": str(reader.root)})
        images.flush(), masks.flush()
        del images, masks, ignore
        meta = {"version": CACHE_VERSION, "size": [height, width], "names": names, "sources": sources}
        (staging / "meta.json").write_text(json.dumps(meta))
        return _publish(staging, path, size, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _encoded(arrays, extension: str, params=()) -> tuple[np.ndarray, np.ndarray]:
    """Each array of ``arrays`` encoded by OpenCV, concatenated, with the byte offsets."""
    import cv2

    chunks = []
    for array in arrays:
        ok, buffer = cv2.imencode(extension, np.ascontiguousarray(array), list(params))
        if not ok:
            raise DatasetError(f"pack_cache: OpenCV could not encode a {extension} chunk.")
        chunks.append(buffer.ravel())
    offsets = np.cumsum([0] + [len(chunk) for chunk in chunks]).astype(np.int64)
    return np.concatenate(chunks), offsets


def _decoded(data: np.ndarray, offsets: np.ndarray, index: int, flags: int) -> np.ndarray | None:
    import cv2

    return cv2.imdecode(data[offsets[index] : offsets[index + 1]], flags)


def _publish(staging: Path, path: Path, size, overwrite: bool = False) -> ArrayCache:
    """Rename a complete ``staging`` folder to ``path``: the one step that makes a cache exist.

    Building or unpacking happens in a hidden folder beside ``path``, so a reader never
    sees half a cache. When another process (a parallel test worker, a second run)
    published the same cache first, its copy is complete: use it and drop this one.
    """
    if path.exists() and overwrite:
        shutil.rmtree(path)
    try:
        staging.replace(path)
    except OSError:
        if overwrite or not path.exists():
            raise
        return _existing_cache(path, size)
    return ArrayCache(path)


def pack_cache(cache, file, quality: int = 85, teachers: bool = True, progress: bool = True) -> Path:
    """Write ``cache`` (an :class:`ArrayCache` or its folder) to one portable ``.npz``.

    A cache is several hundred MB of raw arrays; packed, images become WebP at
    ``quality`` (lossy, about 10 KB each at 256 px) and masks, ignore maps and teacher
    maps (``teacher_*.npy``) become PNG (lossless), about 15x smaller in all. That is
    small enough to upload to Colab or a rented GPU instead of the raw datasets; unpack
    it there with :func:`unpack_cache`. Teacher maps are noisy and pack poorly (about
    8 KB each); ``teachers=False`` leaves them out, for a machine fast enough to
    recompute them. The file is written atomically.
    """
    import cv2
    from tqdm.auto import tqdm

    from selfieseg.io import atomic_path

    cache = cache if isinstance(cache, ArrayCache) else ArrayCache(Path(cache).expanduser())
    file = Path(file).expanduser()
    if file.suffix != ".npz":
        raise DatasetError(f"{file}: a packed cache is an .npz file; pass a name ending in .npz.")
    arrays = {"meta": np.frombuffer(json.dumps({**cache.meta, "folder": cache.path.name}).encode(), np.uint8)}
    stacks = {"images": cache.images, "masks": cache.masks}
    if cache.ignore is not None:
        stacks["ignore"] = cache.ignore
    for extra in sorted(cache.path.glob("teacher_*.npy")) if teachers else ():
        stacks[extra.stem] = np.load(extra, mmap_mode="r")
    webp, png = (cv2.IMWRITE_WEBP_QUALITY, int(quality)), (cv2.IMWRITE_PNG_COMPRESSION, 9)
    with tqdm(total=len(cache) * len(stacks), desc=f"packing {cache.path.name}", disable=not progress) as bar:
        for name, stack in stacks.items():
            if name == "images":  # OpenCV encodes BGR
                planes, extension, params = (image[..., ::-1] for image in stack), ".webp", webp
            else:  # uint8 maps as they are; the boolean ignore map as 0/1
                planes, extension, params = (np.asarray(plane, np.uint8) for plane in stack), ".png", png
            arrays[name], arrays[f"{name}_offsets"] = _encoded(_counted(planes, bar), extension, params)
    with atomic_path(file) as tmp:
        with open(tmp, "wb") as handle:  # a file object, so numpy does not append another .npz
            np.savez(handle, **arrays)
    return file


def _counted(items, bar):
    for item in items:
        yield item
        bar.update(1)


def unpack_cache(file, root, progress: bool = True) -> ArrayCache:
    """The :class:`ArrayCache` packed in ``file`` (:func:`pack_cache`), unpacked under ``root``.

    It lands in ``root/<the packed cache's folder name>``, where :func:`selfieseg.train.train`
    looks for it when ``root`` is its ``cache_dir``; an existing folder there is reused.
    """
    import cv2
    from tqdm.auto import tqdm

    file, root = Path(file).expanduser(), Path(root).expanduser()
    try:
        packed = np.load(file)
        meta = json.loads(bytes(packed["meta"]).decode())
        path, size = root / meta.pop("folder"), tuple(meta["size"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{file}: not a packed selfieseg cache ({exc}); make one with pack_cache().") from None
    if path.exists():
        return _existing_cache(path, size)
    stems = [key[: -len("_offsets")] for key in packed.files if key.endswith("_offsets")]
    count, (height, width) = len(meta["names"]), size
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=root))
    try:
        with tqdm(total=count * len(stems), desc=f"unpacking {path.name}", disable=not progress) as bar:
            for stem in stems:
                colour = stem == "images"
                shape = (count, height, width, 3) if colour else (count, height, width)
                stack = np.lib.format.open_memmap(staging / f"{stem}.npy", "w+", bool if stem == "ignore" else np.uint8,
                                                  shape)
                try:
                    data, offsets = packed[stem], packed[f"{stem}_offsets"]
                except (OSError, ValueError, zipfile.BadZipFile) as exc:  # a damaged member fails its CRC here
                    raise DatasetError(f"{file}: its {stem} are damaged ({exc}); pack the cache again.") from None
                for row in range(count):
                    plane = _decoded(data, offsets, row, cv2.IMREAD_COLOR if colour else cv2.IMREAD_UNCHANGED)
                    if plane is None or plane.shape != shape[1:]:
                        raise DatasetError(f"{file}: {stem} #{row} ({meta['names'][row]}) does not decode to "
                                           f"{shape[1:]}; the file is damaged, pack it again.")
                    stack[row] = plane[..., ::-1] if colour else plane
                    bar.update(1)
                stack.flush()
                del stack  # close the memory map before the folder is renamed
        (staging / "meta.json").write_text(json.dumps(meta))
        return _publish(staging, path, size)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _existing_cache(path: Path, size) -> ArrayCache:
    """A cache already at ``path``, refused when it was built for another size."""
    cache = ArrayCache(path)
    if tuple(cache.meta["size"]) != tuple(size):
        raise DatasetError(f"{path}: cache holds size {cache.meta['size']}, not {tuple(size)}; pass overwrite=True.")
    return cache


class _ReaderSource:
    """Adapts readers to the cache's ``get(i) -> (image, mask_u8, ignore)`` interface."""

    def __init__(self, readers):
        self.readers = list(readers) if isinstance(readers, (list, tuple)) else [readers]
        self.index = [(r, i) for r in self.readers for i in range(len(r))]

    def __len__(self):
        return len(self.index)

    def get(self, index):
        reader, i = self.index[index]
        sample = reader[i]
        if sample.mask is None:
            raise DatasetError(f"{sample.source}: has no mask; unlabelled data cannot be used for training.")
        return sample.image, _mask_to_u8(sample.mask), sample.ignore


class SegmentationSequence(keras.utils.PyDataset):
    """Batches of (RGB in [0, 1], mask in [0, 1], pixel weights) for ``model.fit``.

    ``source`` is a reader, a list of readers, or an :class:`ArrayCache` (fast). With
    ``augment`` an :class:`Augmenter` (or ``True`` for the default recipe) each epoch
    sees new random geometry and texture; without, images are just resized. Pixel
    weights are 0 where the dataset's ignore mask is set, so losses skip them.
    ``prior=True`` appends PortraitNet's previous-frame mask as a 4th input channel.

    With ``valid_channel=True`` the target gets a second channel, the valid weight,
    instead of a separate sample weight: the form :mod:`selfieseg.losses` reads, so Dice
    and boundary terms honour ignored pixels too. ``output_names`` repeats the target
    for each named model output (PortraitNet's ``mask`` and ``boundary``).

    ``twin=True`` (PortraitNet's consistency training) returns inputs as
    ``{"image": x, "twin": x2}``: ``x2`` is the same warped picture with a second, fresh
    texture change (colour, blur, noise), so one mask fits both. Without augmentation
    the twin is the image itself.

    An augmenter with ``composite`` > 0 puts that share of the people in front of another
    sample's background (:func:`~selfieseg.data.augment.person_free_background`), drawn
    from this sequence's own ``indices``: a training split never borrows a validation
    photo, not even its background.

    ``source_weights`` (``{dataset name: weight}``, an :class:`ArrayCache` source only)
    draws each epoch's samples with replacement so that each dataset's share of the
    epoch is its weight's share of the total, whatever its size: with PFCN and PicsArt
    (2,481 portraits) beside VOC person (511 training photos), equal weights show the
    VOC photos as often as all the portraits together instead of one time in six.
    Datasets the mapping leaves out get weight 1; without it (the default) every sample
    appears once per epoch, in a shuffled order.

    ``soft_labels`` (distillation) is a uint8 array of a teacher's probabilities, one
    per cache sample at the cache's size (:func:`selfieseg.train.teacher_labels`). It is
    warped with the mask, and the target becomes ``(1 - distill) * mask + distill *
    teacher``: the student learns where the teacher is unsure (hair, hands, edges) as
    well as the labels.

    ``batch_multiple`` (data-parallel training, :mod:`selfieseg.distribute`): every batch
    must split evenly across that many devices. A shuffled (training) sequence drops a
    last, short batch; an unshuffled (validation) one pads its last batch with copies of
    its final sample whose valid weight is 0, so the loss and the IoU ignore them and every
    held-back sample is still scored once. ``shard=(index, count)`` (several hosts) makes
    this process return only its ``index``-th contiguous slice of each batch: every host
    draws the same global order from the same seed and prepares only its own part.
    """

    def __init__(
        self,
        source,
        batch_size: int = 16,
        size=(224, 224),
        augment=None,
        prior: bool = False,
        shuffle: bool = True,
        seed: int = 0,
        indices=None,
        valid_channel: bool = False,
        output_names=None,
        twin: bool = False,
        soft_labels=None,
        distill: float = 0.0,
        source_weights=None,
        batch_multiple: int = 1,
        shard: tuple = (0, 1),
        **pydataset_kwargs,
    ):
        super().__init__(**pydataset_kwargs)
        self.source = source if isinstance(source, ArrayCache) else _ReaderSource(source)
        self.indices = np.arange(len(self.source)) if indices is None else np.asarray(indices)
        if len(self.indices) == 0:
            raise DatasetError("SegmentationSequence: no samples to iterate over.")
        self.batch_size = int(batch_size)
        self.size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
        self.augmenter = Augmenter() if augment is True else (augment or None)
        self.prior = prior
        self.shuffle = shuffle
        self.seed = seed
        self.valid_channel = valid_channel
        self.output_names = tuple(output_names) if output_names else None
        self.twin = twin
        self.soft_labels, self.distill = self._check_soft_labels(soft_labels, distill)
        self.sampling = self._sampling_probabilities(source_weights)
        self.batch_multiple, self.shard = self._check_split(batch_multiple, shard)
        self.epoch = 0
        self._order = self._make_order()

    def _check_soft_labels(self, soft_labels, distill):
        if soft_labels is None:
            return None, 0.0
        if not isinstance(self.source, ArrayCache):
            raise DatasetError("soft labels (distillation) need an ArrayCache source: build one with build_cache().")
        expected = (len(self.source), *self.source.meta["size"])
        if tuple(soft_labels.shape) != expected:
            raise DatasetError(f"soft labels have shape {tuple(soft_labels.shape)}, but the cache {self.source.path} "
                               f"holds {expected}: compute them again for this cache.")
        return soft_labels, distill_weight(distill)

    def _check_split(self, batch_multiple, shard):
        batch_multiple, (index, count) = int(batch_multiple), (int(shard[0]), int(shard[1]))
        if batch_multiple < 1 or self.batch_size % batch_multiple:
            raise DatasetError(f"batch size {self.batch_size} does not split into {batch_multiple} equal slices.")
        if not 0 <= index < count or batch_multiple % count:
            raise DatasetError(f"shard {index} of {count}: a batch of {self.batch_size} over {batch_multiple} "
                               "devices does not split evenly between the processes.")
        if batch_multiple > 1 and self.shuffle and len(self.indices) < self.batch_size:
            raise DatasetError(f"{len(self.indices)} training samples make no full batch of {self.batch_size} "
                               f"({batch_multiple} devices x {self.batch_size // batch_multiple}): lower the batch size.")
        if batch_multiple > 1 and not self.valid_channel:
            raise DatasetError("data-parallel sequences need valid_channel=True (padding is marked invalid there).")
        return batch_multiple, (index, count)

    def _sampling_probabilities(self, weights):
        """Each of ``indices``' probability of being drawn, from per-dataset ``weights`` (or None)."""
        if not weights:
            return None
        if not isinstance(self.source, ArrayCache):
            raise DatasetError("per-dataset sampling weights need an ArrayCache source: build one with build_cache().")
        datasets = np.array([self.source.names[int(i)].split("/", 1)[0] for i in self.indices])
        present = sorted(set(datasets))
        unknown = sorted(set(weights) - set(present))
        if unknown:
            raise DatasetError(f"sampling weights name {unknown}, which this training data does not hold; "
                               f"its datasets are {present}.")
        bad = {name: w for name, w in weights.items() if not float(w) >= 0}
        if bad or not any(float(weights.get(name, 1.0)) > 0 for name in present):
            raise DatasetError(f"sampling weights must be >= 0 with at least one > 0, got {dict(weights)}.")
        probability = np.zeros(len(self.indices))
        for name in present:
            members = datasets == name
            probability[members] = float(weights.get(name, 1.0)) / members.sum()
        return probability / probability.sum()

    def _make_order(self):
        if not self.shuffle:
            return self.indices
        rng = np.random.default_rng((self.seed, self.epoch))
        if self.sampling is not None:
            return rng.choice(self.indices, size=len(self.indices), replace=True, p=self.sampling)
        return rng.permutation(self.indices)

    def __len__(self) -> int:
        if self.batch_multiple > 1 and self.shuffle:  # training: only full, evenly split batches
            return len(self.indices) // self.batch_size
        return int(np.ceil(len(self.indices) / self.batch_size))

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._make_order()

    def background(self, index: int):
        """Another sample's person-free background for ``index``, or None (no compositing this time).

        Its random numbers come from their own generator (seed, epoch, sample), not the
        batch's: with compositing on or off, every sample gets the same geometry and
        texture, so the two can be compared draw for draw.
        """
        share = 0.0 if self.augmenter is None else float(self.augmenter.composite)
        if share <= 0 or len(self.indices) < 2:
            return None
        rng = np.random.default_rng((self.seed, self.epoch, int(index), 1))
        if rng.random() >= share:
            return None
        other = int(self.indices[rng.integers(len(self.indices))])
        if other == index:  # never its own background: pick the next one along
            other = int(self.indices[(int(np.flatnonzero(self.indices == other)[0]) + 1) % len(self.indices)])
        picture, label, _ = self.source.get(other)
        return person_free_background(picture, label, rng, self.size)

    def example(self, index: int, rng: np.random.Generator):
        """One (input HxWxC float32, mask HxW float32, weight HxW float32) example.

        With ``twin`` the input is a pair (image, texture twin), stacked on a new first axis.
        """
        image, mask, ignore = self.source.get(int(index))
        if self.soft_labels is not None:
            # one warp for both: the teacher's channel moves exactly as the mask does
            mask = np.dstack([mask, np.asarray(self.soft_labels[int(index)])])
        twin = None
        background = self.background(int(index))
        if self.augmenter is not None and self.twin:
            # one geometry, two independent texture draws
            matrix = self.augmenter.geometry(rng, self.size, image.shape[:2])
            warped, mask, ignore = warp(image, mask, ignore, matrix, self.size)
            if background is not None:
                warped = self.augmenter.composite_onto(warped, mask, background)
            image, twin = self.augmenter.texture(warped, rng), self.augmenter.texture(warped, rng)
        elif self.augmenter is not None:
            image, mask, ignore = self.augmenter(image, mask, ignore, rng, self.size, background=background)
        else:
            image, mask, ignore = resize_pair(image, mask, ignore, self.size)
            twin = image if self.twin else None
        target = mask.astype(np.float32) / 255.0
        if target.ndim == 3:
            target, teacher = target[..., 0], target[..., 1]
        else:
            teacher = None
        pictures = [image] if twin is None else [image, twin]
        xs = [picture.astype(np.float32) / 255.0 for picture in pictures]
        if self.prior:
            prior = previous_frame_prior(target, rng) if self.augmenter is not None else np.zeros_like(target)
            xs = [np.concatenate([x, prior[..., None]], axis=-1) for x in xs]
        weight = np.ones_like(target) if ignore is None else (~ignore).astype(np.float32)
        if teacher is not None:
            target = (1.0 - self.distill) * target + self.distill * teacher
        return (np.stack(xs) if self.twin else xs[0]), target, weight

    def __getitem__(self, batch: int):
        if batch >= len(self):
            raise IndexError(batch)
        chosen = self._order[batch * self.batch_size : (batch + 1) * self.batch_size]
        padding = -len(chosen) % self.batch_multiple  # validation's last batch, made to split evenly
        rng = np.random.default_rng((self.seed, self.epoch, batch))
        xs, ys, ws = zip(*(self.example(i, rng) for i in chosen))
        x, y, w = np.stack(xs), np.stack(ys)[..., None], np.stack(ws)
        if padding:
            x = np.concatenate([x, np.repeat(x[-1:], padding, axis=0)])
            y = np.concatenate([y, np.repeat(y[-1:], padding, axis=0)])
            w = np.concatenate([w, np.zeros((padding, *w.shape[1:]), w.dtype)])
        index, count = self.shard
        if count > 1:
            part = len(x) // count
            x, y, w = (a[index * part : (index + 1) * part] for a in (x, y, w))
        if self.twin:
            x = {"image": x[:, 0], "twin": x[:, 1]}
        if not self.valid_channel:
            return x, y, w
        y = np.concatenate([y, w[..., None]], axis=-1)
        if self.output_names:
            return x, {name: y for name in self.output_names}
        return x, y


def distill_weight(distill) -> float:
    """The teacher's share of a distilled target, refused outside (0, 1]."""
    if not 0.0 < float(distill) <= 1.0:
        raise DatasetError(f"distillation weight must be in (0, 1], got {distill}.")
    return float(distill)


def split_indices(count: int, validation: float = 0.1, seed: int = 0):
    """Shuffle ``range(count)`` and split off a validation share (model selection, never the test split)."""
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * validation))
    return np.sort(order[cut:]), np.sort(order[:cut])


__all__ = [
    "ArrayCache",
    "SegmentationSequence",
    "build_cache",
    "distill_weight",
    "pack_cache",
    "split_indices",
    "unpack_cache",
]
