"""One reader per seed dataset, each for the layout its authors published.

Every reader is a sequence of :class:`Sample`: an RGB uint8 image, a uint8 {0, 1}
person mask of the same size (``None`` for unlabelled sets) and an optional boolean
ignore mask (pixels that losses and metrics must skip, such as VOC's void border).
Readers index files when built (cheap) and decode lazily on ``reader[i]``.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from selfieseg.data.splits import select_split
from selfieseg.errors import DatasetError, ImageReadError
from selfieseg.io import IMAGE_SUFFIXES, binarize, check_same_size, open_image, read_image, read_mask

IMAGE_EXTENSIONS = IMAGE_SUFFIXES  # the one list (selfieseg.io), under the name readers have used


@dataclass
class Sample:
    """One training or test example."""

    image: np.ndarray  #: HxWx3 uint8 RGB
    mask: np.ndarray | None  #: HxW uint8 {0,1} (or float32 [0,1] for soft alpha); None if unlabelled
    ignore: np.ndarray | None = None  #: HxW bool, True where the label is unknown
    name: str = ""  #: a short identifier (file stem)
    source: str = ""  #: the image file it came from


@dataclass
class Record:
    """Where one sample lives on disk (paths only; nothing is decoded)."""

    name: str
    image: Path
    mask: Path | None = None
    extra: dict = field(default_factory=dict)


def _require_dir(path: Path, what: str, hint: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} not found. {hint}")
    return path


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _numeric_key(path: Path):
    stem = path.stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


class SegmentationDataset:
    """Base class: a list of :class:`Record` plus a decoder for one record."""

    #: Short name used by :func:`selfieseg.data.open_dataset` and the manifest.
    name = "dataset"
    labelled = True

    def __init__(self, records: list[Record], root: Path, resize_masks: bool = False):
        if not records:
            raise DatasetError(
                f"{root}: no samples found for {type(self).__name__}. "
                "Check that the folder holds the dataset in its published layout "
                "(see selfieseg.data.describe_layout)."
            )
        self.records = records
        self.root = Path(root)
        self.resize_masks = resize_masks
        self.missing: list[str] = []

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def __getitem__(self, index: int) -> Sample:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return self._load(self.records[index])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} samples from {self.root})"

    def subset(self, indices) -> SegmentationDataset:
        """The same reader over some of its samples (``range``, a list, or a slice object)."""
        import copy

        chosen = self.records[indices] if isinstance(indices, slice) else [self.records[int(i)] for i in indices]
        if not chosen:
            raise DatasetError(f"{self!r}: the subset {indices!r} is empty.")
        view = copy.copy(self)
        view.records = chosen
        return view

    # -- helpers for subclasses -------------------------------------------------------
    def _load(self, record: Record) -> Sample:
        image = read_image(record.image)
        mask = binarize(read_mask(record.mask), record.mask)
        mask = self._fit(image, mask, record)
        return Sample(image, mask, None, record.name, str(record.image))

    def _fit(self, image, mask, record: Record):
        """Check (or, if asked, repair) that a mask matches its image's size."""
        if image.shape[:2] == mask.shape[:2]:
            return mask
        if self.resize_masks:
            import cv2  # lazily: importing OpenCV edits LD_LIBRARY_PATH, and importing us must not

            dtype = mask.dtype
            resized = cv2.resize(
                mask.astype(np.uint8) if dtype.kind == "b" else mask,
                (image.shape[1], image.shape[0]),
                interpolation=cv2.INTER_NEAREST,
            )
            return resized.astype(dtype)
        check_same_size(image, mask, record.image, record.mask)
        return mask

    @property
    def image_paths(self) -> list[Path]:
        return [r.image for r in self.records]


def _pair_by_stem(images_dir: Path, masks_dir: Path, mask_suffix: str = "", strict: bool = False):
    """Pair each image with the mask of the same stem (plus ``mask_suffix``)."""
    masks = {}
    for path in _list_images(masks_dir):
        stem = path.stem
        if mask_suffix and stem.endswith(mask_suffix):
            stem = stem[: -len(mask_suffix)]
        masks.setdefault(stem, path)
    records, unmatched = [], []
    for image in sorted(_list_images(images_dir), key=_numeric_key):
        mask = masks.get(image.stem)
        if mask is None:
            unmatched.append(image.name)
            continue
        records.append(Record(image.stem, image, mask))
    if strict and unmatched:
        raise DatasetError(
            f"{images_dir}: {len(unmatched)} images have no mask in {masks_dir} "
            f"(first: {unmatched[0]}). Add the masks or remove those images."
        )
    return records, unmatched


