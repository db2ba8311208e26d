"""Held-out test splits for the sets published without one, and the guard that keeps them out of training.

PFCN ships an official test list, so its benchmark is fixed by its authors. Pascal VOC
person (as PINTO0309 repackaged it) and Clothing Co-Parsing ship none, and a test split
that is chosen afresh by a seeded shuffle changes whenever the set gains or loses a
file, or whenever someone changes the seed. Here a sample is held out by a rule on its
name alone: the first eight bytes of ``sha256(name)`` (the file stem, UTF-8), read as a
big-endian integer, below :data:`HELD_OUT_FRACTION` of ``2**64``. The rule needs no
state and gives the same answer on every machine and Python version (unlike
:func:`hash`, which is salted per process), and adding or removing other files never
moves a sample across the line.

The rule was applied once to the real data and its result committed as one list per set
in ``selfieseg/data/splits/<set>_test.txt``; the readers read those lists (they ship in
the wheel), so the split is a fixed, reviewable record even if the rule were ever
changed. A test checks that each committed list still equals what the rule gives.

:func:`held_out_splits` is the training side: it turns the dataset names a training run
receives into reader options for their training portion, and refuses every test split
(and DAVIS, which is for evaluation only) before anything is read or cached.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from selfieseg.errors import DatasetError

#: share of each set held out for testing
HELD_OUT_FRACTION = 0.15
#: sets whose test split is defined by this module (name -> reader name)
HELD_OUT_SETS = ("voc_person", "ccp")
#: where the committed lists live, inside the package so that an installed wheel has them
SPLITS_DIR = Path(__file__).resolve().parent / "splits"

#: reader options for the training portion of each set that has a test split
TRAINING_OPTIONS = {
    "pfcn": {"split": "train"},
    "voc_person": {"split": "train"},
    "ccp": {"split": "train"},
}
#: splits a training run may name explicitly ("pfcn:unlisted" holds images in neither official list)
TRAINABLE_SPLITS = {"pfcn": ("train", "unlisted"), "voc_person": ("train",), "ccp": ("train",)}
#: sets that are never trained on, with the reason given to whoever asks
EVALUATION_ONLY = {
    "davis": "DAVIS is for evaluation only: it measures video stability and accuracy on a real clip "
    "and labels only the main subject, so it is never trained on.",
}


def is_held_out(name: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    """Whether the sample called ``name`` (a file stem) belongs to the test split.

    The decision depends on the name alone, so it is the same on every machine and for
    every copy of a set that names its files the same way.
    """
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"held-out fraction must be between 0 and 1, got {fraction!r}.")
    digest = hashlib.sha256(str(name).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def hash_split(names, fraction: float = HELD_OUT_FRACTION) -> list[str]:
    """The names the rule holds out, sorted (duplicates dropped)."""
    return sorted({str(n) for n in names if is_held_out(n, fraction)})


def split_list_path(dataset: str) -> Path:
    """The committed test list of ``dataset`` (``voc_person`` or ``ccp``)."""
    if dataset not in HELD_OUT_SETS:
        raise DatasetError(
            f"{dataset!r} has no hash-defined test split; the sets with one are {list(HELD_OUT_SETS)}."
        )
    return SPLITS_DIR / f"{dataset}_test.txt"


def held_out_names(dataset: str) -> frozenset[str]:
    """The names in the committed test list of ``dataset`` (comment lines skipped)."""
    path = split_list_path(dataset)
    if not path.is_file():
        raise DatasetError(
            f"{path}: the committed test list of {dataset!r} is missing. Reinstall selfieseg, "
            "or regenerate it with selfieseg.data.splits.write_split_lists()."
        )
    lines = (line.strip() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def select_split(records, dataset: str, split: str):
    """Keep the records of ``split`` ("test", "train" or "all") by the committed list.

    Returns ``(records, missing)``: ``missing`` names the listed test samples that are
    absent from this copy, so a reader can report them the way PFCN reports photos gone
    from Flickr. A copy whose files are named differently (the full VOC2012 download uses
    ``2007_000032`` where PINTO0309's copy uses ``000032``) matches none of the list, and
    is told so instead of silently getting an empty or complete test split.
    """
    if split == "all":
        return list(records), []
    if split not in ("train", "test"):
        raise DatasetError(f"unknown {dataset} split {split!r}: use 'train', 'test' or 'all'.")
    listed = held_out_names(dataset)
    present = {r.name for r in records}
    if not (listed & present) and hash_split(present):  # the rule picks some, the list none: other names
        raise DatasetError(
            f"none of the {len(listed)} names in {split_list_path(dataset)} are in this copy of "
            f"{dataset} (its first sample is {records[0].name!r}): the committed test split names the "
            "files of the copy in the manifest. Use split='all', or hold out your own names with "
            "selfieseg.data.splits.hash_split()."
        )
    keep = [r for r in records if (r.name in listed) == (split == "test")]
    missing = sorted(listed - present) if split == "test" else []
    return keep, missing


def _names_on_disk(dataset: str, root=None) -> list[str]:
    from selfieseg.data import open_dataset

    return [r.name for r in open_dataset(dataset, root, split="all").records]


def write_split_lists(root=None, datasets=HELD_OUT_SETS, folder=None) -> dict[str, Path]:
    """Apply the rule to the real data under ``root`` (or ``$SELFIESEG_DATA``) and write the lists.

    Run once, by a maintainer, when a set is added; the files it writes are committed and
    are what the readers use from then on. ``folder`` defaults to the package's
    ``splits/`` folder. Returns ``{dataset: path written}``.
    """
    folder = Path(folder) if folder is not None else SPLITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for dataset in datasets:
        split_list_path(dataset)  # refuses a set without a hash-defined split
        names = _names_on_disk(dataset, root)
        held = hash_split(names)
        header = (
            f"# {dataset} held-out test split: {len(held)} of {len(names)} samples, those whose name has\n"
            f"# int(sha256(name)[:8], big-endian) < {HELD_OUT_FRACTION} * 2**64 "
            "(selfieseg.data.splits.is_held_out).\n"
            "# Written by selfieseg.data.splits.write_split_lists; do not edit by hand.\n"
        )
        path = folder / f"{dataset}_test.txt"
        path.write_text(header + "".join(f"{name}\n" for name in held))
        written[dataset] = path
    return written


def _parse(name: str) -> tuple[str, str | None]:
    text = str(name).strip()
    if text == "pfcn_test":  # the benchmark's older spelling
        return "pfcn", "test"
    base, sep, split = text.partition(":")
    return base, (split if sep else None)


def held_out_splits(names) -> list[tuple[str, dict]]:
    """The reader options for the training portion of each named dataset, in order.

    ``names`` are what a training run receives: ``"pfcn"``, ``"voc_person"``, or a name
    with an explicit split such as ``"pfcn:train"``. Returns ``[(reader name, options)]``,
    e.g. ``[("pfcn", {"split": "train"}), ("picsart", {})]``, ready for
    :func:`selfieseg.data.open_dataset`. A test split (``"pfcn:test"``, ``"pfcn_test"``,
    ``"voc_person:test"``, ``"ccp:test"``), a whole set that includes one
    (``"ccp:all"``) and an evaluation-only set (``"davis"``) raise :class:`DatasetError`
    naming what was refused, before anything is read or cached: a model that has seen
    its test images reports a score that means nothing.
    """
    if isinstance(names, str):
        names = [names]
    portions = []
    for name in names:
        base, split = _parse(name)
        if base in EVALUATION_ONLY:
            raise DatasetError(f"{name!r}: {EVALUATION_ONLY[base]}")
        if split == "test":
            raise DatasetError(
                f"{name!r}: the {base} test split is held out for evaluation and is never trained on. "
                f"Train on {base!r} (its training portion) instead."
            )
        if split is None:
            portions.append((base, dict(TRAINING_OPTIONS.get(base, {}))))
            continue
        allowed = TRAINABLE_SPLITS.get(base, ())
        if split not in allowed:
            if split == "all" and base in TRAINING_OPTIONS:
                reason = f"the whole of {base} includes its held-out test split"
            elif allowed:
                reason = f"the splits of {base} a run may train on are {list(allowed)}"
            else:
                reason = f"{base} has no splits; name it without one"
            raise DatasetError(f"{name!r}: split {split!r} cannot be trained on: {reason}.")
        portions.append((base, {"split": split}))
    return portions


def refuse_held_out(names) -> None:
    """Raise :class:`DatasetError` if ``names`` ask for any test split or evaluation-only set."""
    held_out_splits(names)


__all__ = [
    "EVALUATION_ONLY",
    "HELD_OUT_FRACTION",
    "HELD_OUT_SETS",
    "SPLITS_DIR",
    "TRAINABLE_SPLITS",
    "TRAINING_OPTIONS",
    "hash_split",
    "held_out_names",
    "held_out_splits",
    "is_held_out",
    "refuse_held_out",
    "select_split",
    "split_list_path",
    "write_split_lists",
]
