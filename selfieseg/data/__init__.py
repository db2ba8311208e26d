"""Datasets: readers for every seed dataset, download helpers, and the training input.

``open_dataset("pfcn", split="test")`` finds the data under ``$SELFIESEG_DATA`` (or a
``root`` you pass) and returns a reader; :func:`download` fetches a dataset by name.
"""

from __future__ import annotations

import os
from pathlib import Path

from selfieseg.data.hub import download, load_manifest
from selfieseg.data.readers import (
    CCP,
    EG1800,
    PFCN,
    AISegment,
    BaiduAug,
    ImageMaskFolder,
    PascalPerson,
    PicsArt,
    Portrait256,
    Portseg128,
    Record,
    Sample,
    SegmentationDataset,
    SuperviselyPerson,
    SuperviselyPortrait,
    UCFSelfie,
    VideoSequence,
)
from selfieseg.data.splits import held_out_splits, refuse_held_out
from selfieseg.errors import DatasetError

#: name -> reader class. Folder names under the data root default to these names.
READERS = {
    cls.name: cls
    for cls in (
        PFCN,
        EG1800,
        PicsArt,
        PascalPerson,
        CCP,
        VideoSequence,
        AISegment,
        SuperviselyPerson,
        SuperviselyPortrait,
        Portrait256,
        Portseg128,
        BaiduAug,
        UCFSelfie,
    )
}


def data_root(root=None) -> Path:
    """The folder that holds the datasets: ``root``, else ``$SELFIESEG_DATA``, else ``~/selfieseg_data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("SELFIESEG_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / "selfieseg_data"


def available(root=None) -> list[str]:
    """Names of the datasets present under the data root."""
    base = data_root(root)
    return [name for name in READERS if (base / name).is_dir()]


def open_dataset(name: str, root=None, **options) -> SegmentationDataset:
    """Open a dataset by name from the data root (``root`` may also be the dataset's own folder).

    ``options`` go to the reader, e.g. ``split="test"`` for PFCN or ``soft=True`` for AISegment.
    """
    if name not in READERS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {sorted(READERS)}.")
    base = data_root(root)
    folder = base / name if (base / name).is_dir() else base
    if not folder.is_dir():
        raise DatasetError(
            f"{base / name}: dataset {name!r} not found. Set SELFIESEG_DATA to the folder that "
            f"holds it, or run selfieseg.data.download({name!r})."
        )
    return READERS[name](folder, **options)


_LAZY = {
    "ArrayCache": "selfieseg.data.pipeline",
    "SegmentationSequence": "selfieseg.data.pipeline",
    "build_cache": "selfieseg.data.pipeline",
    "split_indices": "selfieseg.data.pipeline",
    "Augmenter": "selfieseg.data.augment",
}


def __getattr__(attribute):
    # The training input imports keras (and so TensorFlow): load it only when asked for.
    if attribute in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[attribute]), attribute)
    raise AttributeError(f"module 'selfieseg.data' has no attribute {attribute!r}")


def describe_layout(name: str) -> str:
    """The on-disk layout a reader expects, from the manifest."""
    manifest = load_manifest()
    if name not in manifest:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {sorted(manifest)}.")
    return manifest[name]["layout"]


__all__ = [
    "AISegment",
    "ArrayCache",
    "Augmenter",
    "BaiduAug",
    "CCP",
    "EG1800",
    "ImageMaskFolder",
    "PascalPerson",
    "PFCN",
    "PicsArt",
    "Portrait256",
    "Portseg128",
    "READERS",
    "Record",
    "Sample",
    "SegmentationDataset",
    "SegmentationSequence",
    "SuperviselyPerson",
    "SuperviselyPortrait",
    "UCFSelfie",
    "VideoSequence",
    "available",
    "build_cache",
    "data_root",
    "describe_layout",
    "download",
    "held_out_splits",
    "load_manifest",
    "open_dataset",
    "refuse_held_out",
    "split_indices",
]