# ------------------------------------------------------------------------------------
# Generic: any folder of image/mask pairs
# ------------------------------------------------------------------------------------
class ImageMaskFolder(SegmentationDataset):
    """Your own data: a folder of images and a folder of masks with the same file stems.

    Masks may be 0/1 or 0/255 (any image format, palette or gray); ``mask_suffix``
    strips a suffix such as ``"_mask"`` from mask stems before pairing. Images without
    a mask are skipped and listed in ``.missing`` (or rejected with ``strict=True``).
    """

    name = "folder"

    def __init__(
        self,
        images,
        masks,
        mask_suffix: str = "",
        strict: bool = False,
        resize_masks: bool = False,
    ):
        images = _require_dir(images, "image folder", "Pass the folder that holds your photos.")
        masks = _require_dir(masks, "mask folder", "Pass the folder that holds your masks.")
        records, unmatched = _pair_by_stem(images, masks, mask_suffix, strict)
        if not records:
            raise DatasetError(
                f"{images}: no image has a matching mask in {masks}. Masks must share the "
                "image's file name (e.g. photo1.jpg <-> photo1.png); use mask_suffix for "
                "names like photo1_mask.png."
            )
        super().__init__(records, images, resize_masks)
        self.missing = unmatched


# ------------------------------------------------------------------------------------
# PFCN / EG1800
# ------------------------------------------------------------------------------------
def _load_mat(path: Path, key: str) -> np.ndarray:
    import scipy.io

    try:
        content = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found.") from None
    except Exception as exc:  # scipy raises several types for broken files
        raise ImageReadError(
            f"{path}: not a readable MATLAB .mat file ({exc}). Re-download it."
        ) from None
    if key not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        raise DatasetError(f"{path}: .mat file has no variable '{key}' (it has {keys}).")
    return np.asarray(content[key])


class PFCN(SegmentationDataset):
    """Shen et al.'s PFCN portraits (EG1800), in the authors' ``.mat`` layout.

    ``root/images_data_crop/NNNNN.jpg``, ``root/images_mask/NNNNN_mask.mat`` (variable
    ``mask``, uint8 0/1) and ``root/trainlist.mat`` / ``root/testlist.mat`` with 1-based
    image numbers. Many of the original Flickr photos are gone, so list numbers whose
    files are absent are skipped and counted in ``.missing``. ``split="all"`` reads
    every image that has a mask; ``split="unlisted"`` the ones in neither list.
    """

    name = "pfcn"

    def __init__(self, root, split: str = "train", resize_masks: bool = False):
        root = _require_dir(
            root, "PFCN folder", "Download it with selfieseg.data.download('pfcn')."
        )
        images_dir = _require_dir(
            root / "images_data_crop", "images_data_crop/ folder", "Is this the PFCN data folder?"
        )
        masks_dir = _require_dir(
            root / "images_mask", "images_mask/ folder", "Is this the PFCN data folder?"
        )
        present = {int(p.stem): p for p in _list_images(images_dir) if p.stem.isdigit()}
        splits = {}
        for which in ("train", "test"):
            path = root / f"{which}list.mat"
            if path.exists():
                splits[which] = [int(n) for n in _load_mat(path, f"{which}list").ravel()]
        if split in ("train", "test"):
            if split not in splits:
                raise DatasetError(
                    f"{root / (split + 'list.mat')}: split list not found. "
                    "Use split='all' or add the official list."
                )
            numbers = splits[split]
        elif split == "all":
            numbers = sorted(present)
        elif split == "unlisted":
            listed = set(splits.get("train", [])) | set(splits.get("test", []))
            numbers = sorted(n for n in present if n not in listed)
        else:
            raise DatasetError(f"unknown PFCN split {split!r}: use train, test, all or unlisted.")
        records, missing = [], []
        for number in numbers:
            image = present.get(number)
            mask = masks_dir / f"{number:05d}_mask.mat"
            if image is None or not mask.exists():
                missing.append(f"{number:05d}")
                continue
            records.append(Record(f"{number:05d}", image, mask))
        super().__init__(records, root, resize_masks)
        self.split = split
        self.missing = missing

    def _load(self, record: Record) -> Sample:
        image = read_image(record.image)
        mask = binarize(_load_mat(record.mask, "mask"), record.mask)
        mask = self._fit(image, mask, record)
        return Sample(image, mask, None, record.name, str(record.image))


class EG1800(SegmentationDataset):
    """EG1800 as PortraitNet redistributes it: ``Images/*.png`` and ``Labels/*.png`` (0/1).

    Optional split files (``eg1800_train.txt`` / ``eg1800_test.txt``, one file name per
    line) select a split when present; otherwise ``split="all"``.
    """

    name = "eg1800"

    def __init__(self, root, split: str = "all", resize_masks: bool = False):
        root = _require_dir(root, "EG1800 folder", "Download it with selfieseg.data.download('eg1800').")
        images = _require_dir(root / "Images", "Images/ folder", "Is this PortraitNet's EG1800 folder?")
        labels = _require_dir(root / "Labels", "Labels/ folder", "Is this PortraitNet's EG1800 folder?")
        records, unmatched = _pair_by_stem(images, labels)
        if split != "all":
            listing = root / f"eg1800_{split}.txt"
            if not listing.exists():
                raise DatasetError(f"{listing}: split file not found; use split='all'.")
            wanted = {Path(line.strip()).stem for line in listing.read_text().splitlines() if line.strip()}
            unmatched += sorted(wanted - {r.name for r in records})
            records = [r for r in records if r.name in wanted]
        super().__init__(records, root, resize_masks)
        self.missing = unmatched


# ------------------------------------------------------------------------------------
# PicsArt selfies, Portrait_256, Supervisely Portrait, Baidu_Aug (folder pairs)
# ------------------------------------------------------------------------------------
class PicsArt(SegmentationDataset):
    """PicsArt AI Hackathon selfies: ``train/N.jpg`` and ``train_mask/N.png`` (0/255)."""

    name = "picsart"

    def __init__(self, root, resize_masks: bool = False):
        root = _require_dir(root, "PicsArt folder", "Download it with selfieseg.data.download('picsart').")
        images = _require_dir(root / "train", "train/ folder", "Is this the PicsArt data folder?")
        masks = _require_dir(root / "train_mask", "train_mask/ folder", "Is this the PicsArt data folder?")
        records, unmatched = _pair_by_stem(images, masks)
        super().__init__(records, root, resize_masks)
        self.missing = unmatched


class _PairedFolders(SegmentationDataset):
    """A dataset published as one or more (image folder, mask folder) pairs."""

    #: candidate (images, masks) sub-folder pairs, tried in order; every one present is read
    layouts: tuple = ()
    mask_suffix = ""

    def __init__(self, root, resize_masks: bool = False):
        root = _require_dir(
            root, f"{self.name} folder", f"Download it with selfieseg.data.download('{self.name}')."
        )
        records, unmatched = [], []
        found = []
        for images_sub, masks_sub in self.layouts:
            images, masks = root / images_sub, root / masks_sub
            if images.is_dir() and masks.is_dir():
                found.append(images_sub)
                pairs, lost = _pair_by_stem(images, masks, self.mask_suffix)
                for record in pairs:
                    record.name = f"{images_sub}/{record.name}"
                records += pairs
                unmatched += lost
        if not found:
            expected = ", ".join(f"{a}/ + {b}/" for a, b in self.layouts)
            raise DatasetError(f"{root}: expected sub-folders {expected}; none were found.")
        super().__init__(records, root, resize_masks)
        self.missing = unmatched


class Portrait256(_PairedFolders):
    """Portrait_256 (seed project): 256x256 portraits, masks 0/255, train and val folders."""

    name = "portrait256"
    layouts = (
        ("train/images", "train/masks"),
        ("val/images", "val/masks"),
        ("images", "masks"),
        ("images_data_crop", "images_mask"),
    )


class SuperviselyPortrait(_PairedFolders):
    """Supervisely Portrait (PortraitNet's crop of Supervisely Person): image/mask folders."""

    name = "supervisely_portrait"
    layouts = (("images", "masks"), ("Images", "Labels"), ("img", "mask"))


class BaiduAug(_PairedFolders):
    """Baidu people segmentation, augmented (seed project's Baidu_Aug): image/mask folders."""

    name = "baidu_aug"
    layouts = (("images", "masks"), ("images", "profiles"), ("Images", "Masks"), ("img", "mask"))


# ------------------------------------------------------------------------------------
# Portseg_128 (numpy arrays)
# ------------------------------------------------------------------------------------
class Portseg128(SegmentationDataset):
    """Portseg_128: ``img_uint8.npy`` (N,128,128,3) and ``msk_uint8.npy`` (N,128,128[,1]).

    The arrays are memory-mapped, so opening the set costs nothing.
    """

    name = "portseg128"

    def __init__(self, root, images_file: str = "img_uint8.npy", masks_file: str = "msk_uint8.npy"):
        root = _require_dir(root, "Portseg_128 folder", "Download it with selfieseg.data.download('portseg128').")
        paths = [root / images_file, root / masks_file]
        for path in paths:
            if not path.exists():
                raise DatasetError(f"{path}: file not found. Portseg_128 needs {images_file} and {masks_file}.")
        try:
            self.images = np.load(paths[0], mmap_mode="r")
            self.masks = np.load(paths[1], mmap_mode="r")
        except (ValueError, OSError, EOFError) as exc:
            raise ImageReadError(f"{root}: cannot read the .npy arrays ({exc}). Re-download them.") from None
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise DatasetError(f"{paths[0]}: expected (N, H, W, 3) images, got {self.images.shape}.")
        masks_shape = self.masks.shape[:3]
        if masks_shape != self.images.shape[:3]:
            raise DatasetError(
                f"{paths[1]}: masks {self.masks.shape} do not match images {self.images.shape}."
            )
        records = [Record(f"{i:05d}", paths[0], paths[1], {"index": i}) for i in range(len(self.images))]
        super().__init__(records, root)

    def _load(self, record: Record) -> Sample:
        index = record.extra["index"]
        image = _to_uint8_rgb(np.asarray(self.images[index]))
        mask = binarize(np.asarray(self.masks[index]))
        return Sample(image, mask, None, record.name, f"{record.image}[{index}]")


def _to_uint8_rgb(array: np.ndarray) -> np.ndarray:
    if array.dtype != np.uint8:
        from selfieseg.io import _to_uint8

        array = _to_uint8(array)
    return np.ascontiguousarray(array)


# ------------------------------------------------------------------------------------
# Pascal VOC person
# ------------------------------------------------------------------------------------
VOC_PERSON = 15
VOC_VOID = 255
_VOC_PERSON_RGB = (192, 128, 128)
_VOC_VOID_RGB = (224, 224, 192)


class PascalPerson(SegmentationDataset):
    """Pascal VOC (or Pascal_Person) with palette class masks: 15 = person, 255 = void.

    Reads ``JPEGImages/*.jpg`` with ``SegmentationClass/*.png`` from the VOC root (or
    from ``VOCdevkit/VOC2012`` below it). Void pixels become the ignore mask.
    ``person_only=True`` keeps only images that contain a person.

    The person set has no official test split, so ``split="test"`` is the committed
    hash-chosen list of :mod:`selfieseg.data.splits` (about 15%), ``split="train"``
    everything else and ``split="all"`` both; listed names absent here are counted in
    ``.missing``. Any other split name (``"val"``, ``"trainval"``) reads VOC's own
    ``ImageSets/Segmentation/<split>.txt``, and ``image_set`` intersects either choice
    with such an official list (``image_set="train"`` for VOC's own train list).
    """

    name = "voc_person"

    def __init__(self, root, split: str = "all", person_only: bool = True, resize_masks: bool = False,
                 image_set: str | None = None):
        root = _require_dir(root, "VOC folder", "Download it with selfieseg.data.download('voc_person').")
        for candidate in (root, root / "VOCdevkit" / "VOC2012", root / "VOC2012"):
            if (candidate / "JPEGImages").is_dir():
                root = candidate
                break
        images = _require_dir(root / "JPEGImages", "JPEGImages/ folder", "Is this a Pascal VOC root?")
        masks = _require_dir(
            root / "SegmentationClass", "SegmentationClass/ folder", "Is this a Pascal VOC root?"
        )
        records, _ = _pair_by_stem(images, masks)  # VOC has far more JPEGs than masks
        missing = []
        if split in ("all", "train", "test"):
            records, missing = select_split(records, self.name, split)
        else:
            records = self._official(root, split, records)
        if image_set is not None:
            records = self._official(root, image_set, records)
        super().__init__(records, root, resize_masks)
        self.split = split
        self.missing = missing
        self.person_only = person_only
        if person_only:
            self.records = [r for r in self.records if self._has_person(r)]
            if not self.records:
                raise DatasetError(
                    f"{root}: no mask in SegmentationClass/ contains the person class "
                    f"({VOC_PERSON}). Is the palette VOC's? Pass person_only=False to read anyway."
                )

    @staticmethod
    def _official(root: Path, image_set: str, records: list[Record]) -> list[Record]:
        """The records named in VOC's own ``ImageSets/Segmentation/<image_set>.txt``."""
        listing = root / "ImageSets" / "Segmentation" / f"{image_set}.txt"
        if not listing.exists():
            raise DatasetError(
                f"{listing}: split file not found; use split='all', 'train' or 'test' "
                "(the committed held-out list)."
            )
        wanted = {line.strip() for line in listing.read_text().splitlines() if line.strip()}
        return [r for r in records if r.name in wanted]

    @staticmethod
    def _person_and_void(path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Decode a VOC class mask, palette-indexed or colour-coded, to (person, void)."""
        opened = open_image(path)
        if opened.mode == "P":
            classes = np.asarray(opened)
            return classes == VOC_PERSON, classes == VOC_VOID
        rgb = np.asarray(opened.convert("RGB"))
        return (rgb == _VOC_PERSON_RGB).all(axis=-1), (rgb == _VOC_VOID_RGB).all(axis=-1)

    def _has_person(self, record: Record) -> bool:
        try:
            return bool(self._person_and_void(record.mask)[0].any())
        except ImageReadError:
            return True  # the error surfaces, naming the file, when the sample is read

    def _load(self, record: Record) -> Sample:
        image = read_image(record.image, exif=False)
        person, void = self._person_and_void(record.mask)
        mask = self._fit(image, person.astype(np.uint8), record)
        ignore = self._fit(image, void, record)
        return Sample(image, mask, ignore, record.name, str(record.image))


# ------------------------------------------------------------------------------------
# Clothing Co-Parsing (full-body street fashion)
# ------------------------------------------------------------------------------------
def _label_names(path: Path) -> list[str]:
    """The names in a MATLAB cell array of strings (``label_list.mat``), in label order."""
    names = []
    for cell in _load_mat(path, "label_list").ravel():
        cell = np.asarray(cell).ravel()
        names.append(str(cell[0]).strip() if cell.size else "")
    return names


class CCP(SegmentationDataset):
    """Clothing Co-Parsing (Yang et al.): full-body street photos with pixel-level clothing labels.

    ``root/photos/NNNN.jpg``, ``root/annotations/pixel-level/NNNN.mat`` (variable
    ``groundtruth``, uint8 labels 0-58) and ``root/label_list.mat`` (variable
    ``label_list``, the 59 label names, ``null`` first). Every label but ``null`` is part
    of the person, so the person mask is ``label > 0``: whole standing bodies, feet
    included, which portrait sets never show. Upstream labels only the first 1,004 of
    its roughly 2,100 photos at pixel level (the rest carry image-level tags), so a photo is a
    sample only when it has a pixel-level annotation; an annotation whose photo is
    absent is skipped and listed in ``.missing`` (``strict=True`` refuses it instead).
    Photos are 550 pixels wide and about 800 to 870 high. One upstream annotation (0536)
    labels no pixel at all although its photo shows a person; such a sample keeps its
    place but comes with an all-true ignore mask, so that losses and metrics skip it.

    The clothing parts themselves stay reachable for exercises: :meth:`parts` gives one
    sample's label map and :attr:`label_names` the name of each label (``None`` when
    ``label_list.mat`` is absent). ``split`` picks the committed hash-chosen test list of
    :mod:`selfieseg.data.splits` (``"test"``, about 15%), the rest (``"train"``) or both
    (``"all"``), since the set has no official split.
    """

    name = "ccp"

    def __init__(self, root, split: str = "all", strict: bool = False, resize_masks: bool = False):
        root = _require_dir(root, "CCP folder", "Download it with selfieseg.data.download('ccp').")
        for candidate in (root, root / "clothing-co-parsing"):
            if (candidate / "photos").is_dir():
                root = candidate
                break
        photos_dir = _require_dir(root / "photos", "photos/ folder", "Is this the clothing-co-parsing folder?")
        labels_dir = _require_dir(
            root / "annotations" / "pixel-level",
            "annotations/pixel-level/ folder",
            "Is this the clothing-co-parsing folder?",
        )
        photos = {p.stem: p for p in _list_images(photos_dir)}
        annotations = sorted(
            (p for p in labels_dir.iterdir() if p.suffix.lower() == ".mat" and p.is_file()), key=_numeric_key
        )
        records, orphans = [], []
        for annotation in annotations:
            photo = photos.get(annotation.stem)
            if photo is None:
                orphans.append(annotation.name)
                continue
            records.append(Record(annotation.stem, photo, annotation))
        if strict and orphans:
            raise DatasetError(
                f"{labels_dir}: {len(orphans)} annotations have no photo in {photos_dir} "
                f"(first: {orphans[0]}). Restore the photos or remove those annotations."
            )
        if not records:
            raise DatasetError(
                f"{root}: no photo in photos/ has a pixel-level annotation in annotations/pixel-level/ "
                "(NNNN.jpg <-> NNNN.mat). Is this the clothing-co-parsing folder?"
            )
        records, listed_missing = select_split(records, self.name, split)
        super().__init__(records, root, resize_masks)
        self.split = split
        self.missing = orphans + listed_missing
        label_list = root / "label_list.mat"
        self.label_names = _label_names(label_list) if label_list.exists() else None

    def _labels(self, record: Record) -> np.ndarray:
        labels = _load_mat(record.mask, "groundtruth")
        if labels.ndim != 2:
            raise ImageReadError(f"{record.mask}: 'groundtruth' has shape {labels.shape}, expected HxW labels.")
        if self.label_names and labels.size and int(labels.max()) >= len(self.label_names):
            raise DatasetError(
                f"{record.mask}: label {int(labels.max())} is beyond the {len(self.label_names)} "
                "names of label_list.mat. Re-download the annotations."
            )
        return labels.astype(np.uint8)

    def parts(self, index: int) -> np.ndarray:
        """The clothing label map (HxW uint8, indices into :attr:`label_names`) of sample ``index``.

        Checked against (or, with ``resize_masks``, resized to) its photo like the person mask.
        """
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        record = self.records[index]
        return self._fit(read_image(record.image), self._labels(record), record)

    def _load(self, record: Record) -> Sample:
        image = read_image(record.image)
        mask = self._fit(image, (self._labels(record) > 0).astype(np.uint8), record)
        # Every CCP photo shows a person, so an annotation without one labelled pixel (upstream's
        # 0536) was never drawn, not drawn empty: the whole image is ignored rather than taught
        # as background.
        ignore = np.ones(mask.shape, bool) if not mask.any() else None
        return Sample(image, mask, ignore, record.name, str(record.image))


# ------------------------------------------------------------------------------------
# DAVIS video (one labelled sequence)
# ------------------------------------------------------------------------------------
class VideoSequence(SegmentationDataset):
    """One DAVIS sequence: its frames in order, each with the main subject's mask.

    ``root/JPEGImages/<resolution>/<sequence>/NNNNN.jpg`` with
    ``root/Annotations/<resolution>/<sequence>/NNNNN.png`` (mode L, 0/255). Frames come in
    numeric order, so neighbours in the reader are neighbours in time. Every frame must
    have its mask: a gap would make frame-to-frame measures (flicker, temporal
    consistency) silently compare frames that are not adjacent, so a frame without one
    is an error naming the frame file, raised when the reader is built. DAVIS labels the
    main subject only, and it is for evaluation, never for training.
    """

    name = "davis"

    def __init__(self, root, sequence: str = "parkour", resolution: str = "480p", resize_masks: bool = False):
        root = _require_dir(root, "DAVIS folder", "Download it with selfieseg.data.download('davis').")
        for candidate in (root, root / "DAVIS"):
            if (candidate / "JPEGImages").is_dir():
                root = candidate
                break
        images_root = _require_dir(root / "JPEGImages", "JPEGImages/ folder", "Is this a DAVIS folder?")
        resolutions = sorted(p.name for p in images_root.iterdir() if p.is_dir())
        if resolution not in resolutions:
            raise DatasetError(
                f"{images_root / resolution}: resolution {resolution!r} not found; this DAVIS folder has {resolutions}."
            )
        sequences = sorted(p.name for p in (images_root / resolution).iterdir() if p.is_dir())
        if sequence not in sequences:
            raise DatasetError(
                f"{images_root / resolution / sequence}: sequence {sequence!r} not found; "
                f"the sequences here are {sequences}."
            )
        frames_dir = images_root / resolution / sequence
        masks_dir = _require_dir(
            root / "Annotations" / resolution / sequence,
            f"Annotations/{resolution}/{sequence}/ folder",
            "Every DAVIS sequence needs its annotation folder.",
        )
        records = []
        for frame in sorted(_list_images(frames_dir), key=_numeric_key):
            mask = masks_dir / f"{frame.stem}.png"
            if not mask.is_file():
                raise DatasetError(
                    f"{frame}: frame has no mask {mask.name} in {masks_dir}. A video reader needs every "
                    "frame labelled, so that neighbouring samples are neighbouring frames."
                )
            records.append(Record(f"{sequence}/{frame.stem}", frame, mask))
        super().__init__(records, root, resize_masks)
        self.sequence = sequence
        self.resolution = resolution
        self.sequences = sequences

    def frames(self) -> np.ndarray:
        """Every frame, in order, as one ``(N, H, W, 3)`` uint8 array (what a video model consumes)."""
        return np.stack([read_image(r.image) for r in self.records])

    def masks(self) -> np.ndarray:
        """Every frame's mask, in order, as one ``(N, H, W)`` uint8 {0, 1} array."""
        return np.stack([sample.mask for sample in self])


# ------------------------------------------------------------------------------------
# AISegment matting_human_half
# ------------------------------------------------------------------------------------
class AISegment(SegmentationDataset):
    """AISegment.com matting (``matting_human_half``): RGBA mattes, alpha -> person mask.

    ``clip_img/<id>/clip_<seq>/<name>.jpg`` pairs with
    ``matting/<id>/matting_<seq>/<name>.png``. With ``soft=True`` the mask is the alpha
    in [0, 1] (float32) instead of a 0/1 threshold at 50%.
    """

    name = "aisegment"

    def __init__(self, root, soft: bool = False, resize_masks: bool = False):
        root = _require_dir(root, "AISegment folder", "Download it with selfieseg.data.download('aisegment').")
        for candidate in (root, root / "matting_human_half"):
            if (candidate / "clip_img").is_dir():
                root = candidate
                break
        clips = _require_dir(root / "clip_img", "clip_img/ folder", "Is this matting_human_half?")
        mattes = _require_dir(root / "matting", "matting/ folder", "Is this matting_human_half?")
        records, unmatched = [], []
        for image in sorted(clips.glob("*/clip_*/*")):
            if image.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            clip_dir = image.parent
            matte_dir = mattes / clip_dir.parent.name / clip_dir.name.replace("clip_", "matting_", 1)
            matte = matte_dir / f"{image.stem}.png"
            if matte.exists():
                records.append(Record(f"{clip_dir.parent.name}/{image.stem}", image, matte))
            else:
                unmatched.append(str(image.relative_to(root)))
        super().__init__(records, root, resize_masks)
        self.soft = soft
        self.missing = unmatched

    def _load(self, record: Record) -> Sample:
        image = read_image(record.image)
        opened = open_image(record.mask)
        if opened.mode not in ("RGBA", "LA"):
            raise ImageReadError(
                f"{record.mask}: expected an RGBA matte (alpha = person), got mode {opened.mode}."
            )
        alpha = read_mask(record.mask)
        mask = alpha.astype(np.float32) / 255.0 if self.soft else (alpha >= 128).astype(np.uint8)
        mask = self._fit(image, mask, record)
        return Sample(image, mask, None, record.name, str(record.image))


# ------------------------------------------------------------------------------------
# Supervisely Person
# ------------------------------------------------------------------------------------
PERSON_CLASSES = ("person_poly", "person_bmp", "person")
NEUTRAL_CLASSES = ("neutral",)


def decode_supervisely_bitmap(data: str) -> np.ndarray:
    """Decode a Supervisely ``bitmap.data`` string (base64 of zlib of a PNG) to a bool mask."""
    try:
        png = zlib.decompress(base64.b64decode(data))
        image = Image.open(BytesIO(png))
        image.load()
    except Exception as exc:
        raise ImageReadError(f"Supervisely bitmap cannot be decoded ({exc}).") from None
    array = np.asarray(image)
    if array.ndim == 3:
        array = array[..., 3] if array.shape[2] == 4 else array.max(axis=2)
    return array > 0


def rasterize_supervisely(annotation: dict, path=None) -> tuple[np.ndarray, np.ndarray]:
    """Turn one Supervisely annotation dict into (person uint8 mask, neutral bool mask)."""
    import cv2  # lazily, see SegmentationDataset._fit

    try:
        height, width = int(annotation["size"]["height"]), int(annotation["size"]["width"])
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{path}: annotation has no size.height / size.width.") from None
    person = np.zeros((height, width), np.uint8)
    neutral = np.zeros((height, width), np.uint8)
    for obj in annotation.get("objects", []):
        title = obj.get("classTitle", "")
        if title in PERSON_CLASSES:
            target = person
        elif title in NEUTRAL_CLASSES:
            target = neutral
        else:
            continue
        geometry = obj.get("geometryType")
        if geometry == "polygon" or "points" in obj and geometry != "bitmap":
            points = obj.get("points", {})
            exterior = np.asarray(points.get("exterior", []), np.float64)
            if len(exterior) < 3:
                continue
            layer = np.zeros_like(target)
            cv2.fillPoly(layer, [np.round(exterior).astype(np.int32)], 1)
            for hole in points.get("interior", []):
                hole = np.asarray(hole, np.float64)
                if len(hole) >= 3:
                    cv2.fillPoly(layer, [np.round(hole).astype(np.int32)], 0)
            target |= layer
        elif geometry == "bitmap" or "bitmap" in obj:
            bitmap = obj["bitmap"]
            patch = decode_supervisely_bitmap(bitmap["data"])
            x, y = (int(v) for v in bitmap["origin"])
            y1, x1 = min(height, y + patch.shape[0]), min(width, x + patch.shape[1])
            if y1 > y and x1 > x:
                target[y:y1, x:x1] |= patch[: y1 - y, : x1 - x].astype(np.uint8)
    return person, neutral.astype(bool) & (person == 0)


class SuperviselyPerson(SegmentationDataset):
    """Supervisely Person: ``meta.json`` and ``<ds>/img/<name>`` + ``<ds>/ann/<name>.json``.

    Person objects are polygons with holes (``person_poly``) or bitmaps
    (``person_bmp``, base64 zlib PNG placed at ``bitmap.origin``); ``neutral`` regions
    become the ignore mask.
    """

    name = "supervisely_person"

    def __init__(self, root, resize_masks: bool = False):
        root = _require_dir(
            root, "Supervisely Person folder", "Download it with selfieseg.data.download('supervisely_person')."
        )
        if not (root / "meta.json").exists():
            raise DatasetError(f"{root / 'meta.json'}: not found. Is this a Supervisely project folder?")
        records, unmatched = [], []
        for dataset in sorted(p for p in root.iterdir() if (p / "img").is_dir()):
            for image in _list_images(dataset / "img"):
                ann = dataset / "ann" / f"{image.name}.json"
                if ann.exists():
                    records.append(Record(f"{dataset.name}/{image.stem}", image, ann))
                else:
                    unmatched.append(f"{dataset.name}/{image.name}")
        super().__init__(records, root, resize_masks)
        self.missing = unmatched

    def _load(self, record: Record) -> Sample:
        image = read_image(record.image, exif=False)
        try:
            annotation = json.loads(record.mask.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{record.mask}: not valid JSON ({exc}). Re-download it.") from None
        try:
            mask, ignore = rasterize_supervisely(annotation, record.mask)
        except ImageReadError as exc:
            raise ImageReadError(f"{record.mask}: {exc}") from None
        mask = self._fit(image, mask, record)
        ignore = self._fit(image, ignore, record)
        return Sample(image, mask, ignore if ignore.any() else None, record.name, str(record.image))


# ------------------------------------------------------------------------------------
# UCF Selfie (no masks)
# ------------------------------------------------------------------------------------
class UCFSelfie(SegmentationDataset):
    """UCF Selfie: 46,836 selfies with attribute labels but **no masks**.

    Useful for demos, qualitative galleries and pseudo-labelling; ``Sample.mask`` is
    ``None``. Reads ``images/*.jpg`` (or the folder itself).
    """

    name = "ucf_selfie"
    labelled = False

    def __init__(self, root):
        root = _require_dir(root, "UCF Selfie folder", "Download it with selfieseg.data.download('ucf_selfie').")
        for candidate in (root / "Selfie-dataset" / "images", root / "images", root):
            if candidate.is_dir() and _list_images(candidate):
                records = [Record(p.stem, p) for p in _list_images(candidate)]
                break
        else:
            records = []
        super().__init__(records, root)

    def _load(self, record: Record) -> Sample:
        return Sample(read_image(record.image), None, None, record.name, str(record.image))
